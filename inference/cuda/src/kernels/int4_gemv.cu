// The int4 GEMV for decode (kernels/int4.cuh): a warp per output row; each lane takes 32 consecutive
// inputs at a time (16 bytes of codes, one scale: groups are multiples of 32), so a warp reads 512
// contiguous bytes of the row per step. Activations come in 16-byte loads served by L1 to every warp of
// the block. Per 32 values the lane sums (u - 8) * x in fp32 and adds scale * sum; the warp reduces at
// the end. With per-row expert ids each row of x walks its own expert's weights.
#include "quire/inference/cuda/kernels/int4.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kWarpsPerBlock = 8;
constexpr int kUnroll = 4;

// (u - 8) as a float without an integer conversion (I2F issues at a quarter of the FP32 rate and bounded
// the GEMV near 1.2 TB/s): the bits 0x4B000000 | u are the float 2^23 + u, exactly, and subtracting
// 2^23 + 8 leaves u - 8, exactly. The same value as before, so the same sums.
__device__ __forceinline__ float nibbleMinus8(std::uint32_t codes, int shift)
{
    return __uint_as_float(((codes >> shift) & 0xfu) | 0x4B000000u) - 8388616.0f;
}

__device__ __forceinline__ float dot8(std::uint32_t codes, uint4 xw)
{
    // codes: eight nibbles, value 2i low and 2i+1 high of byte i; x: eight bf16.
    const std::uint32_t xs[4] = {xw.x, xw.y, xw.z, xw.w};
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < 4; ++i)
        s += nibbleMinus8(codes, 8 * i) * bf16Lo(xs[i]) + nibbleMinus8(codes, 8 * i + 4) * bf16Hi(xs[i]);
    return s;
}

// Sum over one row of weights of (w . x) for `rows` rows of x that share these weights.
template <bool PerRowExpert>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    int4GemvKernel(Int4Weights w, const std::uint16_t* x, long long ldx, int batch,
                   const std::int32_t* expertIds, void* y, long long ldy, bool yBf16)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int row = blockIdx.x * kWarpsPerBlock + warp;
    if (row >= w.n)
        return;
    const long long rowBytes = w.k / 2;
    float acc[kMaxInt4GemvBatch];
#pragma unroll
    for (int b = 0; b < kMaxInt4GemvBatch; ++b)
        acc[b] = 0.f;

    // One pass over the weights per distinct expert: all rows of x at once without ids, else row by row.
    const int passes = PerRowExpert ? batch : 1;
    for (int p = 0; p < passes; ++p) {
        const long long e = PerRowExpert ? expertIds[p] : 0;
        const std::uint8_t* qRow = w.q + e * w.qExpertBytes + row * rowBytes;
        const float* sc = w.scales + e * w.scaleExpertFloats + row;
        // kUnroll steps' codes and scales are loaded before any is used, so each lane keeps up to 64 bytes
        // of weights in flight (one 16-byte load at a time left the GEMV at ~30% of the copy bandwidth).
        for (int c0 = lane * 32; c0 < w.k; c0 += kUnroll * 32 * 32) {
            uint4 codes[kUnroll];
            float scale[kUnroll];
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
                const int c = c0 + u * 32 * 32;
                if (c < w.k) {
                    codes[u] = __ldg(reinterpret_cast<const uint4*>(qRow + c / 2));
                    scale[u] = __ldg(sc + static_cast<long long>(c / w.groupSize) * w.n);
                }
            }
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
                const int c = c0 + u * 32 * 32;
                if (c >= w.k)
                    break;
#pragma unroll
                for (int b = 0; b < kMaxInt4GemvBatch; ++b) {
                    const int xb = PerRowExpert ? p : b;
                    if ((PerRowExpert && b == 0) || (!PerRowExpert && b < batch)) {
                        const std::uint16_t* xr = x + xb * ldx + c;
                        const float s = dot8(codes[u].x, __ldg(reinterpret_cast<const uint4*>(xr))) +
                                        dot8(codes[u].y, __ldg(reinterpret_cast<const uint4*>(xr + 8))) +
                                        dot8(codes[u].z, __ldg(reinterpret_cast<const uint4*>(xr + 16))) +
                                        dot8(codes[u].w, __ldg(reinterpret_cast<const uint4*>(xr + 24)));
                        acc[PerRowExpert ? 0 : b] += scale[u] * s;
                    }
                }
            }
        }
        if (PerRowExpert) {
            const float v = warpSum(acc[0]);
            acc[0] = 0.f;
            if (lane == 0) {
                const long long at = p * ldy + row;
                if (yBf16)
                    static_cast<std::uint16_t*>(y)[at] = toBf16(v);
                else
                    static_cast<float*>(y)[at] = v;
            }
        }
    }
    if (!PerRowExpert) {
#pragma unroll
        for (int b = 0; b < kMaxInt4GemvBatch; ++b) {
            if (b < batch) {
                const float v = warpSum(acc[b]);
                if (lane == 0) {
                    const long long at = b * ldy + row;
                    if (yBf16)
                        static_cast<std::uint16_t*>(y)[at] = toBf16(v);
                    else
                        static_cast<float*>(y)[at] = v;
                }
            }
        }
    }
}

} // namespace

cudaError_t launchInt4Gemv(const Int4Weights& w, const std::uint16_t* x, long long ldx, int batch,
                           const std::int32_t* expertIds, void* y, long long ldy, bool yIsBf16,
                           cudaStream_t stream)
{
    if (w.n == 0 || batch == 0)
        return cudaSuccess;
    if (!w.q || !w.scales || !x || !y || w.n < 0 || w.k <= 0 || w.k % 32 != 0 || w.groupSize <= 0 ||
        w.groupSize % 32 != 0 || batch < 0 || batch > kMaxInt4GemvBatch || ldx < w.k || ldx % 8 != 0 ||
        ldy < w.n)
        return cudaErrorInvalidValue;
    if (!detail::aligned16(x) || !detail::aligned16(w.q) || w.qExpertBytes % 16 != 0)
        return cudaErrorMisalignedAddress;
    const unsigned grid = static_cast<unsigned>((w.n + kWarpsPerBlock - 1) / kWarpsPerBlock);
    if (expertIds)
        int4GemvKernel<true>
            <<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, x, ldx, batch, expertIds, y, ldy, yIsBf16);
    else
        int4GemvKernel<false>
            <<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, x, ldx, batch, nullptr, y, ldy, yIsBf16);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
