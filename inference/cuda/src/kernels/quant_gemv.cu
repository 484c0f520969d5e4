// Quantized GEMV for decode: one warp per output row walks the row's GGUF blocks, eight lanes per Q4_K or
// Q6_K super-block (32 values each) and four per Q8_0, Q4_0 or Q4_1 block (8 values each: a Q4 lane
// takes 4 bytes of nibbles, values 4j..4j+3 and 16+4j..16+4j+3), so a warp reads contiguous
// bytes; the activations (bf16, up to kMaxGemvBatch rows) come in 16-byte loads that L1 serves to all
// warps. Sums are fp32: sum((d*sc*q - m) * x) is taken as d*sc*sum(q*x) - m*sum(x).
#include "quire/inference/cuda/kernels/quant.cuh"

#include "quant_blocks.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kWarpsPerBlock = 8;

__device__ __forceinline__ void load8x(const std::uint16_t* x, float (&v)[8])
{
    const uint4 w = __ldg(reinterpret_cast<const uint4*>(x));
    v[0] = bf16Lo(w.x);
    v[1] = bf16Hi(w.x);
    v[2] = bf16Lo(w.y);
    v[3] = bf16Hi(w.y);
    v[4] = bf16Lo(w.z);
    v[5] = bf16Hi(w.z);
    v[6] = bf16Lo(w.w);
    v[7] = bf16Hi(w.w);
}

template <QuantType T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemvKernel(const std::uint8_t* w, int n, int k, const std::uint16_t* x, int batch, void* y, bool yBf16)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rowIdx = blockIdx.x * kWarpsPerBlock + warp;
    if (rowIdx >= n)
        return;
    const std::uint8_t* row = w + static_cast<long long>(rowIdx) * quantRowBytes(T, k);
    float acc[kMaxGemvBatch];
#pragma unroll
    for (int b = 0; b < kMaxGemvBatch; ++b)
        acc[b] = 0.f;

    if constexpr (T == QuantType::Q4_K) {
        const int blocks = k / 256;
        const int sub = lane & 7, j = sub >> 1, h = sub & 1;
#pragma unroll 2
        for (int sb = lane >> 3; sb < blocks; sb += 4) {
            const std::uint8_t* blk = row + static_cast<long long>(sb) * 144;
            const std::uint32_t dd = __ldg(reinterpret_cast<const unsigned*>(blk));
            const float d = halfBits(static_cast<std::uint16_t>(dd & 0xffffu));
            const float dmin = halfBits(static_cast<std::uint16_t>(dd >> 16));
            const uint4 sc = __ldg(reinterpret_cast<const uint4*>(blk)); // bytes 0..15: d, dmin, scales
            int sc0, m0, sc1, m1;
            q4kScaleMin(2 * j, sc.y, sc.z, sc.w, sc0, m0);
            q4kScaleMin(2 * j + 1, sc.y, sc.z, sc.w, sc1, m1);
            const uint4 q = __ldg(reinterpret_cast<const uint4*>(blk + 16 + 32 * j + 16 * h));
            const std::uint32_t qw[4] = {q.x, q.y, q.z, q.w};
            const float d0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
            const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
            const int e0 = sb * 256 + 64 * j + 16 * h; // low nibbles: sub-block 2j; high: 2j+1 (+32)
#pragma unroll
            for (int b = 0; b < kMaxGemvBatch; ++b) {
                if (b < batch) {
                    const std::uint16_t* xb = x + static_cast<long long>(b) * k;
                    float qxLo = 0.f, xLo = 0.f, qxHi = 0.f, xHi = 0.f;
#pragma unroll
                    for (int half = 0; half < 2; ++half) {
                        float lo[8], hi[8];
                        load8x(xb + e0 + 8 * half, lo);
                        load8x(xb + e0 + 32 + 8 * half, hi);
#pragma unroll
                        for (int i = 0; i < 8; ++i) {
                            const std::uint32_t byte = (qw[half * 2 + (i >> 2)] >> (8 * (i & 3))) & 0xffu;
                            qxLo += static_cast<float>(byte & 0x0fu) * lo[i];
                            xLo += lo[i];
                            qxHi += static_cast<float>(byte >> 4) * hi[i];
                            xHi += hi[i];
                        }
                    }
                    acc[b] += d0 * qxLo - min0 * xLo + d1 * qxHi - min1 * xHi;
                }
            }
        }
    } else if constexpr (T == QuantType::Q6_K) {
        const int blocks = k / 256;
        const int sub = lane & 7, nh = sub >> 2, l0 = (sub & 3) * 8, is = (sub & 3) >> 1;
#pragma unroll 2
        for (int sb = lane >> 3; sb < blocks; sb += 4) {
            const std::uint8_t* blk = row + static_cast<long long>(sb) * 210;
            const uint2 qlA = ld8Bytes(blk + 64 * nh + l0);
            const uint2 qlB = ld8Bytes(blk + 64 * nh + 32 + l0);
            const uint2 qh = ld8Bytes(blk + 128 + 32 * nh + l0);
            // This lane's four scales are bytes is, is+2, is+4, is+6 of the half's eight: byte `is` of
            // each of the four 16-bit words.
            const std::uint8_t* scales = blk + 192 + 8 * nh;
            const float d = halfBits(ldU16(blk + 208));
            float ds[4];
#pragma unroll
            for (int p = 0; p < 4; ++p)
                ds[p] = d * static_cast<float>(
                                static_cast<std::int8_t>((ldU16(scales + 2 * p) >> (8 * is)) & 0xffu));
            const int e0 = sb * 256 + 128 * nh + l0;
#pragma unroll
            for (int b = 0; b < kMaxGemvBatch; ++b) {
                if (b < batch) {
                    const std::uint16_t* xb = x + static_cast<long long>(b) * k;
                    float sum = 0.f;
#pragma unroll
                    for (int part = 0; part < 4; ++part) {
                        float xv[8];
                        load8x(xb + e0 + 32 * part, xv);
                        float qx = 0.f;
#pragma unroll
                        for (int i = 0; i < 8; ++i) {
                            const int low = part & 1 ? byteOf(qlB, i) : byteOf(qlA, i);
                            const int nib = part >= 2 ? (low >> 4) : (low & 0x0f);
                            const int high = (byteOf(qh, i) >> (2 * part)) & 3;
                            qx += static_cast<float>((nib | (high << 4)) - 32) * xv[i];
                        }
                        sum += ds[part] * qx;
                    }
                    acc[b] += sum;
                }
            }
        }
    } else if constexpr (T == QuantType::Q4_0 || T == QuantType::Q4_1) {
        constexpr int kBytes = quantBlockBytes(T);
        const int blocks = k / 32;
        const int sub = lane & 3;
#pragma unroll 2
        for (int bi = lane >> 2; bi < blocks; bi += 8) {
            const std::uint8_t* blk = row + static_cast<long long>(bi) * kBytes;
            float d, mn;
            std::uint32_t qw;
            if constexpr (T == QuantType::Q4_1) { // 20-byte blocks: 4-byte aligned words
                const std::uint32_t dm = __ldg(reinterpret_cast<const unsigned*>(blk));
                d = halfBits(static_cast<std::uint16_t>(dm & 0xffffu));
                mn = halfBits(static_cast<std::uint16_t>(dm >> 16));
                qw = __ldg(reinterpret_cast<const unsigned*>(blk + 4 + 4 * sub));
            } else { // 18-byte blocks: 2-byte aligned
                d = halfBits(ldU16(blk));
                mn = -8.f * d;
                qw = static_cast<std::uint32_t>(ldU16(blk + 2 + 4 * sub)) |
                     (static_cast<std::uint32_t>(ldU16(blk + 4 + 4 * sub)) << 16);
            }
            const int e0 = bi * 32 + 4 * sub;
#pragma unroll
            for (int b = 0; b < kMaxGemvBatch; ++b) {
                if (b < batch) {
                    const std::uint16_t* xb = x + static_cast<long long>(b) * k + e0;
                    const uint2 lo = __ldg(reinterpret_cast<const uint2*>(xb));
                    const uint2 hi = __ldg(reinterpret_cast<const uint2*>(xb + 16));
                    const float xl[4] = {bf16Lo(lo.x), bf16Hi(lo.x), bf16Lo(lo.y), bf16Hi(lo.y)};
                    const float xh[4] = {bf16Lo(hi.x), bf16Hi(hi.x), bf16Lo(hi.y), bf16Hi(hi.y)};
                    float qx = 0.f, xs = 0.f;
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        const std::uint32_t byte = (qw >> (8 * i)) & 0xffu;
                        qx +=
                            static_cast<float>(byte & 0x0fu) * xl[i] + static_cast<float>(byte >> 4) * xh[i];
                        xs += xl[i] + xh[i];
                    }
                    acc[b] += d * qx + mn * xs;
                }
            }
        }
    } else { // Q8_0
        const int blocks = k / 32;
        const int sub = lane & 3;
#pragma unroll 2
        for (int bi = lane >> 2; bi < blocks; bi += 8) {
            const std::uint8_t* blk = row + static_cast<long long>(bi) * 34;
            const float d = halfBits(ldU16(blk));
            const uint2 q = ld8Bytes(blk + 2 + 8 * sub);
            const int e0 = bi * 32 + 8 * sub;
#pragma unroll
            for (int b = 0; b < kMaxGemvBatch; ++b) {
                if (b < batch) {
                    float xv[8];
                    load8x(x + static_cast<long long>(b) * k + e0, xv);
                    float qx = 0.f;
#pragma unroll
                    for (int i = 0; i < 8; ++i)
                        qx += static_cast<float>(static_cast<std::int8_t>(byteOf(q, i))) * xv[i];
                    acc[b] += d * qx;
                }
            }
        }
    }

#pragma unroll
    for (int b = 0; b < kMaxGemvBatch; ++b) {
        if (b < batch) {
            const float v = warpSum(acc[b]);
            if (lane == 0) {
                const long long at = static_cast<long long>(b) * n + rowIdx;
                if (yBf16)
                    static_cast<std::uint16_t*>(y)[at] = toBf16(v);
                else
                    static_cast<float*>(y)[at] = v;
            }
        }
    }
}

} // namespace

cudaError_t launchQuantGemv(QuantType type, const void* w, int n, int k, const std::uint16_t* x, int batch,
                            void* y, bool yIsBf16, cudaStream_t stream)
{
    if (n == 0 || batch == 0)
        return cudaSuccess;
    if (!w || !x || !y || n < 0 || k <= 0 || batch < 0 || batch > kMaxGemvBatch ||
        k % quantBlockValues(type) != 0)
        return cudaErrorInvalidValue;
    if (!detail::aligned16(x) || (type == QuantType::Q4_K && !detail::aligned16(w)) ||
        (type == QuantType::Q4_1 && (reinterpret_cast<std::uintptr_t>(w) & 3u)) ||
        (reinterpret_cast<std::uintptr_t>(w) & 1u))
        return cudaErrorMisalignedAddress;
    const unsigned grid = static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
    const auto* wb = static_cast<const std::uint8_t*>(w);
    switch (type) {
    case QuantType::Q4_0:
        gemvKernel<QuantType::Q4_0><<<grid, kWarpsPerBlock * 32, 0, stream>>>(wb, n, k, x, batch, y, yIsBf16);
        break;
    case QuantType::Q4_1:
        gemvKernel<QuantType::Q4_1><<<grid, kWarpsPerBlock * 32, 0, stream>>>(wb, n, k, x, batch, y, yIsBf16);
        break;
    case QuantType::Q8_0:
        gemvKernel<QuantType::Q8_0><<<grid, kWarpsPerBlock * 32, 0, stream>>>(wb, n, k, x, batch, y, yIsBf16);
        break;
    case QuantType::Q4_K:
        gemvKernel<QuantType::Q4_K><<<grid, kWarpsPerBlock * 32, 0, stream>>>(wb, n, k, x, batch, y, yIsBf16);
        break;
    case QuantType::Q6_K:
        gemvKernel<QuantType::Q6_K><<<grid, kWarpsPerBlock * 32, 0, stream>>>(wb, n, k, x, batch, y, yIsBf16);
        break;
    default:
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
