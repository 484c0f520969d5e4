// General attention, one block of 128 threads per (query row, query head): each thread scores one key
// of a 128-key chunk, the block reduces the chunk's max and sum, and thread d accumulates output
// columns d and d + 128 over the chunk. Keys are read row by row (no tiling): for small models only.
#include "quire/inference/cuda/kernels/attention_naive.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ float blockMax(float v, float* red)
{
    v = warpMax(v);
    if (threadIdx.x % 32 == 0)
        red[threadIdx.x / 32] = v;
    __syncthreads();
    float r = red[0];
#pragma unroll
    for (int w = 1; w < kWarps; ++w)
        r = fmaxf(r, red[w]);
    __syncthreads();
    return r;
}

__device__ __forceinline__ float blockSum(float v, float* red)
{
    v = warpSum(v);
    if (threadIdx.x % 32 == 0)
        red[threadIdx.x / 32] = v;
    __syncthreads();
    float r = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w)
        r += red[w];
    __syncthreads();
    return r;
}

__global__ void __launch_bounds__(kThreads) naiveKernel(NaiveAttention a)
{
    __shared__ float sq[kNaiveMaxHeadDim];
    __shared__ float sp[kThreads];
    __shared__ float red[kWarps];
    const int h = blockIdx.x, i = blockIdx.y, tid = threadIdx.x;
    const int D = a.headDim;
    const int kvh = h / (a.numQHeads / a.numKvHeads);
    const int pos = a.positions[i];
    const int lo = a.chunkSize > 0 ? (pos / a.chunkSize) * a.chunkSize : 0;
    const std::uint16_t* q = a.q + static_cast<long long>(i) * a.qStride + static_cast<long long>(h) * D;
    for (int d = tid; d < D; d += kThreads)
        sq[d] = bf16Bits(q[d]);
    __syncthreads();

    float m = -INFINITY, l = 0.f, acc0 = 0.f, acc1 = 0.f;
    for (int j0 = lo; j0 <= pos; j0 += kThreads) {
        const int j = j0 + tid;
        float s = -INFINITY;
        if (j <= pos) {
            const std::uint16_t* kr =
                a.k + static_cast<long long>(j) * a.kStride + static_cast<long long>(kvh) * D;
            float dot = 0.f;
            for (int d = 0; d < D; ++d)
                dot += sq[d] * bf16Bits(kr[d]);
            s = dot * a.scale;
        }
        const float mNew = fmaxf(m, blockMax(s, red)); // finite: key j0 is visible
        const float p = j <= pos ? __expf(s - mNew) : 0.f;
        sp[tid] = p;
        const float sum = blockSum(p, red); // its barriers also publish sp
        const float alpha = __expf(m - mNew);
        l = l * alpha + sum;
        m = mNew;
        const int count = min(kThreads, pos - j0 + 1);
        acc0 *= alpha;
        acc1 *= alpha;
        const std::uint16_t* vb =
            a.v + static_cast<long long>(j0) * a.vStride + static_cast<long long>(kvh) * D;
        for (int jj = 0; jj < count; ++jj) {
            const std::uint16_t* vr = vb + static_cast<long long>(jj) * a.vStride;
            if (tid < D)
                acc0 += sp[jj] * bf16Bits(vr[tid]);
            if (tid + kThreads < D)
                acc1 += sp[jj] * bf16Bits(vr[tid + kThreads]);
        }
        __syncthreads(); // sp is rewritten by the next chunk
    }
    std::uint16_t* o = a.o + static_cast<long long>(i) * a.oStride + static_cast<long long>(h) * D;
    const float inv = l > 0.f ? 1.f / l : 0.f;
    if (tid < D)
        o[tid] = toBf16(acc0 * inv);
    if (tid + kThreads < D)
        o[tid + kThreads] = toBf16(acc1 * inv);
}

} // namespace

cudaError_t launchAttentionNaive(const NaiveAttention& a, cudaStream_t stream)
{
    if (a.lq == 0)
        return cudaSuccess;
    if (!a.q || !a.k || !a.v || !a.o || !a.positions || a.lq < 0 || a.lq > 65535 || a.numKvHeads <= 0 ||
        a.numQHeads <= 0 || a.numQHeads % a.numKvHeads != 0 || a.headDim <= 0 ||
        a.headDim > kNaiveMaxHeadDim || a.chunkSize < 0)
        return cudaErrorInvalidValue;
    naiveKernel<<<dim3(static_cast<unsigned>(a.numQHeads), static_cast<unsigned>(a.lq)), kThreads, 0,
                  stream>>>(a);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
