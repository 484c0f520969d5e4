// Split-K decode attention over the fp8 paged KV of a global layer (kernels/kv_fp8.cuh), two kernels.
//
// Tensor cores (head dim 64 or 128, up to 16 query heads per KV head, pages a multiple of 16 tokens): a
// block of 4 warps takes one KV head of one sequence and a split of keys sized so that the grid fills the
// card (a multiple of kFp8DecodeSplit); warp w takes 16-key chunks w, w + 4, ... straight from global memory
// into registers, the next chunk's loads issued before the current chunk is computed. Per chunk: S = Q K^T on
// m16n8k16 f16 mma (the group's query heads, pre-scaled by the softmax scale, are the 16 rows), the online
// softmax, O += P V. The fp8 bytes become f16 pairs by the hardware conversion (e4m3 values are exact in
// f16); the dot product's k order is permuted so that a thread's key bytes are contiguous (thread t of a
// quad holds dims 16 (t + 4m) + 0..15 of its keys, the Q fragments use the same order), and the output's
// columns so that a thread's V bytes are contiguous (n-tile dt, column n is dim n * D/8 + dt). The chunk's
// page scales multiply S (K) and the chunk's P V product (V) in fp32. The warps merge in shared memory; the
// block writes one partial per query head.
//
// CUDA cores (the rest): a block of 4 warps takes one KV head of one sequence and kFp8DecodeSplit keys: each
// thread scores whole keys (its key's d bytes in 16-byte loads, decoded and dotted with the group's queries
// held in shared memory as f32, the page scale applied to the dot), the warps take the split's softmax
// statistics per query head, then each thread owns one dimension of the output and sums p * v over the split
// (a key's d bytes are read by d consecutive threads). Partial outputs, maxima and sums go to the workspace;
// the merge kernel combines the splits of each query head.
#include "quire/inference/cuda/kernels/kv_fp8.cuh"

#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kThreads = 128;
constexpr int kR = kFp8DecodeMaxGroup;
constexpr int kSplit = kFp8DecodeSplit;

__device__ __forceinline__ float fp8ToFloat(std::uint32_t b)
{
    const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(b & 0xffu), __NV_E4M3);
    return __half2float(__half(h));
}

int splitsFor(int len)
{
    return (len + kSplit - 1) / kSplit;
}

template <int D> __global__ void __launch_bounds__(kThreads) decodeKernel(Fp8DecodeAttention a, int maxSplits)
{
    __shared__ float qs[kR][D];
    __shared__ float p[kR][kSplit];
    __shared__ float rowMax[kR], rowSum[kR];

    const int h = blockIdx.x, split = blockIdx.y, b = blockIdx.z;
    const int G = a.cache.numKvHeads, ps = a.cache.pageSize;
    const int R = a.numQHeads / G;
    const int len = a.seqLens[b];
    const int k0 = split * kSplit, k1 = min(len, k0 + kSplit);
    const long long statBase =
        (static_cast<long long>(b) * a.numQHeads + static_cast<long long>(h) * R) * maxSplits;
    float* wsO = a.workspace;
    float* wsM = a.workspace + static_cast<long long>(a.batch) * a.numQHeads * maxSplits * D;
    float* wsL = wsM + static_cast<long long>(a.batch) * a.numQHeads * maxSplits;
    if (k0 >= k1) { // past this sequence's keys: an empty split
        if (threadIdx.x < R) {
            wsM[statBase + static_cast<long long>(threadIdx.x) * maxSplits + split] = -INFINITY;
            wsL[statBase + static_cast<long long>(threadIdx.x) * maxSplits + split] = 0.f;
        }
        return;
    }
    const std::int32_t* table = a.pageTable + static_cast<long long>(b) * a.maxPagesPerSeq;

    for (int i = threadIdx.x; i < R * D; i += kThreads)
        qs[i / D][i % D] =
            bf16Bits(a.q[(static_cast<long long>(b) * a.numQHeads + h * R + i / D) * D + i % D]);
    __syncthreads();

    // Scores: a thread per key.
    for (int j = k0 + threadIdx.x; j < k1; j += kThreads) {
        const long long page = table[j / ps];
        const std::uint8_t* kr = a.cache.kPages + ((page * ps + j % ps) * G + h) * D;
        float acc[kR];
#pragma unroll
        for (int r = 0; r < kR; ++r)
            acc[r] = 0.f;
#pragma unroll 2
        for (int c = 0; c < D; c += 16) {
            const uint4 w = __ldg(reinterpret_cast<const uint4*>(kr + c));
            const std::uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
            for (int i = 0; i < 16; ++i) {
                const float f = fp8ToFloat(words[i / 4] >> (8 * (i % 4)));
#pragma unroll
                for (int r = 0; r < kR; ++r)
                    if (r < R)
                        acc[r] += f * qs[r][c + i];
            }
        }
        const float ks = a.cache.kScales[page * G + h] * a.scale;
#pragma unroll
        for (int r = 0; r < kR; ++r)
            if (r < R)
                p[r][j - k0] = acc[r] * ks;
    }
    __syncthreads();

    // Softmax statistics of the split, a warp per query head.
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, n = k1 - k0;
    for (int r = warp; r < R; r += kThreads / 32) {
        float m = -INFINITY;
        for (int j = lane; j < n; j += 32)
            m = fmaxf(m, p[r][j]);
        m = warpMax(m);
        float l = 0.f;
        for (int j = lane; j < n; j += 32) {
            const float e = expf(p[r][j] - m);
            p[r][j] = e;
            l += e;
        }
        l = warpSum(l);
        if (lane == 0) {
            rowMax[r] = m;
            rowSum[r] = l;
        }
    }
    __syncthreads();

    // Output: a thread per dimension.
    for (int d = threadIdx.x; d < D; d += kThreads) {
        float o[kR];
#pragma unroll
        for (int r = 0; r < kR; ++r)
            o[r] = 0.f;
        for (int j = k0; j < k1; ++j) {
            const long long page = table[j / ps];
            const float f = fp8ToFloat(a.cache.vPages[((page * ps + j % ps) * G + h) * D + d]) *
                            a.cache.vScales[page * G + h];
#pragma unroll
            for (int r = 0; r < kR; ++r)
                if (r < R)
                    o[r] += p[r][j - k0] * f;
        }
#pragma unroll
        for (int r = 0; r < kR; ++r)
            if (r < R)
                wsO[((statBase + static_cast<long long>(r) * maxSplits) + split) * D + d] = o[r];
    }
    if (threadIdx.x < R) {
        wsM[statBase + static_cast<long long>(threadIdx.x) * maxSplits + split] = rowMax[threadIdx.x];
        wsL[statBase + static_cast<long long>(threadIdx.x) * maxSplits + split] = rowSum[threadIdx.x];
    }
}

constexpr int kTcWarps = 4;
constexpr int kTcThreads = kTcWarps * 32;
constexpr int kTcChunk = 16;
constexpr int kTcRows = 16;

__device__ __forceinline__ std::uint32_t f16x2FromFp8x2(std::uint32_t pair)
{
    const __half2_raw h =
        __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(pair & 0xffffu), __NV_E4M3);
    return std::uint32_t(h.x) | (std::uint32_t(h.y) << 16);
}

__device__ __forceinline__ std::uint32_t packF16(float lo, float hi)
{
    return std::uint32_t(__half_as_ushort(__float2half_rn(lo))) |
           (std::uint32_t(__half_as_ushort(__float2half_rn(hi))) << 16);
}

// One chunk's bytes as a thread holds them: K of keys g and g + 8 (D/64 16-byte pieces each, pieces t, t + 4,
// ... of the row), V of keys 2t, 2t + 1, 2t + 8, 2t + 9 (bytes g * D/8 .. + D/8 of each row).
template <int D> struct TcChunk {
    uint4 k[2][D / 64];
    std::uint32_t v[4][D / 32];
};

template <int D>
__device__ __forceinline__ void tcLoad(TcChunk<D>& c, const std::uint8_t* kBase, const std::uint8_t* vBase,
                                       long long rowStride, int valid, int g, int t)
{
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int key = g + 8 * h;
#pragma unroll
        for (int m = 0; m < D / 64; ++m)
            c.k[h][m] =
                key < valid
                    ? __ldg(reinterpret_cast<const uint4*>(kBase + key * rowStride + 16 * (t + 4 * m)))
                    : make_uint4(0u, 0u, 0u, 0u);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int key = 2 * t + (i & 1) + 8 * (i >> 1);
        const std::uint8_t* row = vBase + key * rowStride + g * (D / 8);
        if constexpr (D == 128) {
            const uint4 w =
                key < valid ? __ldg(reinterpret_cast<const uint4*>(row)) : make_uint4(0u, 0u, 0u, 0u);
            c.v[i][0] = w.x;
            c.v[i][1] = w.y;
            c.v[i][2] = w.z;
            c.v[i][3] = w.w;
        } else {
            const uint2 w = key < valid ? __ldg(reinterpret_cast<const uint2*>(row)) : make_uint2(0u, 0u);
            c.v[i][0] = w.x;
            c.v[i][1] = w.y;
        }
    }
}

template <int D>
__global__ void __launch_bounds__(kTcThreads, 2)
    decodeTcKernel(Fp8DecodeAttention a, int maxSplits, int splitKeys)
{
    constexpr int kKSteps = D / 16;
    constexpr int kDTiles = D / 8;
    constexpr float kLog2e = 1.4426950408889634f;
    __shared__ float sO[kTcWarps][kTcRows][D];
    __shared__ float sM[kTcWarps][kTcRows], sL[kTcWarps][kTcRows];

    const int split = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    const int G = a.cache.numKvHeads, ps = a.cache.pageSize;
    const int R = a.numQHeads / G;
    const int len = a.seqLens[b];
    const int k0 = split * splitKeys, k1 = min(len, k0 + splitKeys);
    const long long statBase =
        (static_cast<long long>(b) * a.numQHeads + static_cast<long long>(h) * R) * maxSplits;
    float* wsO = a.workspace;
    float* wsM = a.workspace + static_cast<long long>(a.batch) * a.numQHeads * maxSplits * D;
    float* wsL = wsM + static_cast<long long>(a.batch) * a.numQHeads * maxSplits;
    if (k0 >= k1) // past this sequence's keys: the merge never reads this split
        return;
    const std::int32_t* table = a.pageTable + static_cast<long long>(b) * a.maxPagesPerSeq;
    const long long rowStride = static_cast<long long>(G) * D;

    // Q (rows g and g + 8: query heads of this KV head, zero past R), times the softmax scale, as f16 A
    // fragments in the permuted k order: k-step ks covers dims 16 (t + 4 (ks / 4)) + 4 (ks % 4) + 0..3.
    std::uint32_t qa[kKSteps][4];
    {
        const std::uint16_t* q0 = a.q + (static_cast<long long>(b) * a.numQHeads + h * R) * D;
#pragma unroll
        for (int ks = 0; ks < kKSteps; ++ks) {
            const int d = 16 * (t + 4 * (ks / 4)) + 4 * (ks % 4);
            float v[2][4];
#pragma unroll
            for (int r = 0; r < 2; ++r)
#pragma unroll
                for (int j = 0; j < 4; ++j)
                    v[r][j] = g + 8 * r < R ? bf16Bits(q0[(g + 8 * r) * D + d + j]) * a.scale : 0.f;
            qa[ks][0] = packF16(v[0][0], v[0][1]);
            qa[ks][1] = packF16(v[1][0], v[1][1]);
            qa[ks][2] = packF16(v[0][2], v[0][3]);
            qa[ks][3] = packF16(v[1][2], v[1][3]);
        }
    }

    float o[kDTiles][4];
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            o[dt][e] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}; // rows g, g + 8; l is this thread's part

    const int nChunks = (k1 - k0 + kTcChunk - 1) / kTcChunk;
    // The chunk's rows: keys c0 .. c0 + 15 lie in one page (pages are a multiple of 16 tokens).
    const auto rowOf = [&](int c0) { return static_cast<long long>(table[c0 / ps]) * ps + c0 % ps; };
    TcChunk<D> cur, nxt;
    int ci = warp;
    if (ci < nChunks) {
        const int c0 = k0 + ci * kTcChunk;
        const long long row = rowOf(c0);
        tcLoad<D>(cur, a.cache.kPages + row * rowStride + h * D, a.cache.vPages + row * rowStride + h * D,
                  rowStride, k1 - c0, g, t);
    }
    for (; ci < nChunks; ci += kTcWarps) {
        const int c0 = k0 + ci * kTcChunk;
        const int next = ci + kTcWarps;
        if (next < nChunks) {
            const int n0 = k0 + next * kTcChunk;
            const long long row = rowOf(n0);
            tcLoad<D>(nxt, a.cache.kPages + row * rowStride + h * D, a.cache.vPages + row * rowStride + h * D,
                      rowStride, k1 - n0, g, t);
        }
        const long long page = table[c0 / ps];
        const float kScale = a.cache.kScales[page * G + h];
        const float vScale = a.cache.vScales[page * G + h];

        // S = Q K^T: 16 rows x 16 keys (two n-tiles of 8).
        float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
        for (int ks = 0; ks < kKSteps; ++ks) {
#pragma unroll
            for (int nt = 0; nt < 2; ++nt) {
                const uint4 piece = cur.k[nt][ks / 4];
                const std::uint32_t word = (ks % 4) == 0   ? piece.x
                                           : (ks % 4) == 1 ? piece.y
                                           : (ks % 4) == 2 ? piece.z
                                                           : piece.w;
                mmaF16(s[nt], qa[ks], f16x2FromFp8x2(word), f16x2FromFp8x2(word >> 16));
            }
        }
        const int valid = k1 - c0;
#pragma unroll
        for (int nt = 0; nt < 2; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
                s[nt][e] *= kScale;
                if (nt * 8 + 2 * t + (e & 1) >= valid)
                    s[nt][e] = -INFINITY;
            }

        // Online softmax per row (a row lives in the 4 threads of a quad); the chunk has a valid key.
        float p[2][4];
#pragma unroll
        for (int hr = 0; hr < 2; ++hr) {
            float mx = fmaxf(fmaxf(s[0][2 * hr], s[0][2 * hr + 1]), fmaxf(s[1][2 * hr], s[1][2 * hr + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mNew = fmaxf(m[hr], mx);
            const float alpha = fastExp2((m[hr] - mNew) * kLog2e);
            m[hr] = mNew;
            float sum = 0.f;
#pragma unroll
            for (int nt = 0; nt < 2; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const float pv = fastExp2((s[nt][2 * hr + e] - mNew) * kLog2e);
                    p[nt][2 * hr + e] = pv;
                    sum += pv;
                }
            l[hr] = l[hr] * alpha + sum;
#pragma unroll
            for (int dt = 0; dt < kDTiles; ++dt) {
                o[dt][2 * hr] *= alpha;
                o[dt][2 * hr + 1] *= alpha;
            }
        }

        // O += vScale * (P V): P as the A fragment (keys 2t, 2t + 1 from n-tile 0, 2t + 8, 2t + 9 from 1).
        const std::uint32_t pa[4] = {packF16(p[0][0], p[0][1]), packF16(p[0][2], p[0][3]),
                                     packF16(p[1][0], p[1][1]), packF16(p[1][2], p[1][3])};
#pragma unroll
        for (int wi = 0; wi < D / 32; ++wi) {
            // Keys (2t, 2t + 1) and (2t + 8, 2t + 9) interleaved byte by byte: four dims each.
            const std::uint32_t lo0 = __byte_perm(cur.v[0][wi], cur.v[1][wi], 0x5140);
            const std::uint32_t hi0 = __byte_perm(cur.v[0][wi], cur.v[1][wi], 0x7362);
            const std::uint32_t lo1 = __byte_perm(cur.v[2][wi], cur.v[3][wi], 0x5140);
            const std::uint32_t hi1 = __byte_perm(cur.v[2][wi], cur.v[3][wi], 0x7362);
            const std::uint32_t b0[4] = {f16x2FromFp8x2(lo0), f16x2FromFp8x2(lo0 >> 16), f16x2FromFp8x2(hi0),
                                         f16x2FromFp8x2(hi0 >> 16)};
            const std::uint32_t b1[4] = {f16x2FromFp8x2(lo1), f16x2FromFp8x2(lo1 >> 16), f16x2FromFp8x2(hi1),
                                         f16x2FromFp8x2(hi1 >> 16)};
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                float pv[4] = {0.f, 0.f, 0.f, 0.f};
                mmaF16(pv, pa, b0[j], b1[j]);
                const int dt = 4 * wi + j;
#pragma unroll
                for (int e = 0; e < 4; ++e)
                    o[dt][e] = fmaf(vScale, pv[e], o[dt][e]);
            }
        }
        if (next < nChunks)
            cur = nxt;
    }

    // Merge the warps: each writes its rows' (max, sum) and O (columns back in dim order) to shared memory.
#pragma unroll
    for (int hr = 0; hr < 2; ++hr) {
        float sum = l[hr];
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        sum += __shfl_xor_sync(0xffffffffu, sum, 2);
        if (t == 0) {
            sM[warp][g + 8 * hr] = m[hr];
            sL[warp][g + 8 * hr] = sum;
        }
#pragma unroll
        for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
            for (int e = 0; e < 2; ++e)
                sO[warp][g + 8 * hr][(2 * t + e) * (D / 8) + dt] = o[dt][2 * hr + e];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < R * D; i += kTcThreads) {
        const int r = i / D, d = i % D;
        float mx = -INFINITY;
#pragma unroll
        for (int w = 0; w < kTcWarps; ++w)
            mx = fmaxf(mx, sM[w][r]);
        float sum = 0.f, acc = 0.f;
#pragma unroll
        for (int w = 0; w < kTcWarps; ++w) {
            if (sM[w][r] == -INFINITY) // a warp without a chunk
                continue;
            const float f = fastExp2((sM[w][r] - mx) * kLog2e);
            sum += sL[w][r] * f;
            acc += sO[w][r][d] * f;
        }
        const long long at = statBase + static_cast<long long>(r) * maxSplits + split;
        wsO[at * D + d] = acc;
        if (d == 0) {
            wsM[at] = mx;
            wsL[at] = sum;
        }
    }
}

// A block per (query head, sequence), a thread per dimension.
__global__ void mergeKernel(Fp8DecodeAttention a, int maxSplits, int splitKeys, int D)
{
    const int hq = blockIdx.x, b = blockIdx.y;
    const int splits = (a.seqLens[b] + splitKeys - 1) / splitKeys;
    const long long base = (static_cast<long long>(b) * a.numQHeads + hq) * maxSplits;
    const float* wsM = a.workspace + static_cast<long long>(a.batch) * a.numQHeads * maxSplits * D;
    const float* wsL = wsM + static_cast<long long>(a.batch) * a.numQHeads * maxSplits;
    float m = -INFINITY;
    for (int s = 0; s < splits; ++s)
        m = fmaxf(m, wsM[base + s]);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float l = 0.f, o = 0.f;
        for (int s = 0; s < splits; ++s) {
            const float w = wsM[base + s] == -INFINITY ? 0.f : expf(wsM[base + s] - m);
            l += wsL[base + s] * w;
            o += a.workspace[(base + s) * D + d] * w;
        }
        a.out[(static_cast<long long>(b) * a.numQHeads + hq) * D + d] = toBf16(l > 0.f ? o / l : 0.f);
    }
}

} // namespace

std::size_t fp8DecodeWorkspaceBytes(int batch, int numQHeads, int headDim, int maxSeqLen)
{
    const std::size_t rows = std::size_t(batch) * std::size_t(numQHeads) * std::size_t(splitsFor(maxSeqLen));
    return rows * (std::size_t(headDim) + 2) * sizeof(float);
}

cudaError_t launchAttentionDecodeFp8(const Fp8DecodeAttention& a, cudaStream_t stream)
{
    if (a.batch == 0)
        return cudaSuccess;
    const auto& c = a.cache;
    if (!a.q || !a.out || !a.pageTable || !a.seqLens || !a.workspace || !c.kPages || !c.vPages ||
        !c.kScales || !c.vScales || a.batch < 0 || c.numKvHeads <= 0 || a.numQHeads % c.numKvHeads != 0 ||
        a.numQHeads / c.numKvHeads > kR || c.pageSize <= 0 || a.maxSeqLen <= 0 || a.maxPagesPerSeq <= 0)
        return cudaErrorInvalidValue;
    const int G = c.numKvHeads, R = a.numQHeads / c.numKvHeads;
    const bool tensorCores =
        (c.headDim == 64 || c.headDim == 128) && R <= kTcRows && c.pageSize % kTcChunk == 0;
    int splitKeys = kSplit;
    if (tensorCores) {
        // About four blocks per multiprocessor in all, in multiples of kSplit keys (so that the workspace,
        // sized for kSplit-key splits, holds them).
        int device = 0, sms = 132;
        if (cudaGetDevice(&device) != cudaSuccess ||
            cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
            return cudaGetLastError();
        const long long work = static_cast<long long>(a.maxSeqLen) * G * a.batch;
        const long long perBlock = (work + 4LL * sms - 1) / (4LL * sms);
        splitKeys = static_cast<int>(std::max<long long>(1, (perBlock + kSplit - 1) / kSplit) * kSplit);
    }
    const int maxSplits = (a.maxSeqLen + splitKeys - 1) / splitKeys;
    const dim3 grid(tensorCores ? static_cast<unsigned>(maxSplits) : static_cast<unsigned>(G),
                    tensorCores ? static_cast<unsigned>(G) : static_cast<unsigned>(maxSplits),
                    static_cast<unsigned>(a.batch));
    if (grid.y > 65535u || grid.z > 65535u)
        return cudaErrorInvalidValue;
    if (tensorCores) {
        if (c.headDim == 128)
            decodeTcKernel<128><<<grid, kTcThreads, 0, stream>>>(a, maxSplits, splitKeys);
        else
            decodeTcKernel<64><<<grid, kTcThreads, 0, stream>>>(a, maxSplits, splitKeys);
    } else {
        switch (c.headDim) {
        case 32:
            decodeKernel<32><<<grid, kThreads, 0, stream>>>(a, maxSplits);
            break;
        case 64:
            decodeKernel<64><<<grid, kThreads, 0, stream>>>(a, maxSplits);
            break;
        case 128:
            decodeKernel<128><<<grid, kThreads, 0, stream>>>(a, maxSplits);
            break;
        default:
            return cudaErrorInvalidValue;
        }
    }
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
        return e;
    mergeKernel<<<dim3(static_cast<unsigned>(a.numQHeads), static_cast<unsigned>(a.batch)), 128, 0, stream>>>(
        a, maxSplits, splitKeys, c.headDim);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
