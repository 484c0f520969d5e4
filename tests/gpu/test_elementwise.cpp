// Parity of the small kernels with their CPU twins: embedding gather, RMSNorm with residual add,
// RoPE (three frequency/layout variants), SwiGLU. Fresh random inputs, poisoned outputs.
#include <cstdint>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/kernels/embedding.cuh"
#include "quire/inference/cuda/kernels/model_ops.cuh"
#include "quire/inference/cuda/kernels/rmsnorm.cuh"
#include "quire/inference/cuda/kernels/rope.cuh"
#include "quire/inference/cuda/kernels/swiglu.cuh"
#include "quire/inference/cuda/twins/embedding.h"
#include "quire/inference/cuda/twins/rmsnorm.h"
#include "quire/inference/cuda/twins/rope.h"
#include "quire/inference/cuda/twins/swiglu.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;

namespace {

bool embeddingCase(bool bf16, int vocab, int dim, int count, Rng& rng)
{
    std::vector<std::int32_t> ids(static_cast<std::size_t>(count));
    for (auto& id : ids)
        id = rng.integer(0, vocab - 1);
    ids[0] = -3; // out of range on purpose: a zero row, no out-of-bounds read
    ids.back() = vocab;
    std::vector<float> expect(static_cast<std::size_t>(count) * dim);
    DevArray<std::int32_t> dIds(ids);
    DevArray<float> dOut(expect.size());
    if (bf16) {
        const auto table = rng.bf16(static_cast<std::size_t>(vocab) * dim);
        DevArray<std::uint16_t> dTable(table);
        qc::twins::embeddingGather(table.data(), true, vocab, dim, ids.data(), count, expect.data());
        cudaCheck(
            qc::launchEmbeddingGather(dTable.get(), true, vocab, dim, dIds.get(), count, dOut.get(), nullptr),
            "launch");
        return dOut.download() == expect;
    }
    const auto table = rng.f32(static_cast<std::size_t>(vocab) * dim);
    DevArray<float> dTable(table);
    qc::twins::embeddingGather(table.data(), false, vocab, dim, ids.data(), count, expect.data());
    cudaCheck(
        qc::launchEmbeddingGather(dTable.get(), false, vocab, dim, dIds.get(), count, dOut.get(), nullptr),
        "launch");
    return dOut.download() == expect;
}

} // namespace

GPU_TEST(embeddingGatherMatchesTwin)
{
    Rng rng(1);
    GPU_CHECK(embeddingCase(true, 1000, 576, 37, rng)); // vector path
    GPU_CHECK(embeddingCase(false, 500, 256, 19, rng));
    GPU_CHECK(embeddingCase(true, 300, 100, 9, rng)); // dim % 8 != 0: scalar path
}

GPU_TEST(rmsNormResidualMatchesTwin)
{
    Rng rng(2);
    struct Shape {
        int rows, dim;
        bool delta, weight;
    };
    for (const Shape s :
         {Shape{7, 5120, true, true}, Shape{33, 576, true, true}, Shape{5, 8192, false, true},
          Shape{64, 128, false, false}, Shape{3, 100, true, true}, Shape{2, 40000, true, true}}) {
        const std::size_t n = static_cast<std::size_t>(s.rows) * s.dim;
        auto residual = rng.f32(n, 2.0f);
        const auto delta = rng.bf16(n);
        const auto weight = rng.f32(static_cast<std::size_t>(s.dim), 0.5f);
        DevArray<float> dRes(residual), dWeight(weight);
        DevArray<std::uint16_t> dDelta(delta), dOut(n);
        cudaCheck(qc::launchRmsNormResidual(dRes.get(), s.delta ? dDelta.get() : nullptr,
                                            s.weight ? dWeight.get() : nullptr, dOut.get(), s.rows, s.dim,
                                            1e-5f, nullptr),
                  "launch");
        std::vector<std::uint16_t> out(n);
        qc::twins::rmsNormResidual(residual.data(), s.delta ? delta.data() : nullptr,
                                   s.weight ? weight.data() : nullptr, out.data(), s.rows, s.dim, 1e-5f);
        GPU_CHECK_MSG(dRes.download() == residual, "residual after the add differs, dim " << s.dim);
        const double err = relError(toFloat(dOut.download()), toFloat(out));
        GPU_CHECK_MSG(err < 4e-3, "dim " << s.dim << ": rel error " << err);
    }
}

GPU_TEST(ropeMatchesTwinInAllModes)
{
    Rng rng(3);
    qc::twins::Llama3RopeScaling llama3;
    struct Case {
        int headDim;
        float theta;
        bool scaled;
        qc::RopeMode mode;
    };
    for (const Case c : {Case{128, 500000.f, true, qc::RopeMode::NeoxHalves},
                         Case{64, 10000.f, false, qc::RopeMode::NeoxHalves},
                         Case{128, 500000.f, false, qc::RopeMode::InterleavedPairs}}) {
        const int tokens = 67, heads = 5;
        const long long stride = static_cast<long long>(heads + 3) * c.headDim; // rotate inside a wider row
        auto x = rng.bf16(static_cast<std::size_t>(tokens) * stride);
        std::vector<std::int32_t> pos(static_cast<std::size_t>(tokens));
        for (auto& p : pos)
            p = rng.integer(0, 200000);
        pos[0] = 0;
        const auto inv = qc::twins::ropeInvFreq(c.headDim, c.theta, c.scaled ? &llama3 : nullptr);
        DevArray<std::uint16_t> dX(x);
        DevArray<std::int32_t> dPos(pos);
        DevArray<float> dInv(inv);
        cudaCheck(qc::launchRope(dX.get(), tokens, heads, c.headDim, stride, dPos.get(), dInv.get(), c.mode,
                                 nullptr),
                  "launch");
        qc::twins::rope(x.data(), tokens, heads, c.headDim, stride, pos.data(), inv.data(), c.mode);
        const auto got = dX.download();
        const double err = relError(toFloat(got), toFloat(x));
        GPU_CHECK_MSG(err < 4e-3, "head dim " << c.headDim << ": rel error " << err);
        // The untouched tail of each row (heads 5..7) must be bit-identical.
        for (int t = 0; t < tokens; ++t)
            for (long long i = static_cast<long long>(heads) * c.headDim; i < stride; ++i)
                GPU_CHECK(got[static_cast<std::size_t>(t * stride + i)] ==
                          x[static_cast<std::size_t>(t * stride + i)]);
    }
}

GPU_TEST(swiGluMatchesTwin)
{
    Rng rng(4);
    for (const int cols : {14336, 1536, 100}) {
        const int rows = 9;
        // gate and up are the two halves of one fused [rows][2*cols] projection.
        const auto fused = rng.bf16(static_cast<std::size_t>(rows) * 2 * cols, 2.0f);
        DevArray<std::uint16_t> dFused(fused), dOut(static_cast<std::size_t>(rows) * cols);
        cudaCheck(qc::launchSwiGlu(dFused.get(), 2LL * cols, dFused.get() + cols, 2LL * cols, dOut.get(),
                                   cols, rows, cols, nullptr),
                  "launch");
        std::vector<std::uint16_t> out(static_cast<std::size_t>(rows) * cols);
        qc::twins::swiGlu(fused.data(), 2LL * cols, fused.data() + cols, 2LL * cols, out.data(), cols, rows,
                          cols);
        const double err = relError(toFloat(dOut.download()), toFloat(out));
        GPU_CHECK_MSG(err < 4e-3, "cols " << cols << ": rel error " << err);
    }
}

GPU_TEST(launchersRejectBadArguments)
{
    GPU_CHECK(qc::launchEmbeddingGather(nullptr, true, 10, 8, nullptr, 3, nullptr, nullptr) ==
              cudaErrorInvalidValue);
    GPU_CHECK(qc::launchRope(nullptr, 1, 1, 7, 7, nullptr, nullptr, qc::RopeMode::NeoxHalves, nullptr) ==
              cudaErrorInvalidValue);
    GPU_CHECK(qc::launchRmsNormResidual(nullptr, nullptr, nullptr, nullptr, 1, 8, 1e-5f, nullptr) ==
              cudaErrorInvalidValue);
}

// The forward pass's glue: bias add on strided bf16 rows, and the KV append at device-held positions.
GPU_TEST(biasAddAndKvAppend)
{
    Rng rng(35);
    const int rows = 7, cols = 40, stride = 56;
    const auto x = rng.bf16(static_cast<std::size_t>(rows) * stride);
    const auto bias = rng.f32(static_cast<std::size_t>(cols));
    DevArray<std::uint16_t> dx(x);
    DevArray<float> dBias(bias);
    cudaCheck(qc::launchAddBias(dx.get(), stride, rows, cols, dBias.get(), nullptr), "launchAddBias");
    const auto got = dx.download();
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < stride; ++c) {
            const std::size_t i = static_cast<std::size_t>(r) * stride + c;
            const std::uint16_t want =
                c < cols ? qc::floatToBf16(qc::bf16ToFloat(x[i]) + bias[static_cast<std::size_t>(c)]) : x[i];
            GPU_CHECK_MSG(got[i] == want, "row " << r << " column " << c);
        }

    const int tokens = 5, width = 24, srcStride = 80, cacheRows = 64;
    const auto src = rng.bf16(static_cast<std::size_t>(tokens) * srcStride);
    const std::vector<std::int32_t> pos = {9, 10, 11, 40, 3};
    DevArray<std::uint16_t> dSrc(src), kc(static_cast<std::size_t>(cacheRows) * width),
        vc(static_cast<std::size_t>(cacheRows) * width);
    DevArray<std::int32_t> dPos(pos);
    cudaCheck(qc::launchKvAppend(dSrc.get(), dSrc.get() + 30, srcStride, kc.get(), vc.get(), width,
                                 dPos.get(), tokens, nullptr),
              "launchKvAppend");
    const auto k = kc.download(), v = vc.download();
    for (int t = 0; t < tokens; ++t)
        for (int c = 0; c < width; ++c) {
            const std::size_t at = static_cast<std::size_t>(pos[static_cast<std::size_t>(t)]) * width + c;
            const std::size_t from = static_cast<std::size_t>(t) * srcStride + c;
            GPU_CHECK_MSG(k[at] == src[from] && v[at] == src[from + 30], "token " << t << " column " << c);
        }
    GPU_CHECK(k[0] == 0xffff &&
              v[static_cast<std::size_t>(63) * width] == 0xffff); // untouched rows stay poisoned
}
