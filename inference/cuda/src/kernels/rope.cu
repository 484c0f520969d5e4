#include "quire/inference/cuda/kernels/rope.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

// One thread per rotated pair; grid-stride over tokens * heads * headDim/2.
__global__ void ropeKernel(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride,
                           const std::int32_t* positions, const float* invFreq, int interleaved)
{
    const int half = headDim / 2;
    const long long total = static_cast<long long>(tokens) * heads * half;
    for (long long idx = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; idx < total;
         idx += static_cast<long long>(gridDim.x) * blockDim.x) {
        const int i = static_cast<int>(idx % half);
        const long long th = idx / half;
        const int h = static_cast<int>(th % heads);
        const long long t = th / heads;
        std::uint16_t* head = x + t * rowStride + static_cast<long long>(h) * headDim;
        const float angle = static_cast<float>(positions[t]) * invFreq[i];
        float s, c;
        sincosf(angle, &s, &c);
        const int ia = interleaved ? 2 * i : i;
        const int ib = interleaved ? 2 * i + 1 : i + half;
        const float a = bf16Bits(head[ia]);
        const float b = bf16Bits(head[ib]);
        head[ia] = toBf16(__fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s)));
        head[ib] = toBf16(__fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s)));
    }
}

} // namespace

cudaError_t launchRope(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride,
                       const std::int32_t* positions, const float* invFreq, RopeMode mode,
                       cudaStream_t stream)
{
    if (tokens == 0 || heads == 0)
        return cudaSuccess;
    if (!x || !positions || !invFreq || tokens < 0 || heads < 0 || headDim <= 0 || headDim % 2 != 0)
        return cudaErrorInvalidValue;
    const long long total = static_cast<long long>(tokens) * heads * (headDim / 2);
    const int threads = 256;
    const long long blocks = (total + threads - 1) / threads;
    ropeKernel<<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), threads, 0, stream>>>(
        x, tokens, heads, headDim, rowStride, positions, invFreq, mode == RopeMode::InterleavedPairs ? 1 : 0);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
