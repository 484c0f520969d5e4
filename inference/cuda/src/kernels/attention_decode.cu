// Split-K decode attention over a paged KV cache. Block (split, kv head [x head slice], sequence) streams
// its keys in tiles of 64 through a two-stage cp.async pipeline (K and V rows looked up through the page
// table), serves up to 8 query heads of the GQA group from each K/V byte it reads, and writes a partial
// (max, sum, unnormalised output) per query head; a second kernel merges the splits.
#include "quire/inference/cuda/kernels/attention_decode.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kTile = kDecodeTile;
constexpr int kThreads = 128;
constexpr int kMaxHeads = 8; // query heads served by one block
constexpr float kLog2e = 1.4426950408889634f;

template <int D> struct DecodeSmem {
    static constexpr int kPitch = D + 8; // +16 bytes per row: 16-byte row reads hit distinct banks
    static constexpr int kTileElems = kTile * kPitch;
    static constexpr int kBytes = 4 * kTileElems * 2          // K and V, two stages each
                                  + kMaxHeads * D * 4         // q as float
                                  + 2 * kMaxHeads * kTile * 4 // score halves
                                  + kMaxHeads * kTile * 4     // probabilities
                                  + kMaxHeads * 4;            // rescale factors
};

int windowOf(int maxSeqLen, int chunkSize)
{
    return chunkSize > 0 && chunkSize < maxSeqLen ? chunkSize : maxSeqLen;
}

__host__ __device__ int headSlicesOf(int group)
{
    return (group + kMaxHeads - 1) / kMaxHeads;
}

int splitsOf(int window, int splitTokens)
{
    return window <= 0 ? 1 : (window + splitTokens - 1) / splitTokens;
}

template <int D>
__device__ __forceinline__ void loadKvTile(std::uint16_t* sK, std::uint16_t* sV, const DecodeAttention& a,
                                           const std::int32_t* pages, int kvHead, int t0, int end)
{
    constexpr int kChunks = D / 8;
    constexpr int kRowsPerPass = kThreads / kChunks;
    const int r0 = threadIdx.x / kChunks, c = threadIdx.x % kChunks;
#pragma unroll
    for (int i = 0; i < kTile / kRowsPerPass; ++i) {
        const int r = r0 + i * kRowsPerPass;
        const int t = t0 + r;
        const bool ok = t < end;
        long long off = 0;
        if (ok) {
            const long long slot =
                static_cast<long long>(pages[t / a.pageSize]) * a.pageSize + t % a.pageSize;
            off = (slot * a.numKvHeads + kvHead) * D + c * 8;
        }
        const int dst = r * DecodeSmem<D>::kPitch + c * 8;
        cpAsync16(sK + dst, a.kCache + off, ok);
        cpAsync16(sV + dst, a.vCache + off, ok);
    }
}

template <int D> __global__ void __launch_bounds__(kThreads) decodeKernel(DecodeAttention a, int maxSplits)
{
    using S = DecodeSmem<D>;
    extern __shared__ __align__(16) unsigned char smemRaw[];
    std::uint16_t* sKV = reinterpret_cast<std::uint16_t*>(smemRaw); // [stage][K|V][tile]
    float* sQ = reinterpret_cast<float*>(smemRaw + 4 * S::kTileElems * 2);
    float* sS = sQ + kMaxHeads * D; // [half][head][token]
    float* sP = sS + 2 * kMaxHeads * kTile;
    float* sAlpha = sP + kMaxHeads * kTile;

    const int split = blockIdx.x;
    const int group = a.numQHeads / a.numKvHeads;
    const int slices = headSlicesOf(group);
    const int kvHead = blockIdx.y / slices;
    const int slice = blockIdx.y % slices;
    const int b = blockIdx.z;
    const int len = a.seqLens[b];
    if (len <= 0)
        return;
    const int start = a.chunkSize > 0 ? ((len - 1) / a.chunkSize) * a.chunkSize : 0;
    const int s0 = start + split * a.splitTokens;
    if (s0 >= len)
        return;
    const int s1 = min(s0 + a.splitTokens, len);
    const int nh = min(kMaxHeads, group - slice * kMaxHeads);
    const int qh0 = kvHead * group + slice * kMaxHeads;
    const std::int32_t* pages = a.pageTable + static_cast<long long>(b) * a.maxPagesPerSeq;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

    for (int i = tid; i < kMaxHeads * D; i += kThreads) {
        const int g = i / D;
        sQ[i] = g < nh ? bf16Bits(a.q[(static_cast<long long>(b) * a.numQHeads + qh0 + g) * D + i % D]) : 0.f;
    }

    const float scaleLog2 = a.scale * kLog2e;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}; // heads warp and warp + 4 (softmax stage)
    constexpr int kPairs = D / 2;
    constexpr int kGroups = kThreads / kPairs; // token groups in the PV stage
    constexpr int kTokPerGroup = kTile / kGroups;
    const int pair = tid % kPairs, tokGroup = tid / kPairs;
    float o[kMaxHeads][2];
#pragma unroll
    for (int g = 0; g < kMaxHeads; ++g)
        o[g][0] = o[g][1] = 0.f;

    const int tiles = (s1 - s0 + kTile - 1) / kTile;
    loadKvTile<D>(sKV, sKV + S::kTileElems, a, pages, kvHead, s0, s1);
    cpAsyncCommit();
    for (int it = 0; it < tiles; ++it) {
        const int stage = it & 1;
        const int t0 = s0 + it * kTile;
        if (it + 1 < tiles) {
            std::uint16_t* next = sKV + (stage ^ 1) * 2 * S::kTileElems;
            loadKvTile<D>(next, next + S::kTileElems, a, pages, kvHead, t0 + kTile, s1);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncthreads(); // tile `it` (and sQ) visible to all
        const std::uint16_t* sK = sKV + stage * 2 * S::kTileElems;
        const std::uint16_t* sV = sK + S::kTileElems;

        // Scores: thread = (token, half of the head dimension), all heads of the slice.
        {
            const int r = tid % kTile, half = tid / kTile;
            const std::uint16_t* krow = sK + r * S::kPitch + half * (D / 2);
            float acc[kMaxHeads];
#pragma unroll
            for (int g = 0; g < kMaxHeads; ++g)
                acc[g] = 0.f;
#pragma unroll
            for (int c = 0; c < D / 16; ++c) {
                const uint4 kv = *reinterpret_cast<const uint4*>(krow + c * 8);
                const float k8[8] = {bf16Lo(kv.x), bf16Hi(kv.x), bf16Lo(kv.y), bf16Hi(kv.y),
                                     bf16Lo(kv.z), bf16Hi(kv.z), bf16Lo(kv.w), bf16Hi(kv.w)};
#pragma unroll
                for (int g = 0; g < kMaxHeads; ++g) {
                    if (g < nh) {
                        const float4* q4 =
                            reinterpret_cast<const float4*>(sQ + g * D + half * (D / 2) + c * 8);
                        const float4 qa = q4[0], qb = q4[1];
                        acc[g] += qa.x * k8[0] + qa.y * k8[1] + qa.z * k8[2] + qa.w * k8[3] + qb.x * k8[4] +
                                  qb.y * k8[5] + qb.z * k8[6] + qb.w * k8[7];
                    }
                }
            }
#pragma unroll
            for (int g = 0; g < kMaxHeads; ++g)
                if (g < nh)
                    sS[(half * kMaxHeads + g) * kTile + r] = acc[g];
        }
        __syncthreads();

        // Online softmax: warp w owns heads w and w + 4, lane owns tokens lane and lane + 32.
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            const int g = warp + 4 * j;
            if (g < nh) {
                const bool va = t0 + lane < s1, vb = t0 + lane + 32 < s1;
                const float sa =
                    va ? (sS[g * kTile + lane] + sS[(kMaxHeads + g) * kTile + lane]) * scaleLog2 : -INFINITY;
                const float sb =
                    vb ? (sS[g * kTile + lane + 32] + sS[(kMaxHeads + g) * kTile + lane + 32]) * scaleLog2
                       : -INFINITY;
                const float mNew = fmaxf(m[j], warpMax(fmaxf(sa, sb))); // finite: the tile has a valid key
                const float alpha = fastExp2(m[j] - mNew);
                const float pa = fastExp2(sa - mNew), pb = fastExp2(sb - mNew);
                l[j] = l[j] * alpha + warpSum(pa + pb);
                m[j] = mNew;
                sP[g * kTile + lane] = pa;
                sP[g * kTile + lane + 32] = pb;
                if (lane == 0)
                    sAlpha[g] = alpha;
            }
        }
        __syncthreads();

        // O = O * alpha + P V: thread = (pair of output columns, group of tokens).
#pragma unroll
        for (int g = 0; g < kMaxHeads; ++g)
            if (g < nh) {
                const float al = sAlpha[g];
                o[g][0] *= al;
                o[g][1] *= al;
            }
#pragma unroll 4
        for (int rr = 0; rr < kTokPerGroup; ++rr) {
            const int r = tokGroup * kTokPerGroup + rr;
            const std::uint32_t v2 = *reinterpret_cast<const std::uint32_t*>(sV + r * S::kPitch + 2 * pair);
            const float v0 = bf16Lo(v2), v1 = bf16Hi(v2);
#pragma unroll
            for (int g = 0; g < kMaxHeads; ++g)
                if (g < nh) {
                    const float p = sP[g * kTile + r];
                    o[g][0] += p * v0;
                    o[g][1] += p * v1;
                }
        }
        __syncthreads(); // the next iteration refills this stage and the score buffers
    }

    // Sum the token groups' partial outputs (in the now idle K/V buffers) and write the partials.
    float* red = reinterpret_cast<float*>(smemRaw); // [group][head][D]
#pragma unroll
    for (int g = 0; g < kMaxHeads; ++g)
        if (g < nh) {
            red[(tokGroup * kMaxHeads + g) * D + 2 * pair] = o[g][0];
            red[(tokGroup * kMaxHeads + g) * D + 2 * pair + 1] = o[g][1];
        }
    __syncthreads();
    const long long base = static_cast<long long>(b) * a.numQHeads + qh0;
    for (int i = tid; i < nh * D; i += kThreads) {
        const int g = i / D, d = i % D;
        float sum = 0.f;
#pragma unroll
        for (int gr = 0; gr < kGroups; ++gr)
            sum += red[(gr * kMaxHeads + g) * D + d];
        a.workspace[((base + g) * maxSplits + split) * D + d] = sum;
    }
    float* ml = a.workspace + static_cast<long long>(a.batch) * a.numQHeads * maxSplits * D;
    if (lane == 0)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            const int g = warp + 4 * j;
            if (g < nh) {
                ml[((base + g) * maxSplits + split) * 2] = m[j];
                ml[((base + g) * maxSplits + split) * 2 + 1] = l[j];
            }
        }
}

// One block per (query head, sequence), one thread per output column.
__global__ void decodeCombineKernel(DecodeAttention a, int maxSplits)
{
    const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x;
    const int D = a.headDim;
    std::uint16_t* dst = a.out + (static_cast<long long>(b) * a.numQHeads + h) * D;
    const int len = a.seqLens[b];
    if (len <= 0) {
        dst[d] = 0;
        return;
    }
    const int start = a.chunkSize > 0 ? ((len - 1) / a.chunkSize) * a.chunkSize : 0;
    const int splits = min(maxSplits, (len - start + a.splitTokens - 1) / a.splitTokens);
    const long long row = static_cast<long long>(b) * a.numQHeads + h;
    const float* ml =
        a.workspace + static_cast<long long>(a.batch) * a.numQHeads * maxSplits * D + row * maxSplits * 2;
    const float* po = a.workspace + row * maxSplits * D;
    float mMax = -INFINITY;
    for (int s = 0; s < splits; ++s)
        mMax = fmaxf(mMax, ml[2 * s]);
    float l = 0.f, o = 0.f;
    for (int s = 0; s < splits; ++s) {
        const float w = fastExp2(ml[2 * s] - mMax);
        l += w * ml[2 * s + 1];
        o += w * po[static_cast<long long>(s) * D + d];
    }
    dst[d] = toBf16(l > 0.f ? o / l : 0.f);
}

template <int D> cudaError_t launchDecode(const DecodeAttention& a, cudaStream_t stream)
{
    constexpr int smemBytes = DecodeSmem<D>::kBytes;
    static bool configured = false;
    if (!configured) {
        if (auto e =
                cudaFuncSetAttribute(decodeKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, smemBytes);
            e != cudaSuccess)
            return e;
        configured = true;
    }
    const int maxSplits = splitsOf(windowOf(a.maxSeqLen, a.chunkSize), a.splitTokens);
    const int group = a.numQHeads / a.numKvHeads;
    const dim3 grid(static_cast<unsigned>(maxSplits),
                    static_cast<unsigned>(a.numKvHeads * headSlicesOf(group)),
                    static_cast<unsigned>(a.batch));
    decodeKernel<D><<<grid, kThreads, smemBytes, stream>>>(a, maxSplits);
    if (auto e = cudaGetLastError(); e != cudaSuccess)
        return e;
    decodeCombineKernel<<<dim3(static_cast<unsigned>(a.numQHeads), static_cast<unsigned>(a.batch)), D, 0,
                          stream>>>(a, maxSplits);
    return cudaGetLastError();
}

} // namespace

int decodeSplitTokens(int batch, int numKvHeads, int maxSeqLen, int chunkSize, int multiprocessors)
{
    // About 80 KB of shared memory per block lets two blocks share a multiprocessor: aim for one full
    // wave of 2 * multiprocessors blocks. More blocks would leave a partial last wave (a 2.06-wave grid
    // runs its last 6% of blocks on an almost idle chip); fewer would leave multiprocessors unused.
    const int window = windowOf(maxSeqLen, chunkSize);
    const long long perSplit =
        static_cast<long long>(batch > 0 ? batch : 1) * (numKvHeads > 0 ? numKvHeads : 1);
    const long long capacity = 2LL * (multiprocessors > 0 ? multiprocessors : 132);
    long long splits = capacity / perSplit;
    if (splits < 1)
        splits = 1;
    long long tokens = (window + splits - 1) / splits;
    tokens = (tokens + kTile - 1) / kTile * kTile;
    if (tokens < 2 * kTile)
        tokens = 2 * kTile;
    return static_cast<int>(tokens);
}

std::size_t decodeWorkspaceBytes(int batch, int numQHeads, int headDim, int maxSeqLen, int chunkSize,
                                 int splitTokens)
{
    if (splitTokens <= 0)
        return 0;
    const int splits = splitsOf(windowOf(maxSeqLen, chunkSize), splitTokens);
    return static_cast<std::size_t>(batch) * numQHeads * splits * (headDim + 2) * sizeof(float);
}

cudaError_t launchAttentionDecode(const DecodeAttention& a, cudaStream_t stream)
{
    if (a.batch == 0)
        return cudaSuccess;
    if (!a.q || !a.kCache || !a.vCache || !a.pageTable || !a.seqLens || !a.out || !a.workspace ||
        a.batch < 0 || a.numKvHeads <= 0 || a.numQHeads <= 0 || a.numQHeads % a.numKvHeads != 0 ||
        a.pageSize <= 0 || a.maxPagesPerSeq <= 0 || a.maxSeqLen <= 0 || a.chunkSize < 0 ||
        a.splitTokens <= 0 || a.splitTokens % kTile != 0 || a.batch > 65535)
        return cudaErrorInvalidValue;
    if (!detail::aligned16(a.kCache) || !detail::aligned16(a.vCache) || !detail::aligned16(a.workspace))
        return cudaErrorMisalignedAddress;
    switch (a.headDim) {
    case 64:
        return launchDecode<64>(a, stream);
    case 128:
        return launchDecode<128>(a, stream);
    default:
        return cudaErrorInvalidValue;
    }
}

} // namespace quire::inference::cuda
