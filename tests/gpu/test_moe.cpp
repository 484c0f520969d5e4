// Llama 4 MoE on the device against the CPU twin on random data: expert weights made in Hugging Face's
// [in, out] bf16 layout and quantized on the device, router logits, top-1 routing with the permutation
// (every token in exactly one slot of its expert), and the combined output, by prefill (grouped GEMMs)
// and by decode (GEMVs with device-side expert ids), with and without the residual update; the wide
// path (each expert expanded to bf16, cuBLAS) against the same twin, and the expansion bit-exact.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/kernels/moe.cuh"
#include "quire/inference/cuda/moe_wide.h"
#include "quire/inference/cuda/twins/moe.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;

namespace {

constexpr int kD = 256, kI = 128, kE = 4;

struct Layer {
    tw::Int4Host gateUp, down;
    std::vector<float> router;
    DevArray<std::uint8_t> gq, dq;
    DevArray<float> gs, ds, dr;
    qc::MoeLayerWeights w;

    explicit Layer(Rng& rng)
        : gq(qc::int4QBytes(2 * kI, kD) * kE), dq(qc::int4QBytes(kD, kI) * kE),
          gs(qc::int4ScaleCount(2 * kI, kD, 128) * kE), ds(qc::int4ScaleCount(kD, kI, 128) * kE),
          dr(static_cast<std::size_t>(kE) * kD)
    {
        gateUp.n = 2 * kI;
        gateUp.k = kD;
        gateUp.experts = kE;
        down.n = kD;
        down.k = kI;
        down.experts = kE;
        // Hugging Face layout: gate_up_proj [E][D][2I], down_proj [E][I][D] (input-major).
        const auto gu = rng.bf16(static_cast<std::size_t>(kE) * kD * 2 * kI, 0.08f);
        const auto dn = rng.bf16(static_cast<std::size_t>(kE) * kI * kD, 0.08f);
        DevArray<std::uint16_t> dgu(gu), ddn(dn);
        for (int e = 0; e < kE; ++e) {
            tw::int4Quantize(gu.data() + static_cast<std::size_t>(e) * kD * 2 * kI, 2 * kI, true, gateUp, e);
            tw::int4Quantize(dn.data() + static_cast<std::size_t>(e) * kI * kD, kD, true, down, e);
            cudaCheck(qc::launchInt4Quantize(dgu.get() + static_cast<std::size_t>(e) * kD * 2 * kI, 2 * kI,
                                             true, 2 * kI, kD, 128, gq.get() + gateUp.qExpertBytes() * e,
                                             gs.get() + gateUp.scaleExpertFloats() * e, nullptr),
                      "quantize gate_up");
            cudaCheck(qc::launchInt4Quantize(ddn.get() + static_cast<std::size_t>(e) * kI * kD, kD, true, kD,
                                             kI, 128, dq.get() + down.qExpertBytes() * e,
                                             ds.get() + down.scaleExpertFloats() * e, nullptr),
                      "quantize down");
        }
        router = rng.f32(static_cast<std::size_t>(kE) * kD, 0.1f);
        dr.upload(router);
        w.router = dr.get();
        w.experts = kE;
        w.dim = kD;
        w.expertDim = kI;
        w.gateUp = {gq.get(),
                    gs.get(),
                    2 * kI,
                    kD,
                    128,
                    static_cast<long long>(gateUp.qExpertBytes()),
                    static_cast<long long>(gateUp.scaleExpertFloats())};
        w.down = {dq.get(),
                  ds.get(),
                  kD,
                  kI,
                  128,
                  static_cast<long long>(down.qExpertBytes()),
                  static_cast<long long>(down.scaleExpertFloats())};
    }
};

} // namespace

GPU_TEST(moeDeviceQuantizationMatchesTwin)
{
    Rng rng(80);
    Layer l(rng);
    GPU_CHECK(l.gq.download() == l.gateUp.q && l.gs.download() == l.gateUp.scales);
    GPU_CHECK(l.dq.download() == l.down.q && l.ds.download() == l.down.scales);
}

GPU_TEST(moeRoutedMatchesTwin)
{
    Rng rng(81);
    Layer l(rng);
    for (const int tokens : {300, 5, 1}) {
        for (const bool useResidual : {false, true}) {
            const auto m = rng.bf16(static_cast<std::size_t>(tokens) * kD);
            const auto shared = rng.bf16(static_cast<std::size_t>(tokens) * kD, 0.3f);
            const auto h = rng.bf16(static_cast<std::size_t>(tokens) * kD);
            DevArray<std::uint16_t> dm(m), dshared(shared), dout(static_cast<std::size_t>(tokens) * kD),
                dh(h);
            DevArray<std::uint8_t> scratch(qc::moeScratchBytes(tokens, kE, kD, kI));
            const auto s = qc::moeScratchAt(scratch.get(), tokens, kE, kD, kI);
            cudaCheck(qc::launchMoeRouted(l.w, dm.get(), kD, tokens, dshared.get(),
                                          useResidual ? nullptr : dout.get(),
                                          useResidual ? dh.get() : nullptr, s, nullptr),
                      "moe");
            cudaCheck(cudaDeviceSynchronize(), "moe");

            // Router logits against the twin's.
            std::vector<float> logits(static_cast<std::size_t>(tokens) * kE), ref(logits.size());
            cudaCheck(cudaMemcpy(logits.data(), s.logits, logits.size() * 4, cudaMemcpyDeviceToHost),
                      "logits");
            tw::moeRouterLogits(m.data(), tokens, l.router.data(), kE, kD, ref.data());
            const double lerr = relError(logits, ref);
            GPU_CHECK_MSG(lerr < 1e-5, tokens << " tokens: router logits rel error " << lerr);

            // Routing: the device's expert per token is the top-1 of its logits; in prefill every token
            // has its own slot below its expert's count.
            std::vector<std::int32_t> ids(static_cast<std::size_t>(tokens)), slots(ids.size()), counts(kE);
            cudaCheck(cudaMemcpy(ids.data(), s.expertIds, ids.size() * 4, cudaMemcpyDeviceToHost), "ids");
            cudaCheck(cudaMemcpy(slots.data(), s.slots, slots.size() * 4, cudaMemcpyDeviceToHost), "slots");
            cudaCheck(cudaMemcpy(counts.data(), s.counts, counts.size() * 4, cudaMemcpyDeviceToHost),
                      "counts");
            std::vector<std::vector<int>> seen(kE);
            for (int t = 0; t < tokens; ++t) {
                GPU_CHECK(ids[t] == tw::moeTopExpert(&logits[static_cast<std::size_t>(t) * kE], kE));
                seen[ids[t]].push_back(slots[t]);
            }
            for (int e = 0; e < kE; ++e) {
                std::sort(seen[e].begin(), seen[e].end());
                GPU_CHECK(static_cast<int>(seen[e].size()) == counts[e]);
                for (int i = 0; i < counts[e]; ++i)
                    GPU_CHECK(seen[e][i] == i);
            }

            // The output against the twin routed by the device's logits (no tie can flip an expert).
            std::vector<std::uint16_t> expect(static_cast<std::size_t>(tokens) * kD);
            tw::moeRouted(m.data(), tokens, logits.data(), kE, l.gateUp, l.down, shared.data(),
                          expect.data());
            if (useResidual)
                for (std::size_t i = 0; i < expect.size(); ++i)
                    expect[i] = qc::floatToBf16(qc::bf16ToFloat(h[i]) + qc::bf16ToFloat(expect[i]));
            const auto got = useResidual ? dh.download() : dout.download();
            const double err = relError(toFloat(got), toFloat(expect));
            GPU_CHECK_MSG(err < 1e-2,
                          tokens << " tokens" << (useResidual ? " (residual)" : "") << ": rel error " << err);
        }
    }
}

GPU_TEST(int4DequantizeIsBitExact)
{
    Rng rng(82);
    Layer l(rng);
    for (const int e : {0, kE - 1}) {
        DevArray<std::uint16_t> out(static_cast<std::size_t>(2 * kI) * kD);
        cudaCheck(qc::launchInt4Dequantize(l.w.gateUp, e, out.get(), nullptr), "dequantize");
        const auto got = out.download();
        const std::uint8_t* q = l.gateUp.q.data() + l.gateUp.qExpertBytes() * e;
        const float* sc = l.gateUp.scales.data() + l.gateUp.scaleExpertFloats() * e;
        std::size_t bad = 0;
        for (int r = 0; r < 2 * kI; ++r)
            for (int c = 0; c < kD; ++c) {
                const std::uint8_t byte = q[static_cast<std::size_t>(r) * (kD / 2) + c / 2];
                const int u = (c % 2 == 0 ? byte & 0xf : byte >> 4) - 8;
                const float v = static_cast<float>(u) * sc[static_cast<std::size_t>(c / 128) * (2 * kI) + r];
                bad += got[static_cast<std::size_t>(r) * kD + c] != qc::floatToBf16(v);
            }
        GPU_CHECK_MSG(bad == 0, "expert " << e << ": " << bad << " values differ");
    }
    GPU_CHECK(qc::launchInt4Dequantize(l.w.gateUp, 0, nullptr, nullptr) == cudaErrorInvalidValue);
}

GPU_TEST(moeWidePathMatchesTwin)
{
    Rng rng(83);
    Layer l(rng);
    auto blas = qc::Blas::create();
    GPU_CHECK(blas.has_value());
    if (!blas)
        return;
    DevArray<std::uint16_t> weights(qc::moeWideWeightBytes(kD, kI) / 2);
    std::int32_t* hostCounts = nullptr;
    cudaCheck(cudaMallocHost(&hostCounts, kE * 4), "pinned");
    const qc::MoeWideBuffers buffers{weights.get(), hostCounts};
    for (const int tokens : {300, 2500}) {
        const auto m = rng.bf16(static_cast<std::size_t>(tokens) * kD);
        const auto shared = rng.bf16(static_cast<std::size_t>(tokens) * kD, 0.3f);
        DevArray<std::uint16_t> dm(m), dshared(shared), dout(static_cast<std::size_t>(tokens) * kD);
        const int rows = tokens + qc::kMoeWideRowQuantum;
        const std::size_t bytes = qc::moeScratchBytes(rows, kE, kD, kI);
        DevArray<std::uint8_t> scratch(bytes);
        // NaN everywhere first: rows past an expert's own (the rounded-up products) must never reach the
        // output.
        cudaCheck(cudaMemset(scratch.get(), 0xff, bytes), "poison");
        const auto s = qc::moeScratchAt(scratch.get(), rows, kE, kD, kI);
        const auto r = qc::moeRoutedWide(l.w, dm.get(), kD, tokens, dshared.get(), dout.get(), nullptr, s,
                                         buffers, *blas, nullptr);
        GPU_CHECK_MSG(r.has_value(), (r ? std::string() : r.error().message));
        cudaCheck(cudaDeviceSynchronize(), "wide");
        std::vector<float> logits(static_cast<std::size_t>(tokens) * kE);
        cudaCheck(cudaMemcpy(logits.data(), s.logits, logits.size() * 4, cudaMemcpyDeviceToHost), "logits");
        std::vector<std::uint16_t> expect(static_cast<std::size_t>(tokens) * kD);
        tw::moeRouted(m.data(), tokens, logits.data(), kE, l.gateUp, l.down, shared.data(), expect.data());
        const double err = relError(toFloat(dout.download()), toFloat(expect));
        GPU_CHECK_MSG(err < 1e-2, tokens << " tokens (wide): rel error " << err);
        std::printf("    wide MoE, %d tokens: rel error vs twin %.2e\n", tokens, err);
    }
    cudaFreeHost(hostCounts);
}
