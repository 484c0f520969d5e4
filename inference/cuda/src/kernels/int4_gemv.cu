// The int4 GEMV for decode (kernels/int4.cuh), two kernels. Groups of 128 (the loader's): the tensor-core
// kernel below. Otherwise: a warp per output row; each lane takes 32 consecutive
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

__device__ __forceinline__ float dot8(std::uint32_t codes, uint4 xw)
{
    // codes: eight nibbles, value 2i low and 2i+1 high of byte i; x: eight bf16.
    const std::uint32_t xs[4] = {xw.x, xw.y, xw.z, xw.w};
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int lo = static_cast<int>((codes >> (8 * i)) & 0xfu) - 8;
        const int hi = static_cast<int>((codes >> (8 * i + 4)) & 0xfu) - 8;
        s += static_cast<float>(lo) * bf16Lo(xs[i]) + static_cast<float>(hi) * bf16Hi(xs[i]);
    }
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
        for (int c = lane * 32; c < w.k; c += 32 * 32) {
            const uint4 codes = __ldg(reinterpret_cast<const uint4*>(qRow + c / 2));
            const float scale = __ldg(sc + static_cast<long long>(c / w.groupSize) * w.n);
#pragma unroll
            for (int b = 0; b < kMaxInt4GemvBatch; ++b) {
                const int xb = PerRowExpert ? p : b;
                if ((PerRowExpert && b == 0) || (!PerRowExpert && b < batch)) {
                    const std::uint16_t* xr = x + xb * ldx + c;
                    const float s = dot8(codes.x, __ldg(reinterpret_cast<const uint4*>(xr))) +
                                    dot8(codes.y, __ldg(reinterpret_cast<const uint4*>(xr + 8))) +
                                    dot8(codes.z, __ldg(reinterpret_cast<const uint4*>(xr + 16))) +
                                    dot8(codes.w, __ldg(reinterpret_cast<const uint4*>(xr + 24)));
                    acc[PerRowExpert ? 0 : b] += scale * s;
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

// The tensor-core GEMV (groups of 128, k a multiple of 128, n a multiple of 16): a block of 8 warps takes
// 16 output rows; warp w takes the 128-value groups w, w + 8, ... of the row and the warps add up in shared
// memory. Per group a thread loads 16 bytes of rows g and g + 8 (values 32t .. 32t + 31 of the group), turns
// nibble pairs into exact bf16 pairs (bits 0x4300 | u are the bf16 128 + u; one subtraction of 136 gives
// u - 8) and runs eight m16n8k16 mma with x as the B operand (column n: row n of x; with per-row experts one
// pass per row of x, in column 0). The k order inside the group is permuted (value 8w + m of the thread's
// 32, nibble m and m + 4 of word w paired), and x's B fragments follow the same order. The group's product
// is multiplied by the row's scale in fp32.
constexpr int kTcWarps = 8;
constexpr int kTcRows = 16;
constexpr int kTcGroup = 128;

__device__ __forceinline__ std::uint32_t nibblePairBf16(std::uint32_t word, int m)
{
    // Nibbles m (low half) and m + 4 (high half) of `word` as bf16 (u - 8), exactly.
    const std::uint32_t biased = ((word >> (4 * m)) & 0x000F000Fu) | 0x43004300u;
    const __nv_bfloat162 r =
        __hsub2(*reinterpret_cast<const __nv_bfloat162*>(&biased),
                __halves2bfloat162(__ushort_as_bfloat16(0x4308), __ushort_as_bfloat16(0x4308)));
    return *reinterpret_cast<const std::uint32_t*>(&r);
}

template <bool PerRowExpert>
__global__ void __launch_bounds__(kTcWarps * 32)
    int4GemvTcKernel(Int4Weights w, const std::uint16_t* x, long long ldx, int batch,
                     const std::int32_t* expertIds, void* y, long long ldy, bool yBf16)
{
    __shared__ float partial[kTcWarps][32][4];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    const int r0 = blockIdx.x * kTcRows;
    const long long rowBytes = w.k / 2;
    const int groups = w.k / kTcGroup;
    const int passes = PerRowExpert ? batch : 1;
    for (int p = 0; p < passes; ++p) {
        const long long e = PerRowExpert ? expertIds[p] : 0;
        const std::uint8_t* q0 =
            w.q + e * w.qExpertBytes + static_cast<long long>(r0 + g) * rowBytes + 16 * t;
        const std::uint8_t* q1 = q0 + 8 * rowBytes;
        const float* sc = w.scales + e * w.scaleExpertFloats + r0 + g;
        // This thread's column of B: row g of x (row p in column 0 with per-row experts), zero past the
        // batch.
        const int xRow = PerRowExpert ? p : g;
        const bool xLive = PerRowExpert ? g == 0 : g < batch;
        const std::uint16_t* xr = x + static_cast<long long>(xRow) * ldx + 32 * t;
        float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll 2
        for (int grp = warp; grp < groups; grp += kTcWarps) {
            const uint4 wa = __ldg(reinterpret_cast<const uint4*>(q0 + grp * (kTcGroup / 2)));
            const uint4 wb = __ldg(reinterpret_cast<const uint4*>(q1 + grp * (kTcGroup / 2)));
            uint4 xv[4];
#pragma unroll
            for (int i = 0; i < 4; ++i)
                xv[i] = xLive ? __ldg(reinterpret_cast<const uint4*>(xr + grp * kTcGroup + 8 * i))
                              : make_uint4(0u, 0u, 0u, 0u);
            const std::uint32_t wa4[4] = {wa.x, wa.y, wa.z, wa.w}, wb4[4] = {wb.x, wb.y, wb.z, wb.w};
            float part[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
            for (int q = 0; q < 8; ++q) {
                const int wi = q / 2, h = q % 2;
                const std::uint32_t a[4] = {nibblePairBf16(wa4[wi], 2 * h), nibblePairBf16(wb4[wi], 2 * h),
                                            nibblePairBf16(wa4[wi], 2 * h + 1),
                                            nibblePairBf16(wb4[wi], 2 * h + 1)};
                // x values 8 wi + 2h (+4) and 8 wi + 2h + 1 (+5): words h and h + 2 of the 8 values.
                const std::uint32_t xs[4] = {xv[wi].x, xv[wi].y, xv[wi].z, xv[wi].w};
                const std::uint32_t b0 = __byte_perm(xs[h], xs[h + 2], 0x5410);
                const std::uint32_t b1 = __byte_perm(xs[h], xs[h + 2], 0x7632);
                mmaBf16(part, a, b0, b1);
            }
            const float s0 = __ldg(sc + static_cast<long long>(grp) * w.n);
            const float s1 = __ldg(sc + static_cast<long long>(grp) * w.n + 8);
            acc[0] = fmaf(s0, part[0], acc[0]);
            acc[1] = fmaf(s0, part[1], acc[1]);
            acc[2] = fmaf(s1, part[2], acc[2]);
            acc[3] = fmaf(s1, part[3], acc[3]);
        }
#pragma unroll
        for (int i = 0; i < 4; ++i)
            partial[warp][lane][i] = acc[i];
        __syncthreads();
        if (warp == 0) {
            float sum[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                sum[i] = 0.f;
#pragma unroll
                for (int v = 0; v < kTcWarps; ++v)
                    sum[i] += partial[v][lane][i];
            }
            // c0, c1: row g, columns 2t, 2t + 1; c2, c3: row g + 8.
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int col = 2 * t + (i & 1);
                const int row = r0 + g + 8 * (i >> 1);
                const bool live = PerRowExpert ? col == 0 : col < batch;
                if (live) {
                    const long long at = static_cast<long long>(PerRowExpert ? p : col) * ldy + row;
                    if (yBf16)
                        static_cast<std::uint16_t*>(y)[at] = toBf16(sum[i]);
                    else
                        static_cast<float*>(y)[at] = sum[i];
                }
            }
        }
        __syncthreads();
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
    if (w.groupSize == kTcGroup && w.k % kTcGroup == 0 && w.n % kTcRows == 0 && w.qExpertBytes % 16 == 0) {
        const unsigned tcGrid = static_cast<unsigned>(w.n / kTcRows);
        if (expertIds)
            int4GemvTcKernel<true>
                <<<tcGrid, kTcWarps * 32, 0, stream>>>(w, x, ldx, batch, expertIds, y, ldy, yIsBf16);
        else
            int4GemvTcKernel<false>
                <<<tcGrid, kTcWarps * 32, 0, stream>>>(w, x, ldx, batch, nullptr, y, ldy, yIsBf16);
        return cudaGetLastError();
    }
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
