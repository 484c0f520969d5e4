// Split-K decode attention over a paged KV cache on the tensor cores. A block of 8 warps owns (split,
// kv head, up to 16 query heads of its group, sequence). The split's keys come in chunks of 16; warp w
// takes chunks w, w + 8, ... through its own three-stage cp.async pipeline (16-byte copies, rows looked
// up through the page table, an XOR-swizzled layout that ldmatrix reads without bank conflicts), so
// the main loop needs no block-wide barrier. Per chunk a warp computes S = Q K^T (the group's query
// heads are the 16 rows of an m16n8k16 tile, loaded once into registers), its online softmax, and O +=
// P V with P rounded to bf16, as the prefill kernel does. At the end the warps merge their (max, sum,
// O) in shared memory and the block writes one partial per query head; a second kernel merges the
// splits.
#include "quire/inference/cuda/kernels/attention_decode.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kChunk = kDecodeTile;
constexpr int kWarps = kDecodeWarps;
constexpr int kRows = kDecodeHeads;
constexpr int kThreads = kWarps * 32;
constexpr int kStages = 3;
constexpr int kSplitQuantum = kChunk * kWarps; // split sizes the heuristic hands out
constexpr float kLog2e = 1.4426950408889634f;

template <int D> struct DecodeSmem {
    static constexpr int kStageElems = 2 * kChunk * D; // K then V of one chunk
    static constexpr int kWarpElems = kStages * kStageElems;
    static constexpr int kQOffset = kWarps * kWarpElems; // elements; the Q tile follows the stages
    static constexpr int kBytes = (kQOffset + kRows * D) * 2;
    // The warps' merge reuses the stage area: O [warp][row][D] and (max, sum) [warp][row].
    static_assert(kWarps * kRows * (D + 2) * 4 <= kQOffset * 2, "merge scratch must fit the stages");
};

int windowOf(int maxSeqLen, int chunkSize)
{
    return chunkSize > 0 && chunkSize < maxSeqLen ? chunkSize : maxSeqLen;
}

__host__ __device__ int headSlicesOf(int group)
{
    return (group + kRows - 1) / kRows;
}

int splitsOf(int window, int splitTokens)
{
    return window <= 0 ? 1 : (window + splitTokens - 1) / splitTokens;
}

// Element offset of 16-byte chunk `c` of row `r` in a [rows][D] bf16 tile (the prefill kernel's swizzle).
template <int D> __device__ __forceinline__ int swz(int r, int c)
{
    return r * D + ((c ^ (r & 7)) << 3);
}

template <int D> __global__ void __launch_bounds__(kThreads, 1) decodeKernel(DecodeAttention a, int maxSplits)
{
    using S = DecodeSmem<D>;
    constexpr int kKSteps = D / 16; // k-steps of Q.K^T
    constexpr int kDTiles = D / 8;  // n-tiles of the O accumulator
    constexpr int kRowChunks = D / 8;
    constexpr int kRowsPerPass = 32 / kRowChunks; // rows one warp-wide copy instruction covers

    extern __shared__ __align__(128) std::uint16_t smem[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int g = lane >> 2, t = lane & 3;

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
    const int nh = min(kRows, group - slice * kRows);
    const int qh0 = kvHead * group + slice * kRows;
    const std::int32_t* pages = a.pageTable + static_cast<long long>(b) * a.maxPagesPerSeq;

    // The Q tile: the slice's query heads as 16 swizzled rows, zeros past nh.
    std::uint16_t* sQ = smem + S::kQOffset;
    for (int i = threadIdx.x; i < kRows * kRowChunks; i += kThreads) {
        const int r = i / kRowChunks, c = i % kRowChunks;
        uint4 v = make_uint4(0u, 0u, 0u, 0u);
        if (r < nh)
            v = *reinterpret_cast<const uint4*>(
                a.q + (static_cast<long long>(b) * a.numQHeads + qh0 + r) * D + c * 8);
        *reinterpret_cast<uint4*>(sQ + swz<D>(r, c)) = v;
    }

    const int nChunks = (s1 - s0 + kChunk - 1) / kChunk;
    const int myChunks = nChunks > warp ? (nChunks - warp + kWarps - 1) / kWarps : 0;
    std::uint16_t* sW = smem + warp * S::kWarpElems;

    // Loads this warp's i-th chunk into stage i % kStages; always commits one group (maybe empty).
    const auto issue = [&](int i) {
        if (i < myChunks) {
            const int c0 = s0 + (warp + i * kWarps) * kChunk;
            const int tok = c0 + (lane & (kChunk - 1));
            long long slot = 0;
            if (tok < s1)
                slot = static_cast<long long>(pages[tok / a.pageSize]) * a.pageSize + tok % a.pageSize;
            std::uint16_t* sK = sW + (i % kStages) * S::kStageElems;
            std::uint16_t* sV = sK + kChunk * D;
            const int c = lane % kRowChunks, r0 = lane / kRowChunks;
#pragma unroll
            for (int p = 0; p < kChunk / kRowsPerPass; ++p) {
                const int r = r0 + p * kRowsPerPass;
                const long long sl = __shfl_sync(0xffffffffu, slot, r);
                const bool ok = c0 + r < s1;
                const long long off = ok ? (sl * a.numKvHeads + kvHead) * D + c * 8 : 0;
                cpAsync16(sK + swz<D>(r, c), a.kCache + off, ok);
                cpAsync16(sV + swz<D>(r, c), a.vCache + off, ok);
            }
        }
        cpAsyncCommit();
    };
#pragma unroll
    for (int i = 0; i < kStages - 1; ++i)
        issue(i);

    __syncthreads(); // sQ complete
    // Q as A fragments for every k-step (lanes 0-7 rows 0-7, 8-15 rows 8-15, then the upper 8 columns).
    std::uint32_t qa[kKSteps][4];
    {
        const int qRow = ((lane & 7) + ((lane >> 3) & 1) * 8) * D;
        const int qXor = (lane >> 4) ^ (lane & 7);
#pragma unroll
        for (int ks = 0; ks < kKSteps; ++ks)
            ldmatrixX4(qa[ks], sQ + qRow + (((ks * 2) ^ qXor) << 3));
    }
    const int kRow = ((lane & 7) + (lane >> 4) * 8) * D;
    const int kXor = ((lane >> 3) & 1) ^ (lane & 7);
    const int vRow = ((lane & 7) + ((lane >> 3) & 1) * 8) * D;
    const int vXor = (lane >> 4) ^ (lane & 7);

    const float scaleLog2 = a.scale * kLog2e;
    float o[kDTiles][4];
#pragma unroll
    for (int dt = 0; dt < kDTiles; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e)
            o[dt][e] = 0.f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}; // rows g and g + 8; l is this thread's part

    for (int i = 0; i < myChunks; ++i) {
        issue(i + kStages - 1);
        cpAsyncWait<kStages - 1>();
        __syncwarp(); // every lane's copies of chunk i visible to the warp
        const std::uint16_t* sK = sW + (i % kStages) * S::kStageElems;
        const std::uint16_t* sV = sK + kChunk * D;
        const int c0 = s0 + (warp + i * kWarps) * kChunk;

        // S = Q K^T: 16 heads x 16 keys, two n-tiles of 8 keys.
        float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
        for (int ks = 0; ks < kKSteps; ++ks) {
            std::uint32_t kb[4];
            ldmatrixX4(kb, sK + kRow + (((ks * 2) ^ kXor) << 3));
            mmaBf16(s[0], qa[ks], kb[0], kb[1]);
            mmaBf16(s[1], qa[ks], kb[2], kb[3]);
        }
        if (c0 + kChunk > s1) { // keys past the split's end
#pragma unroll
            for (int nt = 0; nt < 2; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e)
                    if (c0 + nt * 8 + 2 * t + e >= s1) {
                        s[nt][e] = -INFINITY;
                        s[nt][2 + e] = -INFINITY;
                    }
        }

        // Online softmax per row; a row lives in the 4 threads of a quad. The chunk has a valid key, so
        // the new maximum is finite.
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float mx = fmaxf(fmaxf(s[0][2 * h], s[0][2 * h + 1]), fmaxf(s[1][2 * h], s[1][2 * h + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float mNew = fmaxf(m[h], mx);
            const float base = mNew * scaleLog2;
            const float alpha = fastExp2(m[h] * scaleLog2 - base);
            m[h] = mNew;
            float sum = 0.f;
#pragma unroll
            for (int nt = 0; nt < 2; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const float p = fastExp2(fmaf(s[nt][2 * h + e], scaleLog2, -base));
                    s[nt][2 * h + e] = p;
                    sum += p;
                }
            l[h] = l[h] * alpha + sum;
#pragma unroll
            for (int dt = 0; dt < kDTiles; ++dt) {
                o[dt][2 * h] *= alpha;
                o[dt][2 * h + 1] *= alpha;
            }
        }

        // O += P V: the two S n-tiles form the A operand (16 heads x 16 keys).
        const std::uint32_t pa[4] = {packBf16(s[0][0], s[0][1]), packBf16(s[0][2], s[0][3]),
                                     packBf16(s[1][0], s[1][1]), packBf16(s[1][2], s[1][3])};
#pragma unroll
        for (int dp = 0; dp < D / 16; ++dp) {
            std::uint32_t vb[4];
            ldmatrixX4Trans(vb, sV + vRow + (((dp * 2) ^ vXor) << 3));
            mmaBf16(o[2 * dp], pa, vb[0], vb[1]);
            mmaBf16(o[2 * dp + 1], pa, vb[2], vb[3]);
        }
        __syncwarp(); // the next issue() refills the stage read here
    }
    cpAsyncWait<0>(); // only empty groups are left, but the stage area is reused below

#pragma unroll
    for (int h = 0; h < 2; ++h) {
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
    }
    __syncthreads();                             // every warp is done with its stages
    float* red = reinterpret_cast<float*>(smem); // [warp][row][D]
    float* redMl = red + kWarps * kRows * D;     // [warp][row][max, sum]
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int row = g + 8 * h;
        if (row < nh) {
            float* dst = red + (warp * kRows + row) * D;
#pragma unroll
            for (int dt = 0; dt < kDTiles; ++dt) {
                dst[dt * 8 + 2 * t] = o[dt][2 * h];
                dst[dt * 8 + 2 * t + 1] = o[dt][2 * h + 1];
            }
            if (t == 0) {
                redMl[(warp * kRows + row) * 2] = m[h];
                redMl[(warp * kRows + row) * 2 + 1] = l[h];
            }
        }
    }
    __syncthreads();

    // Merge the warps: the partial's max is kept in log2 units (the combine kernel's convention).
    const long long base = static_cast<long long>(b) * a.numQHeads + qh0;
    float* ml = a.workspace + static_cast<long long>(a.batch) * a.numQHeads * maxSplits * D;
    for (int i = threadIdx.x; i < nh * D; i += kThreads) {
        const int row = i / D, d = i % D;
        float mMax = -INFINITY;
#pragma unroll
        for (int w = 0; w < kWarps; ++w)
            mMax = fmaxf(mMax, redMl[(w * kRows + row) * 2]);
        float sum = 0.f, lSum = 0.f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            const float mw = redMl[(w * kRows + row) * 2];
            const float wgt = mw == -INFINITY ? 0.f : fastExp2((mw - mMax) * scaleLog2);
            sum += wgt * red[(w * kRows + row) * D + d];
            lSum += wgt * redMl[(w * kRows + row) * 2 + 1];
        }
        a.workspace[((base + row) * maxSplits + split) * D + d] = sum;
        if (d == 0) {
            ml[((base + row) * maxSplits + split) * 2] = mMax * scaleLog2;
            ml[((base + row) * maxSplits + split) * 2 + 1] = lSum;
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
    // A block of the head-dim-128 kernel takes about 196 KB of shared memory, so one runs per
    // multiprocessor: aim for one wave of about `multiprocessors` blocks, all with the same work (a
    // partial second wave would run on an almost idle chip). Each block keeps 8 warps x 2 chunks of
    // 8 KB in flight, enough for the memory system.
    const int window = windowOf(maxSeqLen, chunkSize);
    const long long pairs = static_cast<long long>(batch > 0 ? batch : 1) * (numKvHeads > 0 ? numKvHeads : 1);
    const long long capacity = multiprocessors > 0 ? multiprocessors : 132;
    long long splits = capacity / pairs;
    if (splits < 1)
        splits = 1;
    long long tokens = (window + splits - 1) / splits;
    tokens = (tokens + kSplitQuantum - 1) / kSplitQuantum * kSplitQuantum;
    if (tokens < kSplitQuantum)
        tokens = kSplitQuantum;
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
        a.splitTokens <= 0 || a.splitTokens % kDecodeTile != 0 || a.batch > 65535 || !(a.scale > 0.f))
        return cudaErrorInvalidValue;
    if (!detail::aligned16(a.q) || !detail::aligned16(a.kCache) || !detail::aligned16(a.vCache) ||
        !detail::aligned16(a.workspace))
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
