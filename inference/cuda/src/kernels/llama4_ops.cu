// QK norm and NoPE query temperature (kernels/llama4_ops.cuh): a warp per (token, head).
#include "quire/inference/cuda/kernels/llama4_ops.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kWarps = 8;

__global__ void __launch_bounds__(kWarps * 32)
    headRmsNormKernel(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride, float eps)
{
    const int item = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (item >= tokens * heads)
        return;
    std::uint16_t* row =
        x + static_cast<long long>(item / heads) * rowStride + static_cast<long long>(item % heads) * headDim;
    float ss = 0.f;
    for (int i = lane; i < headDim; i += 32) {
        const float v = bf16Bits(row[i]);
        ss += v * v;
    }
    ss = warpSum(ss);
    const float denom = sqrtf(ss / static_cast<float>(headDim) + eps);
    for (int i = lane; i < headDim; i += 32)
        row[i] = toBf16(bf16Bits(row[i]) / denom);
}

__global__ void __launch_bounds__(kWarps * 32)
    temperatureKernel(std::uint16_t* q, int tokens, int heads, int headDim, long long rowStride,
                      const std::int32_t* positions, float attnScale, float floorScale)
{
    const int item = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (item >= tokens * heads)
        return;
    const int t = item / heads;
    const float tau = 1.0f + attnScale * log1pf(floorf(static_cast<float>(positions[t] + 1) / floorScale));
    std::uint16_t* row =
        q + static_cast<long long>(t) * rowStride + static_cast<long long>(item % heads) * headDim;
    for (int i = lane; i < headDim; i += 32)
        row[i] = toBf16(bf16Bits(row[i]) * tau);
}

} // namespace

cudaError_t launchHeadRmsNorm(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride,
                              float eps, cudaStream_t stream)
{
    if (tokens == 0 || heads == 0)
        return cudaSuccess;
    if (!x || tokens < 0 || heads < 0 || headDim <= 0 || headDim > 256 ||
        rowStride < static_cast<long long>(heads) * headDim)
        return cudaErrorInvalidValue;
    const unsigned grid = static_cast<unsigned>((tokens * heads + kWarps - 1) / kWarps);
    headRmsNormKernel<<<grid, kWarps * 32, 0, stream>>>(x, tokens, heads, headDim, rowStride, eps);
    return cudaGetLastError();
}

cudaError_t launchQueryTemperature(std::uint16_t* q, int tokens, int heads, int headDim, long long rowStride,
                                   const std::int32_t* positions, float attnScale, float floorScale,
                                   cudaStream_t stream)
{
    if (tokens == 0 || heads == 0)
        return cudaSuccess;
    if (!q || !positions || tokens < 0 || heads < 0 || headDim <= 0 || headDim > 256 || floorScale <= 0.f ||
        rowStride < static_cast<long long>(heads) * headDim)
        return cudaErrorInvalidValue;
    const unsigned grid = static_cast<unsigned>((tokens * heads + kWarps - 1) / kWarps);
    temperatureKernel<<<grid, kWarps * 32, 0, stream>>>(q, tokens, heads, headDim, rowStride, positions,
                                                        attnScale, floorScale);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
