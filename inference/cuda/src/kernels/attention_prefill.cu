// Flash-attention-2-style prefill: a block of 4 warps owns 128 query rows of one head (32 per warp,
// two m16 tiles), keeps O in registers, and walks the visible 64-key blocks from the last (the masked
// diagonal) to the first. K and V tiles come in with cp.async into an XOR-swizzled shared layout that
// ldmatrix reads without bank conflicts: V streams in while S = QK^T is computed, the next K while the
// softmax and O += PV run.
#include "quire/inference/cuda/kernels/attention_prefill.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kBM = kPrefillBlockM;
constexpr int kBN = kPrefillBlockN;
constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr float kLog2e = 1.4426950408889634f;

template <int D> constexpr int prefillSmemBytes()
{
    return (kBM + 2 * kBN) * D * 2;
}

// Element offset of 16-byte chunk `c` of row `r` in a [rows][D] bf16 tile: the chunk index is XORed
// with the row's low three bits so that eight consecutive rows of one chunk hit eight bank groups.
template <int D> __device__ __forceinline__ int swz(int r, int c)
{
    return r * D + ((c ^ (r & 7)) << 3);
}

// Loads `rows` rows of D bf16 from `src` (row stride in elements) into a swizzled tile; rows at or past
// `valid` are zero-filled.
template <int D, int Rows>
__device__ __forceinline__ void loadTile(std::uint16_t* tile, const std::uint16_t* src, long long stride,
                                         int valid)
{
    constexpr int kChunks = D / 8;
    constexpr int kRowsPerPass = kThreads / kChunks; // a multiple of 8: the swizzle is the same each pass
    constexpr int kPasses = Rows / kRowsPerPass;
    static_assert(kRowsPerPass % 8 == 0 && Rows % kRowsPerPass == 0, "tile must split evenly over the block");
    const int r0 = threadIdx.x / kChunks, c = threadIdx.x % kChunks;
    std::uint16_t* dst = tile + swz<D>(r0, c);
    const std::uint16_t* g = src + r0 * stride + c * 8;
#pragma unroll
    for (int i = 0; i < kPasses; ++i) {
        const bool ok = r0 + i * kRowsPerPass < valid;
        cpAsync16(dst + i * kRowsPerPass * D, ok ? g + i * kRowsPerPass * stride : src, ok);
    }
}

template <int D> __global__ void __launch_bounds__(kThreads, 2) prefillKernel(PrefillAttention a)
{
    constexpr int kKSteps = D / 16;  // k-steps of Q.K^T
    constexpr int kDTiles = D / 8;   // n-tiles of the O accumulator
    constexpr int kNTiles = kBN / 8; // n-tiles of S

    extern __shared__ __align__(128) std::uint16_t smem[];
    std::uint16_t* sQ = smem;
    std::uint16_t* sK = sQ + kBM * D;
    std::uint16_t* sV = sK + kBN * D;

    const int head = blockIdx.x;
    const int qBlock = gridDim.y - 1 - blockIdx.y; // heaviest (latest) query blocks first
    const int kvHead = head / (a.numQHeads / a.numKvHeads);
    const int q0 = qBlock * kBM;
    const int rowsHere = min(kBM, a.lq - q0);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane >> 2, t = lane & 3;

    // Positions fit in 32 bits (the launcher checks); 64-bit index math would cost registers.
    const int firstPos = a.qPosOffset + q0;
    const int lastPos = firstPos + rowsHere - 1;
    const int kEnd = min(a.lkv, lastPos + 1);
    const int kBegin = a.chunkSize > 0 ? (firstPos / a.chunkSize) * a.chunkSize : 0;
    const int lastChunkStart = a.chunkSize > 0 ? (lastPos / a.chunkSize) * a.chunkSize : 0;

    float o[2][kDTiles][4];
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
            for (int e = 0; e < 4; ++e)
                o[mt][dt][e] = 0.f;
    float rowMax[2][2], rowSum[2][2]; // [m tile][row g or g + 8], rowSum is this thread's partial
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            rowMax[mt][h] = -INFINITY;
            rowSum[mt][h] = 0.f;
        }

    // Per-lane ldmatrix addressing. Row offsets are multiples of 8 plus (lane & 7), so the swizzle of a
    // chunk c is c ^ (lane & 7); the lane's +1 chunk (for lanes whose matrix holds the upper 8 columns)
    // folds into the same XOR because the chunk pairs start at even indices.
    const int qRow[2] = {(warp * 32 + (lane & 7) + ((lane >> 3) & 1) * 8) * D,
                         (warp * 32 + 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * D};
    const int qXor = (lane >> 4) ^ (lane & 7);
    const int kRow = ((lane & 7) + (lane >> 4) * 8) * D;
    const int kXor = ((lane >> 3) & 1) ^ (lane & 7);
    const int vRow = ((lane & 7) + ((lane >> 3) & 1) * 8) * D;
    const int vXor = (lane >> 4) ^ (lane & 7);

    const float scaleLog2 = a.scale * kLog2e;
    const std::uint16_t* kBase = a.k + static_cast<long long>(kvHead) * D;
    const std::uint16_t* vBase = a.v + static_cast<long long>(kvHead) * D;

    if (kEnd > kBegin) {
        const int nBegin = kBegin / kBN;
        const int nEnd = (kEnd + kBN - 1) / kBN;

        loadTile<D, kBM>(sQ, a.q + static_cast<long long>(q0) * a.qStride + static_cast<long long>(head) * D,
                         a.qStride, rowsHere);
        {
            const int n = nEnd - 1;
            loadTile<D, kBN>(sK, kBase + static_cast<long long>(n) * kBN * a.kStride, a.kStride,
                             min(kBN, a.lkv - n * kBN));
        }
        cpAsyncCommit();

        for (int n = nEnd - 1; n >= nBegin; --n) {
            const int key0 = n * kBN;
            const int keysHere = min(kBN, a.lkv - key0);
            cpAsyncWait<0>();
            __syncthreads(); // K(n) and Q visible to all; every warp is done with V(n+1)
            loadTile<D, kBN>(sV, vBase + static_cast<long long>(key0) * a.vStride, a.vStride, keysHere);
            cpAsyncCommit();

            // S = Q K^T for this warp's 32 rows and the 64 keys.
            float s[2][kNTiles][4];
#pragma unroll
            for (int mt = 0; mt < 2; ++mt)
#pragma unroll
                for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
                    for (int e = 0; e < 4; ++e)
                        s[mt][nt][e] = 0.f;
#pragma unroll
            for (int ks = 0; ks < kKSteps; ++ks) {
                std::uint32_t qa[2][4];
#pragma unroll
                for (int mt = 0; mt < 2; ++mt)
                    ldmatrixX4(qa[mt], sQ + qRow[mt] + (((ks * 2) ^ qXor) << 3));
#pragma unroll
                for (int np = 0; np < kNTiles / 2; ++np) {
                    std::uint32_t kb[4];
                    ldmatrixX4(kb, sK + kRow + np * 16 * D + (((ks * 2) ^ kXor) << 3));
#pragma unroll
                    for (int mt = 0; mt < 2; ++mt) {
                        mmaBf16(s[mt][2 * np], qa[mt], kb[0], kb[1]);
                        mmaBf16(s[mt][2 * np + 1], qa[mt], kb[2], kb[3]);
                    }
                }
            }

            // Mask only where the block crosses the diagonal, a chunk start or the end of the keys.
            const bool needMask =
                key0 + kBN - 1 > firstPos || key0 + kBN > a.lkv || (a.chunkSize > 0 && key0 < lastChunkStart);
            if (needMask) {
#pragma unroll
                for (int mt = 0; mt < 2; ++mt)
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        const int pos = firstPos + warp * 32 + mt * 16 + g + h * 8;
                        const int lo = a.chunkSize > 0 ? (pos / a.chunkSize) * a.chunkSize : 0;
                        const int hi = min(pos, a.lkv - 1); // inclusive
#pragma unroll
                        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
                            for (int e = 0; e < 2; ++e) {
                                const int key = key0 + nt * 8 + t * 2 + e;
                                if (key < lo || key > hi)
                                    s[mt][nt][h * 2 + e] = -INFINITY;
                            }
                    }
            }

            cpAsyncWait<0>();
            __syncthreads(); // V(n) visible to all; every warp is done with K(n)
            if (n > nBegin) {
                loadTile<D, kBN>(sK, kBase + static_cast<long long>(key0 - kBN) * a.kStride, a.kStride, kBN);
                cpAsyncCommit();
            }

            // Online softmax: each row lives in the 4 threads of a quad.
#pragma unroll
            for (int mt = 0; mt < 2; ++mt)
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    float mx = rowMax[mt][h];
#pragma unroll
                    for (int nt = 0; nt < kNTiles; ++nt)
                        mx = fmaxf(mx, fmaxf(s[mt][nt][h * 2], s[mt][nt][h * 2 + 1]));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                    const float base = mx == -INFINITY ? 0.f : mx * scaleLog2;
                    const float alpha = fastExp2(rowMax[mt][h] * scaleLog2 - base);
                    rowMax[mt][h] = mx;
                    float sum = 0.f;
#pragma unroll
                    for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
                        for (int e = 0; e < 2; ++e) {
                            const float p = fastExp2(fmaf(s[mt][nt][h * 2 + e], scaleLog2, -base));
                            s[mt][nt][h * 2 + e] = p;
                            sum += p;
                        }
                    rowSum[mt][h] = rowSum[mt][h] * alpha + sum;
#pragma unroll
                    for (int dt = 0; dt < kDTiles; ++dt) {
                        o[mt][dt][h * 2] *= alpha;
                        o[mt][dt][h * 2 + 1] *= alpha;
                    }
                }

                // O += P V: P's accumulator layout is the A-operand layout of the next mma.
#pragma unroll
            for (int kk = 0; kk < kBN / 16; ++kk) {
                std::uint32_t pa[2][4];
#pragma unroll
                for (int mt = 0; mt < 2; ++mt) {
                    pa[mt][0] = packBf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                    pa[mt][1] = packBf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                    pa[mt][2] = packBf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                    pa[mt][3] = packBf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
                }
#pragma unroll
                for (int dp = 0; dp < D / 16; ++dp) {
                    std::uint32_t vb[4];
                    ldmatrixX4Trans(vb, sV + vRow + kk * 16 * D + (((dp * 2) ^ vXor) << 3));
#pragma unroll
                    for (int mt = 0; mt < 2; ++mt) {
                        mmaBf16(o[mt][2 * dp], pa[mt], vb[0], vb[1]);
                        mmaBf16(o[mt][2 * dp + 1], pa[mt], vb[2], vb[3]);
                    }
                }
            }
        }
    }

    // Normalise and store: thread (g, t) holds columns 2t, 2t+1 of rows g and g + 8 of each tile.
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float l = rowSum[mt][h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const float inv = l > 0.f ? 1.0f / l : 0.f;
            const int row = warp * 32 + mt * 16 + g + h * 8;
            if (row < rowsHere) {
                std::uint16_t* dst =
                    a.o + static_cast<long long>(q0 + row) * a.oStride + static_cast<long long>(head) * D;
#pragma unroll
                for (int dt = 0; dt < kDTiles; ++dt)
                    *reinterpret_cast<std::uint32_t*>(dst + dt * 8 + t * 2) =
                        packBf16(o[mt][dt][h * 2] * inv, o[mt][dt][h * 2 + 1] * inv);
            }
        }
}

template <int D> cudaError_t launchPrefill(const PrefillAttention& a, cudaStream_t stream)
{
    constexpr int smemBytes = prefillSmemBytes<D>();
    static bool configured = false; // the attribute is per function and device; setting it twice is harmless
    if (!configured) {
        if (auto e = cudaFuncSetAttribute(prefillKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          smemBytes);
            e != cudaSuccess)
            return e;
        configured = true;
    }
    const dim3 grid(static_cast<unsigned>(a.numQHeads), static_cast<unsigned>((a.lq + kBM - 1) / kBM));
    prefillKernel<D><<<grid, kThreads, smemBytes, stream>>>(a);
    return cudaGetLastError();
}

} // namespace

cudaError_t launchAttentionPrefill(const PrefillAttention& a, cudaStream_t stream)
{
    if (a.lq == 0)
        return cudaSuccess;
    if (!a.q || !a.k || !a.v || !a.o || a.lq < 0 || a.lkv < 0 || a.qPosOffset < 0 || a.numKvHeads <= 0 ||
        a.numQHeads <= 0 || a.numQHeads % a.numKvHeads != 0 || a.chunkSize < 0)
        return cudaErrorInvalidValue;
    if ((a.lq + kBM - 1) / kBM > 65535 || static_cast<long long>(a.qPosOffset) + a.lq + kBN > 0x7fffffffLL ||
        a.lkv > 0x7fffffff - kBN)
        return cudaErrorInvalidValue;
    const bool aligned = detail::aligned16(a.q) && detail::aligned16(a.k) && detail::aligned16(a.v) &&
                         detail::aligned16(a.o) && a.qStride % 8 == 0 && a.kStride % 8 == 0 &&
                         a.vStride % 8 == 0 && a.oStride % 8 == 0;
    if (!aligned)
        return cudaErrorMisalignedAddress;
    switch (a.headDim) {
    case 64:
        return launchPrefill<64>(a, stream);
    case 128:
        return launchPrefill<128>(a, stream);
    default:
        return cudaErrorInvalidValue;
    }
}

} // namespace quire::inference::cuda
