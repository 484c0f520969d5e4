#include "quire/inference/cuda/kernels/swiglu.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

__device__ __forceinline__ float swish(float g, float u)
{
    return g / (1.0f + expf(-g)) * u;
}

// Vector path: one thread per 8 values (16-byte loads and stores).
__global__ void swiGluVecKernel(const std::uint16_t* gate, long long gateStride, const std::uint16_t* up,
                                long long upStride, std::uint16_t* out, long long outStride, int rows,
                                int cols)
{
    const int chunks = cols / 8;
    const long long total = static_cast<long long>(rows) * chunks;
    for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
         idx += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long r = idx / chunks;
        const int c = static_cast<int>(idx % chunks);
        const uint4 g = reinterpret_cast<const uint4*>(gate + r * gateStride)[c];
        const uint4 u = reinterpret_cast<const uint4*>(up + r * upStride)[c];
        uint4 o;
        o.x = packBf16(swish(bf16Lo(g.x), bf16Lo(u.x)), swish(bf16Hi(g.x), bf16Hi(u.x)));
        o.y = packBf16(swish(bf16Lo(g.y), bf16Lo(u.y)), swish(bf16Hi(g.y), bf16Hi(u.y)));
        o.z = packBf16(swish(bf16Lo(g.z), bf16Lo(u.z)), swish(bf16Hi(g.z), bf16Hi(u.z)));
        o.w = packBf16(swish(bf16Lo(g.w), bf16Lo(u.w)), swish(bf16Hi(g.w), bf16Hi(u.w)));
        reinterpret_cast<uint4*>(out + r * outStride)[c] = o;
    }
}

__global__ void swiGluScalarKernel(const std::uint16_t* gate, long long gateStride, const std::uint16_t* up,
                                   long long upStride, std::uint16_t* out, long long outStride, int rows,
                                   int cols)
{
    const long long total = static_cast<long long>(rows) * cols;
    for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
         idx += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long r = idx / cols;
        const long long c = idx % cols;
        out[r * outStride + c] =
            toBf16(swish(bf16Bits(gate[r * gateStride + c]), bf16Bits(up[r * upStride + c])));
    }
}

} // namespace

cudaError_t launchSwiGlu(const std::uint16_t* gate, long long gateStride, const std::uint16_t* up,
                         long long upStride, std::uint16_t* out, long long outStride, int rows, int cols,
                         cudaStream_t stream)
{
    if (rows == 0 || cols == 0)
        return cudaSuccess;
    if (!gate || !up || !out || rows < 0 || cols < 0)
        return cudaErrorInvalidValue;
    const bool vec = cols % 8 == 0 && gateStride % 8 == 0 && upStride % 8 == 0 && outStride % 8 == 0 &&
                     detail::aligned16(gate) && detail::aligned16(up) && detail::aligned16(out);
    const long long work = static_cast<long long>(rows) * (vec ? cols / 8 : cols);
    const int threads = 256;
    const long long blocks = (work + threads - 1) / threads;
    const unsigned grid = static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
    if (vec)
        swiGluVecKernel<<<grid, threads, 0, stream>>>(gate, gateStride, up, upStride, out, outStride, rows,
                                                      cols);
    else
        swiGluScalarKernel<<<grid, threads, 0, stream>>>(gate, gateStride, up, upStride, out, outStride, rows,
                                                         cols);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
