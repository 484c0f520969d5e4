// Glue kernels of the forward pass: bias add and the KV-cache append (see kernels/model_ops.cuh).
#include "quire/inference/cuda/kernels/model_ops.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

__global__ void addBiasKernel(std::uint16_t* x, long long rowStride, int rows, int cols, const float* bias)
{
    const long long total = static_cast<long long>(rows) * cols;
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long r = i / cols;
        const int c = static_cast<int>(i % cols);
        std::uint16_t& e = x[r * rowStride + c];
        e = toBf16(bf16Bits(e) + bias[c]);
    }
}

__global__ void kvAppendKernel(const std::uint16_t* k, const std::uint16_t* v, long long srcStride,
                               std::uint16_t* kCache, std::uint16_t* vCache, int width,
                               const std::int32_t* positions, int tokens)
{
    const long long total = static_cast<long long>(tokens) * width;
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<long long>(gridDim.x) * blockDim.x) {
        const int t = static_cast<int>(i / width), c = static_cast<int>(i % width);
        const long long dst = static_cast<long long>(positions[t]) * width + c;
        kCache[dst] = k[t * srcStride + c];
        vCache[dst] = v[t * srcStride + c];
    }
}

unsigned gridFor(long long total, int threads)
{
    const long long blocks = (total + threads - 1) / threads;
    return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

} // namespace

cudaError_t launchAddBias(std::uint16_t* x, long long rowStride, int rows, int cols, const float* bias,
                          cudaStream_t stream)
{
    if (rows == 0 || cols == 0)
        return cudaSuccess;
    if (!x || !bias || rows < 0 || cols < 0 || rowStride < cols)
        return cudaErrorInvalidValue;
    addBiasKernel<<<gridFor(static_cast<long long>(rows) * cols, 256), 256, 0, stream>>>(x, rowStride, rows,
                                                                                         cols, bias);
    return cudaGetLastError();
}

cudaError_t launchKvAppend(const std::uint16_t* k, const std::uint16_t* v, long long srcStride,
                           std::uint16_t* kCache, std::uint16_t* vCache, int width,
                           const std::int32_t* positions, int tokens, cudaStream_t stream)
{
    if (tokens == 0 || width == 0)
        return cudaSuccess;
    if (!k || !v || !kCache || !vCache || !positions || tokens < 0 || width < 0 || srcStride < width)
        return cudaErrorInvalidValue;
    kvAppendKernel<<<gridFor(static_cast<long long>(tokens) * width, 256), 256, 0, stream>>>(
        k, v, srcStride, kCache, vCache, width, positions, tokens);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
