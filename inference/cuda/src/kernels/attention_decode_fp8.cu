// Split-K decode attention over the fp8 paged KV of a global layer (kernels/kv_fp8.cuh). A block of 4 warps
// takes one KV head of one sequence and kFp8DecodeSplit keys: each thread scores whole keys (its key's d
// bytes in 16-byte loads, decoded and dotted with the group's queries held in shared memory as f32, the
// page scale applied to the dot), the warps take the split's softmax statistics per query head, then each
// thread owns one dimension of the output and sums p * v over the split (a key's d bytes are read by d
// consecutive threads). Partial outputs, maxima and sums go to the workspace; the merge kernel combines the
// splits of each query head.
#include "quire/inference/cuda/kernels/kv_fp8.cuh"

#include <cuda_fp8.h>

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

// A block per (query head, sequence), a thread per dimension.
__global__ void mergeKernel(Fp8DecodeAttention a, int maxSplits, int D)
{
    const int hq = blockIdx.x, b = blockIdx.y;
    const int splits = (a.seqLens[b] + kSplit - 1) / kSplit;
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
    const int maxSplits = splitsFor(a.maxSeqLen);
    const dim3 grid(static_cast<unsigned>(c.numKvHeads), static_cast<unsigned>(maxSplits),
                    static_cast<unsigned>(a.batch));
    if (grid.y > 65535u || grid.z > 65535u)
        return cudaErrorInvalidValue;
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
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
        return e;
    mergeKernel<<<dim3(static_cast<unsigned>(a.numQHeads), static_cast<unsigned>(a.batch)), 128, 0, stream>>>(
        a, maxSplits, c.headDim);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
