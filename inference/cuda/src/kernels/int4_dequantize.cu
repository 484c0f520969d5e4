// int4 -> bf16 expansion of one expert's matrix (kernels/int4.cuh), for the cuBLAS path of wide MoE passes:
// a thread per 32 consecutive inputs of a row (16 bytes of codes, one scale), four 16-byte stores.
#include "quire/inference/cuda/kernels/int4.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kThreads = 256;

__device__ __forceinline__ uint4 expand8x2(std::uint32_t codes, float scale)
{
    // Eight nibbles (value 2i low, 2i+1 high of byte i) -> eight bf16 of (u - 8) * scale, as four words.
    std::uint32_t out[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float lo = static_cast<float>(static_cast<int>((codes >> (8 * i)) & 0xfu) - 8) * scale;
        const float hi = static_cast<float>(static_cast<int>((codes >> (8 * i + 4)) & 0xfu) - 8) * scale;
        out[i] = packBf16(lo, hi);
    }
    return make_uint4(out[0], out[1], out[2], out[3]);
}

__global__ void __launch_bounds__(kThreads)
    int4DequantizeKernel(Int4Weights w, long long expert, std::uint16_t* out, long long pieces)
{
    const long long i = static_cast<long long>(blockIdx.x) * kThreads + threadIdx.x;
    if (i >= pieces)
        return;
    const int perRow = w.k / 32;
    const long long r = i / perRow;
    const int c = static_cast<int>(i % perRow) * 32;
    const uint4 codes = __ldg(reinterpret_cast<const uint4*>(w.q + expert * w.qExpertBytes + r * (w.k / 2) + c / 2));
    const float scale = __ldg(w.scales + expert * w.scaleExpertFloats + static_cast<long long>(c / w.groupSize) * w.n + r);
    uint4* dst = reinterpret_cast<uint4*>(out + r * w.k + c);
    dst[0] = expand8x2(codes.x, scale);
    dst[1] = expand8x2(codes.y, scale);
    dst[2] = expand8x2(codes.z, scale);
    dst[3] = expand8x2(codes.w, scale);
}

} // namespace

cudaError_t launchInt4Dequantize(const Int4Weights& w, int expert, std::uint16_t* out, cudaStream_t stream)
{
    if (!w.q || !w.scales || !out || w.n <= 0 || w.k <= 0 || w.k % 32 != 0 || w.groupSize <= 0 ||
        w.groupSize % 32 != 0 || expert < 0)
        return cudaErrorInvalidValue;
    if (!detail::aligned16(out) || !detail::aligned16(w.q) || w.qExpertBytes % 16 != 0)
        return cudaErrorMisalignedAddress;
    const long long pieces = static_cast<long long>(w.n) * (w.k / 32);
    const auto grid = static_cast<unsigned>((pieces + kThreads - 1) / kThreads);
    int4DequantizeKernel<<<grid, kThreads, 0, stream>>>(w, expert, out, pieces);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
