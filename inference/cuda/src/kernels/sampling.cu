// Greedy and top-k/top-p sampling, one block of 1024 threads per row of logits. Top-k finds the k-th
// largest key by a four-pass radix select over the row (8 bits a pass, warp-aggregated histogram
// updates), gathers the candidates (ties at the threshold in index order), sorts them with a bitonic
// network in shared memory and draws from the nucleus with the caller's uniform number.
#include "quire/inference/cuda/kernels/sampling.cuh"

#include <climits>

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;
constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ std::uint32_t logitKey(float x)
{
    if (isnan(x))
        return 0u;
    const std::uint32_t u = x == 0.0f ? 0u : __float_as_uint(x); // -0 and +0 are one value
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// a before b: larger key first, then lower index.
__device__ __forceinline__ bool before(std::uint32_t ka, int ia, std::uint32_t kb, int ib)
{
    return ka != kb ? ka > kb : ia < ib;
}

__device__ __forceinline__ bool better(float v, int i, float bv, int bi)
{
    return v > bv || (v == bv && i < bi);
}

__global__ void __launch_bounds__(kThreads)
    argmaxKernel(const float* logits, long long rowStride, int vocab, std::int32_t* out)
{
    __shared__ float sv[kWarps];
    __shared__ int si[kWarps];
    const float* row = logits + blockIdx.x * rowStride;
    float bv = -INFINITY;
    int bi = INT_MAX;
    for (int i = threadIdx.x; i < vocab; i += kThreads) {
        const float x = row[i];
        if (!isnan(x) && better(x, i, bv, bi)) {
            bv = x;
            bi = i;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (better(ov, oi, bv, bi)) {
            bv = ov;
            bi = oi;
        }
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        sv[warp] = bv;
        si[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        bv = sv[lane];
        bi = si[lane];
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (better(ov, oi, bv, bi)) {
                bv = ov;
                bi = oi;
            }
        }
        if (lane == 0)
            out[blockIdx.x] = bi == INT_MAX ? 0 : bi;
    }
}

__device__ float blockReduce(float v, float* scratch, bool isMax)
{
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    v = isMax ? warpMax(v) : warpSum(v);
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    v = scratch[lane]; // kWarps == 32
    v = isMax ? warpMax(v) : warpSum(v);
    __syncthreads();
    return v;
}

struct SampleSmem {
    std::uint32_t candKey[kMaxTopK];
    int candIdx[kMaxTopK];
    float prob[kMaxTopK];
    unsigned hist[256];
    float scratch[kWarps];
    int warpCount[kWarps];
    int counter;
    int selDigit;
    int remaining;
};

__global__ void __launch_bounds__(kThreads)
    sampleKernel(const float* logits, long long rowStride, int vocab, float temperature, int k, float topP,
                 const float* u, std::int32_t* out)
{
    __shared__ SampleSmem sm;
    const float* row = logits + blockIdx.x * rowStride;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

    // Softmax statistics over the whole row (NaN excluded).
    float mx = -INFINITY;
    int any = 0;
    for (int i = tid; i < vocab; i += kThreads) {
        const float x = row[i];
        if (!isnan(x)) {
            mx = fmaxf(mx, x);
            any = 1;
        }
    }
    mx = blockReduce(mx, sm.scratch, true);
    const int anyValid = __syncthreads_or(any);
    if (!anyValid) {
        if (tid == 0)
            out[blockIdx.x] = 0;
        return;
    }
    const float invT2 = kLog2e / temperature;
    float z = 0.f;
    for (int i = tid; i < vocab; i += kThreads) {
        const float x = row[i];
        if (!isnan(x))
            z += exp2f((x - mx) * invT2);
    }
    z = blockReduce(z, sm.scratch, false);

    // Radix select: the key of the k-th candidate, and how many ties at it the candidates take.
    std::uint32_t prefix = 0, mask = 0;
    if (tid == 0)
        sm.remaining = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int i = tid; i < 256; i += kThreads)
            sm.hist[i] = 0;
        __syncthreads();
        for (int base = 0; base < vocab; base += kThreads) {
            const int i = base + tid;
            int bin = -1;
            if (i < vocab) {
                const std::uint32_t key = logitKey(row[i]);
                if ((key & mask) == prefix)
                    bin = static_cast<int>((key >> shift) & 0xffu);
            }
            const unsigned peers = __match_any_sync(0xffffffffu, bin);
            if (bin >= 0 && lane == __ffs(peers) - 1)
                atomicAdd(&sm.hist[bin], static_cast<unsigned>(__popc(peers)));
        }
        __syncthreads();
        if (tid == 0) {
            int need = sm.remaining, digit = 0;
            unsigned above = 0;
            for (int d = 255; d >= 0; --d) {
                if (above + sm.hist[d] >= static_cast<unsigned>(need)) {
                    digit = d;
                    break;
                }
                above += sm.hist[d];
            }
            sm.selDigit = digit;
            sm.remaining = need - static_cast<int>(above);
        }
        __syncthreads();
        prefix |= static_cast<std::uint32_t>(sm.selDigit) << shift;
        mask |= 0xffu << shift;
    }
    const std::uint32_t thr = prefix;
    const int ties = sm.remaining; // candidates equal to thr, the lowest indices first
    const int greater = k - ties;

    // Gather: keys above the threshold in any order (they are sorted next), ties in index order.
    if (tid == 0)
        sm.counter = 0;
    __syncthreads();
    for (int i = tid; i < vocab; i += kThreads) {
        const std::uint32_t key = logitKey(row[i]);
        if (key > thr) {
            const int pos = atomicAdd(&sm.counter, 1);
            sm.candKey[pos] = key;
            sm.candIdx[pos] = i;
        }
    }
    int tieBase = 0;
    for (int base = 0; base < vocab && tieBase < ties; base += kThreads) {
        const int i = base + tid;
        const bool flag = i < vocab && logitKey(row[i]) == thr;
        const unsigned ballot = __ballot_sync(0xffffffffu, flag);
        if (lane == 0)
            sm.warpCount[warp] = __popc(ballot);
        __syncthreads();
        int prior = 0, total = 0;
        for (int w = 0; w < kWarps; ++w) {
            prior += w < warp ? sm.warpCount[w] : 0;
            total += sm.warpCount[w];
        }
        if (flag) {
            const int pos = tieBase + prior + __popc(ballot & ((1u << lane) - 1u));
            if (pos < ties) {
                sm.candKey[greater + pos] = thr;
                sm.candIdx[greater + pos] = i;
            }
        }
        tieBase += total;
        __syncthreads(); // warpCount is rewritten next round
    }

    // Bitonic sort of the k candidates (padded to a power of two) into "before" order.
    int n = 1;
    while (n < k)
        n <<= 1;
    if (tid >= k && tid < n) {
        sm.candKey[tid] = 0u;
        sm.candIdx[tid] = INT_MAX;
    }
    __syncthreads();
    for (int size = 2; size <= n; size <<= 1)
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            const int partner = tid ^ stride;
            if (tid < n && partner > tid) {
                const bool up = (tid & size) == 0;
                const bool first =
                    before(sm.candKey[tid], sm.candIdx[tid], sm.candKey[partner], sm.candIdx[partner]);
                if (up != first) {
                    const std::uint32_t tk = sm.candKey[tid];
                    sm.candKey[tid] = sm.candKey[partner];
                    sm.candKey[partner] = tk;
                    const int ti = sm.candIdx[tid];
                    sm.candIdx[tid] = sm.candIdx[partner];
                    sm.candIdx[partner] = ti;
                }
            }
            __syncthreads();
        }

    if (tid < k) {
        const float x = row[sm.candIdx[tid]];
        sm.prob[tid] = isnan(x) ? 0.f : exp2f((x - mx) * invT2) / z;
    }
    __syncthreads();
    if (tid == 0) {
        const float p = (topP <= 0.f || topP > 1.f) ? 1.f : topP;
        int kept = k;
        float cum = 0.f;
        for (int i = 0; i < k; ++i) {
            cum += sm.prob[i];
            if (cum >= p) {
                kept = i + 1;
                break;
            }
        }
        float total = 0.f;
        for (int i = 0; i < kept; ++i)
            total += sm.prob[i];
        const float r = u[blockIdx.x] * total;
        float acc = 0.f;
        int pick = sm.candIdx[kept - 1];
        for (int i = 0; i < kept; ++i) {
            acc += sm.prob[i];
            if (r < acc) {
                pick = sm.candIdx[i];
                break;
            }
        }
        out[blockIdx.x] = pick;
    }
}

} // namespace

cudaError_t launchArgmax(const float* logits, long long rowStride, int rows, int vocab, std::int32_t* out,
                         cudaStream_t stream)
{
    if (rows == 0)
        return cudaSuccess;
    if (!logits || !out || rows < 0 || vocab <= 0 || rowStride < vocab)
        return cudaErrorInvalidValue;
    argmaxKernel<<<rows, kThreads, 0, stream>>>(logits, rowStride, vocab, out);
    return cudaGetLastError();
}

cudaError_t launchSampleTopKTopP(const float* logits, long long rowStride, int rows, int vocab,
                                 float temperature, int topK, float topP, const float* u, std::int32_t* out,
                                 cudaStream_t stream)
{
    if (rows == 0)
        return cudaSuccess;
    if (!logits || !out || !u || rows < 0 || vocab <= 0 || rowStride < vocab || !(temperature > 0.f))
        return cudaErrorInvalidValue;
    int k = (topK <= 0 || topK > kMaxTopK) ? kMaxTopK : topK;
    if (k > vocab)
        k = vocab;
    sampleKernel<<<rows, kThreads, 0, stream>>>(logits, rowStride, vocab, temperature, k, topP, u, out);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
