// Parity of the attention kernels with their CPU twins (and, for prefill, with the naive double
// precision softmax(QK^T)V): causal and chunked-local masks, GQA, head dims 64 and 128, ragged sizes,
// fused-QKV strides, paged KV in shuffled pages, several split sizes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/device.h"
#include "quire/inference/cuda/kernels/attention_decode.cuh"
#include "quire/inference/cuda/kernels/attention_naive.cuh"
#include "quire/inference/cuda/kernels/attention_prefill.cuh"
#include "quire/inference/cuda/twins/attention.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;

namespace {

struct PrefillCase {
    int headDim, numQHeads, numKvHeads, lq, lkv, qPosOffset, chunkSize;
    bool fused; // q, k, v interleaved in one [token][q heads | k heads | v heads] buffer
};

// Returns an empty string when the kernel matches; else what went wrong.
std::string runPrefill(const PrefillCase& c, Rng& rng)
{
    const int d = c.headDim;
    qc::PrefillAttention a;
    a.lq = c.lq;
    a.lkv = c.lkv;
    a.qPosOffset = c.qPosOffset;
    a.numQHeads = c.numQHeads;
    a.numKvHeads = c.numKvHeads;
    a.headDim = d;
    a.chunkSize = c.chunkSize;
    a.scale = 1.0f / std::sqrt(static_cast<float>(d));
    std::vector<std::uint16_t> q, k, v;
    long long qOff = 0, kOff = 0, vOff = 0;
    if (c.fused) { // one buffer holding lkv rows; the queries are its last lq rows
        const long long row = static_cast<long long>(c.numQHeads + 2 * c.numKvHeads) * d;
        q = rng.bf16(static_cast<std::size_t>(c.lkv * row));
        a.qStride = a.kStride = a.vStride = row;
        qOff = static_cast<long long>(c.lkv - c.lq) * row;
        kOff = static_cast<long long>(c.numQHeads) * d;
        vOff = kOff + static_cast<long long>(c.numKvHeads) * d;
    } else {
        q = rng.bf16(static_cast<std::size_t>(c.lq) * c.numQHeads * d);
        k = rng.bf16(static_cast<std::size_t>(c.lkv) * c.numKvHeads * d);
        v = rng.bf16(static_cast<std::size_t>(c.lkv) * c.numKvHeads * d);
        a.qStride = static_cast<long long>(c.numQHeads) * d;
        a.kStride = a.vStride = static_cast<long long>(c.numKvHeads) * d;
    }
    a.oStride = static_cast<long long>(c.numQHeads) * d;
    const std::size_t outN = static_cast<std::size_t>(c.lq) * c.numQHeads * d;

    DevArray<std::uint16_t> dq(q), dOut(outN);
    DevArray<std::uint16_t> dk(c.fused ? std::vector<std::uint16_t>(1) : k),
        dv(c.fused ? std::vector<std::uint16_t>(1) : v);
    qc::PrefillAttention g = a;
    g.q = dq.get() + qOff;
    g.k = c.fused ? dq.get() + kOff : dk.get();
    g.v = c.fused ? dq.get() + vOff : dv.get();
    g.o = dOut.get();
    cudaCheck(qc::launchAttentionPrefill(g, nullptr), "launchAttentionPrefill");

    std::vector<std::uint16_t> twinOut(outN);
    qc::PrefillAttention h = a;
    h.q = q.data() + qOff;
    h.k = c.fused ? q.data() + kOff : k.data();
    h.v = c.fused ? q.data() + vOff : v.data();
    h.o = twinOut.data();
    qc::twins::attentionPrefill(h);
    const auto ref = qc::twins::attentionPrefillReference(h);

    const auto got = toFloat(dOut.download());
    const double errTwin = relError(got, toFloat(twinOut));
    const double errRef = relError(got, ref);
    std::printf("    prefill d=%d hq=%d hkv=%d lq=%d lkv=%d off=%d chunk=%d: rel err vs twin %.2e, vs "
                "reference %.2e\n",
                d, c.numQHeads, c.numKvHeads, c.lq, c.lkv, c.qPosOffset, c.chunkSize, errTwin, errRef);
    if (!(errTwin < 1e-2) || !(errRef < 2e-2))
        return "rel error vs twin " + std::to_string(errTwin) + ", vs reference " + std::to_string(errRef);
    return {};
}

} // namespace

GPU_TEST(prefillCausalHeadDim128MatchesTwin)
{
    Rng rng(10);
    const auto e = runPrefill({128, 8, 2, 384, 384, 0, 0, false}, rng);
    GPU_CHECK_MSG(e.empty(), e);
}

GPU_TEST(prefillHeadDim64AfterACachedPrefix)
{
    Rng rng(11);
    const auto e = runPrefill({64, 9, 3, 200, 456, 256, 0, false}, rng);
    GPU_CHECK_MSG(e.empty(), e);
}

GPU_TEST(prefillChunkedLocalMask)
{
    Rng rng(12);
    auto e = runPrefill({128, 4, 1, 300, 300, 0, 96, false}, rng); // chunks straddle query blocks
    GPU_CHECK_MSG(e.empty(), e);
    e = runPrefill({128, 5, 5, 130, 500, 370, 128, false}, rng);
    GPU_CHECK_MSG(e.empty(), e);
    e = runPrefill({64, 2, 1, 70, 10, 1000, 64, false}, rng); // queries whose chunk holds no key: zeros
    GPU_CHECK_MSG(e.empty(), e);
}

GPU_TEST(prefillFusedQkvStrides)
{
    Rng rng(13);
    const auto e = runPrefill({128, 8, 2, 190, 321, 131, 0, true}, rng);
    GPU_CHECK_MSG(e.empty(), e);
}

GPU_TEST(prefillRejectsMisalignedRows)
{
    qc::PrefillAttention a;
    DevArray<std::uint16_t> buf(4096);
    a.q = a.k = a.v = buf.get();
    a.o = buf.get();
    a.lq = a.lkv = 4;
    a.numQHeads = a.numKvHeads = 1;
    a.headDim = 64;
    a.qStride = a.kStride = a.vStride = 68; // not a multiple of 8 elements
    a.oStride = 64;
    a.scale = 0.125f;
    GPU_CHECK(qc::launchAttentionPrefill(a, nullptr) == cudaErrorMisalignedAddress);
    a.qStride = a.kStride = a.vStride = 64; // aligned rows now: only the head dim is wrong
    a.headDim = 96;
    GPU_CHECK(qc::launchAttentionPrefill(a, nullptr) == cudaErrorInvalidValue);
}

namespace {

struct DecodeCase {
    int headDim, numQHeads, numKvHeads, pageSize, chunkSize;
    std::vector<int> lens;
    int splitTokens; // 0: decodeSplitTokens()
};

std::string runDecode(const DecodeCase& c, Rng& rng)
{
    const int d = c.headDim, batch = static_cast<int>(c.lens.size());
    const int maxLen = *std::max_element(c.lens.begin(), c.lens.end());
    const int maxPages = (maxLen + c.pageSize - 1) / c.pageSize;
    const int totalPages = batch * maxPages + 3;
    // Pages handed out in a shuffled order, so sequences do not sit contiguously.
    std::vector<std::int32_t> order(static_cast<std::size_t>(totalPages));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng.engine());
    std::vector<std::int32_t> table(static_cast<std::size_t>(batch) * maxPages, -1);
    for (int i = 0; i < batch * maxPages; ++i)
        table[static_cast<std::size_t>(i)] = order[static_cast<std::size_t>(i)];
    const std::size_t cacheN = static_cast<std::size_t>(totalPages) * c.pageSize * c.numKvHeads * d;
    const auto kc = rng.bf16(cacheN), vc = rng.bf16(cacheN);
    const auto q = rng.bf16(static_cast<std::size_t>(batch) * c.numQHeads * d);
    std::vector<std::int32_t> lens(c.lens.begin(), c.lens.end());

    qc::DecodeAttention a;
    a.batch = batch;
    a.numQHeads = c.numQHeads;
    a.numKvHeads = c.numKvHeads;
    a.headDim = d;
    a.pageSize = c.pageSize;
    a.maxPagesPerSeq = maxPages;
    a.maxSeqLen = maxLen;
    a.chunkSize = c.chunkSize;
    a.scale = 1.0f / std::sqrt(static_cast<float>(d));
    int sms = 132;
    if (auto info = qc::deviceInfo(0))
        sms = info->multiprocessors;
    a.splitTokens = c.splitTokens > 0 ? c.splitTokens
                                      : qc::decodeSplitTokens(batch, c.numKvHeads, maxLen, c.chunkSize, sms);

    const std::size_t outN = static_cast<std::size_t>(batch) * c.numQHeads * d;
    DevArray<std::uint16_t> dq(q), dk(kc), dv(vc), dOut(outN);
    DevArray<std::int32_t> dTable(table), dLens(lens);
    DevArray<float> ws(qc::decodeWorkspaceBytes(batch, c.numQHeads, d, maxLen, c.chunkSize, a.splitTokens) /
                       4);
    qc::DecodeAttention g = a;
    g.q = dq.get();
    g.kCache = dk.get();
    g.vCache = dv.get();
    g.pageTable = dTable.get();
    g.seqLens = dLens.get();
    g.out = dOut.get();
    g.workspace = ws.get();
    cudaCheck(qc::launchAttentionDecode(g, nullptr), "launchAttentionDecode");

    std::vector<std::uint16_t> twinOut(outN);
    qc::DecodeAttention h = a;
    h.q = q.data();
    h.kCache = kc.data();
    h.vCache = vc.data();
    h.pageTable = table.data();
    h.seqLens = lens.data();
    h.out = twinOut.data();
    qc::twins::attentionDecode(h);
    const auto ref = qc::twins::attentionDecodeReference(h);
    const auto got = toFloat(dOut.download());
    const double errTwin = relError(got, toFloat(twinOut));
    const double errRef = relError(got, ref);
    std::printf("    decode d=%d hq=%d hkv=%d page=%d chunk=%d split=%d max len=%d: rel err vs twin %.2e, vs "
                "reference %.2e\n",
                d, c.numQHeads, c.numKvHeads, c.pageSize, c.chunkSize, a.splitTokens, maxLen, errTwin,
                errRef);
    if (!(errTwin < 1e-2) || !(errRef < 1e-2))
        return "rel error vs twin " + std::to_string(errTwin) + ", vs reference " + std::to_string(errRef);
    return {};
}

} // namespace

GPU_TEST(decodePagedGqaMatchesTwin)
{
    Rng rng(20);
    auto e = runDecode({128, 40, 8, 16, 0, {1, 700, 2100}, 0}, rng);
    GPU_CHECK_MSG(e.empty(), e);
    e = runDecode({128, 40, 8, 16, 0, {1, 700, 2100}, 128}, rng); // many small splits
    GPU_CHECK_MSG(e.empty(), e);
}

GPU_TEST(decodeHeadDim64ChunkedLocal)
{
    Rng rng(21);
    const auto e = runDecode({64, 9, 3, 64, 256, {1000, 64, 257}, 0}, rng);
    GPU_CHECK_MSG(e.empty(), e);
}

GPU_TEST(decodeLargeGroupUsesHeadSlices)
{
    Rng rng(22);
    auto e = runDecode({128, 32, 2, 32, 0, {300, 1}, 192}, rng); // 16 query heads per kv head: one block
    GPU_CHECK_MSG(e.empty(), e);
    e = runDecode({64, 40, 2, 16, 0, {530, 77}, 48}, rng); // 20 per kv head: two head slices
    GPU_CHECK_MSG(e.empty(), e);
}

// The general kernel (any head dim up to 256) against the naive double-precision reference: head dims
// the tiled kernels do not take, GQA, a cached prefix (positions from device memory), chunked masks.
GPU_TEST(naiveAttentionMatchesReference)
{
    Rng rng(23);
    struct Case {
        int d, hq, hkv, lq, offset, chunk;
    };
    for (const Case c : {Case{8, 4, 2, 16, 0, 0}, Case{96, 6, 3, 37, 150, 0}, Case{256, 2, 1, 5, 300, 0},
                         Case{32, 8, 8, 70, 200, 64}, Case{8, 4, 2, 1, 40, 0}}) {
        const int lkv = c.offset + c.lq;
        const auto q = rng.bf16(static_cast<std::size_t>(c.lq) * c.hq * c.d);
        const auto k = rng.bf16(static_cast<std::size_t>(lkv) * c.hkv * c.d);
        const auto v = rng.bf16(static_cast<std::size_t>(lkv) * c.hkv * c.d);
        std::vector<std::int32_t> pos(static_cast<std::size_t>(c.lq));
        for (int i = 0; i < c.lq; ++i)
            pos[static_cast<std::size_t>(i)] = c.offset + i;
        const std::size_t outN = static_cast<std::size_t>(c.lq) * c.hq * c.d;
        DevArray<std::uint16_t> dq(q), dk(k), dv(v), dOut(outN);
        DevArray<std::int32_t> dPos(pos);
        qc::NaiveAttention a;
        a.q = dq.get();
        a.k = dk.get();
        a.v = dv.get();
        a.o = dOut.get();
        a.qStride = a.oStride = static_cast<long long>(c.hq) * c.d;
        a.kStride = a.vStride = static_cast<long long>(c.hkv) * c.d;
        a.lq = c.lq;
        a.positions = dPos.get();
        a.numQHeads = c.hq;
        a.numKvHeads = c.hkv;
        a.headDim = c.d;
        a.chunkSize = c.chunk;
        a.scale = 1.0f / std::sqrt(static_cast<float>(c.d));
        cudaCheck(qc::launchAttentionNaive(a, nullptr), "launchAttentionNaive");

        qc::PrefillAttention h; // the reference's description of the same problem
        h.q = q.data();
        h.k = k.data();
        h.v = v.data();
        h.qStride = a.qStride;
        h.kStride = h.vStride = a.kStride;
        h.oStride = a.oStride;
        h.lq = c.lq;
        h.lkv = lkv;
        h.qPosOffset = c.offset;
        h.numQHeads = c.hq;
        h.numKvHeads = c.hkv;
        h.headDim = c.d;
        h.chunkSize = c.chunk;
        h.scale = a.scale;
        const double err = relError(toFloat(dOut.download()), qc::twins::attentionPrefillReference(h));
        std::printf("    naive d=%d hq=%d hkv=%d lq=%d off=%d chunk=%d: rel err vs reference %.2e\n", c.d,
                    c.hq, c.hkv, c.lq, c.offset, c.chunk, err);
        GPU_CHECK_MSG(err < 1e-2, "d=" << c.d << ": rel err " << err);
    }
    qc::NaiveAttention bad;
    GPU_CHECK(qc::launchAttentionNaive(bad, nullptr) == cudaSuccess); // lq == 0: nothing to do
    bad.lq = 1;
    GPU_CHECK(qc::launchAttentionNaive(bad, nullptr) == cudaErrorInvalidValue);
}
