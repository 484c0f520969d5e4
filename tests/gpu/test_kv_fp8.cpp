// The fp8 paged KV on the device against the twin: appends (a prefill that starts mid-page, decode steps of
// one token whose values sometimes grow so that a page's scale rises and its earlier entries are
// re-encoded, a second chunk across several pages) bit-exact in codes and scales, the gather to bf16
// bit-exact, and split-K decode attention against the twin's double-precision attention, for Scout's head
// shape (40 query heads on 8 KV heads, d 128) and the tiny model's (4 on 2, d 32), with sequences of
// different lengths in one batch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/kernels/kv_fp8.cuh"
#include "quire/inference/cuda/twins/kv_fp8.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;

namespace {

struct DevCache {
    DevArray<std::uint8_t> k, v;
    DevArray<float> ks, vs;
    qc::Fp8KvCache c;
    explicit DevCache(const tw::Fp8KvHost& h) : k(h.k), v(h.v), ks(h.kScales), vs(h.vScales)
    {
        c = {k.get(), v.get(), ks.get(), vs.get(), h.pageSize, h.numKvHeads, h.headDim};
    }
    bool same(const tw::Fp8KvHost& h) const
    {
        return k.download() == h.k && v.download() == h.v && ks.download() == h.kScales &&
               vs.download() == h.vScales;
    }
};

std::vector<std::int32_t> shuffledPages(Rng& rng, int n)
{
    std::vector<std::int32_t> t(static_cast<std::size_t>(n));
    std::iota(t.begin(), t.end(), 0);
    std::shuffle(t.begin(), t.end(), rng.engine());
    return t;
}

} // namespace

GPU_TEST(kvFp8AppendAndGatherMatchTwin)
{
    Rng rng(100);
    const int G = 8, D = 128, ps = 64, pages = 12;
    tw::Fp8KvHost h;
    h.allocate(pages, ps, G, D);
    DevCache d(h);
    const auto table = shuffledPages(rng, pages);
    DevArray<std::int32_t> dtable(table);
    const int total = pages * ps - 5;
    std::vector<std::uint16_t> k(static_cast<std::size_t>(total) * G * D), v(k.size());
    for (std::size_t i = 0; i < k.size(); ++i) {
        const std::size_t t = i / (G * D);
        const float grow = (t % 7 == 3) ? 8.0f : 1.0f; // some tokens are much larger than their page so far
        k[i] = qc::floatToBf16(rng.normal(grow));
        v[i] = qc::floatToBf16(rng.normal(0.5f * grow));
    }
    DevArray<std::uint16_t> dk(k), dv(v);
    const auto append = [&](int start, int tokens) {
        tw::kvFp8Append(h, table.data(), start, tokens, k.data() + static_cast<std::size_t>(start) * G * D,
                        G * D, v.data() + static_cast<std::size_t>(start) * G * D, G * D);
        cudaCheck(qc::launchKvFp8Append(d.c, dtable.get(), start, tokens,
                                        dk.get() + static_cast<std::size_t>(start) * G * D, G * D,
                                        dv.get() + static_cast<std::size_t>(start) * G * D, G * D, nullptr),
                  "append");
    };
    append(0, 37); // ends mid-page
    GPU_CHECK_MSG(d.same(h), "after the first chunk");
    append(37, 150); // starts mid-page, crosses pages
    GPU_CHECK_MSG(d.same(h), "after the second chunk");
    for (int t = 187; t < 230; ++t)
        append(t, 1);
    GPU_CHECK_MSG(d.same(h), "after decode steps");
    append(230, total - 230);
    GPU_CHECK_MSG(d.same(h), "after the last chunk");

    std::vector<std::uint16_t> kRef(k.size()), vRef(v.size());
    tw::kvFp8Gather(h, table.data(), total, kRef.data(), vRef.data());
    DevArray<std::uint16_t> kOut(k.size()), vOut(v.size());
    cudaCheck(qc::launchKvFp8Gather(d.c, dtable.get(), total, kOut.get(), vOut.get(), nullptr), "gather");
    GPU_CHECK(kOut.download() == kRef && vOut.download() == vRef);
    // And the round trip keeps values to e4m3's precision.
    GPU_CHECK(relError(toFloat(kRef), toFloat(k)) < 0.05);
}

GPU_TEST(kvFp8DecodeAttentionMatchesTwin)
{
    Rng rng(101);
    struct Shape {
        int hq, g, d, ps;
        std::vector<int> lens;
    };
    for (const Shape& s : {Shape{40, 8, 128, 128, {1, 1000, 257}}, Shape{4, 2, 32, 16, {80, 3}}}) {
        const int batch = static_cast<int>(s.lens.size());
        const int maxLen = *std::max_element(s.lens.begin(), s.lens.end());
        const int maxPages = (maxLen + s.ps - 1) / s.ps, pages = maxPages * batch;
        tw::Fp8KvHost h;
        h.allocate(pages, s.ps, s.g, s.d);
        const auto perm = shuffledPages(rng, pages);
        std::vector<std::int32_t> table(perm.begin(), perm.end()); // [batch][maxPages]
        for (int b = 0; b < batch; ++b) {
            const int len = s.lens[static_cast<std::size_t>(b)];
            const auto k = rng.bf16(static_cast<std::size_t>(len) * s.g * s.d);
            const auto v = rng.bf16(static_cast<std::size_t>(len) * s.g * s.d);
            tw::kvFp8Append(h, table.data() + static_cast<std::size_t>(b) * maxPages, 0, len, k.data(),
                            s.g * s.d, v.data(), s.g * s.d);
        }
        DevCache d(h); // the twin's pages, uploaded (appends are checked above)
        DevArray<std::int32_t> dtable(table), dlens(std::vector<std::int32_t>(s.lens.begin(), s.lens.end()));
        const auto q = rng.bf16(static_cast<std::size_t>(batch) * s.hq * s.d);
        DevArray<std::uint16_t> dq(q), dout(q.size());
        DevArray<std::uint8_t> ws(qc::fp8DecodeWorkspaceBytes(batch, s.hq, s.d, maxLen));
        qc::Fp8DecodeAttention a;
        a.q = dq.get();
        a.cache = d.c;
        a.pageTable = dtable.get();
        a.seqLens = dlens.get();
        a.out = dout.get();
        a.batch = batch;
        a.numQHeads = s.hq;
        a.maxPagesPerSeq = maxPages;
        a.maxSeqLen = maxLen;
        a.scale = 1.0f / std::sqrt(static_cast<float>(s.d));
        a.workspace = reinterpret_cast<float*>(ws.get());
        cudaCheck(qc::launchAttentionDecodeFp8(a, nullptr), "decode fp8");
        const auto got = toFloat(dout.download());
        for (int b = 0; b < batch; ++b) {
            std::vector<float> ref(static_cast<std::size_t>(s.hq) * s.d);
            tw::attentionDecodeFp8(h, table.data() + static_cast<std::size_t>(b) * maxPages, s.lens[b],
                                   q.data() + static_cast<std::size_t>(b) * s.hq * s.d, s.hq, a.scale,
                                   ref.data());
            const std::vector<float> mine(got.begin() + static_cast<long>(b) * s.hq * s.d,
                                          got.begin() + static_cast<long>(b + 1) * s.hq * s.d);
            const double err = relError(mine, ref);
            std::printf("    fp8 decode d=%d group=%d page=%d len=%d: rel error vs twin %.2e\n", s.d, s.hq / s.g, s.ps,
                        s.lens[b], err);
            GPU_CHECK_MSG(err < 5e-3, "d " << s.d << ", sequence " << b << " of " << s.lens[b]
                                           << " tokens: rel error " << err);
        }
    }
}
