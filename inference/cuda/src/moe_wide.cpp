// The cuBLAS path of wide MoE passes (moe_wide.h).
#include "quire/inference/cuda/moe_wide.h"

#include <cuda_runtime.h>

#include <string>

#include "quire/inference/cuda/kernels/swiglu.cuh"

namespace quire::inference::cuda {

namespace {

Error cudaFailure(cudaError_t e, const char* what)
{
    return Error{ErrorCode::Device, std::string("MoE (wide): ") + what + ": " + cudaGetErrorString(e)};
}

int roundUp(int n, int quantum)
{
    return (n + quantum - 1) / quantum * quantum;
}

} // namespace

std::size_t moeWideWeightBytes(int dim, int expertDim)
{
    return std::size_t(2) * std::size_t(expertDim) * std::size_t(dim) * 2;
}

std::expected<void, Error> moeRoutedWide(const MoeLayerWeights& w, const std::uint16_t* m, long long ldm,
                                         int tokens, const std::uint16_t* sharedOut, std::uint16_t* out,
                                         std::uint16_t* residual, const MoeScratch& s,
                                         const MoeWideBuffers& buffers, Blas& blas, cudaStream_t stream)
{
    if (tokens == 0)
        return {};
    if (!buffers.weights || !buffers.hostCounts)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "MoE (wide): buffers missing"});
    const int D = w.dim, I = w.expertDim, E = w.experts;
    if (cudaError_t e = launchMoeGroup(w, m, ldm, tokens, s, stream); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "routing"));
    if (cudaError_t e =
            cudaMemcpyAsync(buffers.hostCounts, s.counts, std::size_t(E) * 4, cudaMemcpyDeviceToHost, stream);
        e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "counts"));
    if (cudaError_t e = cudaStreamSynchronize(stream); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "counts"));

    // gate|up per expert, in expert order (a product's rounded-up rows land in the next expert's rows
    // before that expert's own product overwrites them).
    const auto products = [&](const Int4Weights& wt, const std::uint16_t* x, std::uint16_t* y, int n,
                              int k) -> std::expected<void, Error> {
        int offset = 0;
        for (int e = 0; e < E; ++e) {
            const int rows = buffers.hostCounts[e];
            if (rows == 0)
                continue;
            if (cudaError_t err = launchInt4Dequantize(wt, e, buffers.weights, stream); err != cudaSuccess)
                return std::unexpected(cudaFailure(err, "expanding an expert"));
            if (auto r = blas.gemm(x + std::size_t(offset) * std::size_t(k), buffers.weights,
                                   y + std::size_t(offset) * std::size_t(n),
                                   roundUp(rows, kMoeWideRowQuantum), n, k, GemmOut::Bf16, stream);
                !r)
                return r;
            offset += rows;
        }
        return {};
    };
    if (auto r = products(w.gateUp, s.xe, s.gu, 2 * I, D); !r)
        return r;
    if (cudaError_t e = launchSwiGlu(s.gu, 2LL * I, s.gu + I, 2LL * I, s.act, I, tokens, I, stream);
        e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "swiglu"));
    if (auto r = products(w.down, s.act, s.y, D, I); !r)
        return r;
    if (cudaError_t e = launchMoeCombine(w, tokens, sharedOut, out, residual, s, stream); e != cudaSuccess)
        return std::unexpected(cudaFailure(e, "combine"));
    return {};
}

} // namespace quire::inference::cuda
