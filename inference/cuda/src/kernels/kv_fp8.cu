// fp8 e4m3 paged KV with per-page scales: append (with re-encoding of a page whose scale grows) and
// gather back to bf16 (kernels/kv_fp8.cuh).
#include "quire/inference/cuda/kernels/kv_fp8.cuh"

#include <cuda_fp8.h>

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kThreads = 128;

__device__ __forceinline__ float fp8ToFloat(std::uint8_t b)
{
    const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(b), __NV_E4M3);
    return __half2float(__half(h));
}

__device__ __forceinline__ std::uint8_t floatToFp8(float x)
{
    return static_cast<std::uint8_t>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3));
}

// One block per (touched page, KV head): K, then V.
__global__ void __launch_bounds__(kThreads)
    appendKernel(Fp8KvCache c, const std::int32_t* pageTable, int start, int tokens, const std::uint16_t* k,
                 long long kStride, const std::uint16_t* v, long long vStride)
{
    __shared__ float red[kThreads / 32];
    __shared__ float oldScale;
    const int D = c.headDim, G = c.numKvHeads, ps = c.pageSize;
    const int lp = start / ps + blockIdx.x;
    const int h = blockIdx.y;
    const long long page = pageTable[lp];
    const int pageTok = lp * ps;
    const int s0 = max(start, pageTok) - pageTok;
    const int s1 = min(start + tokens, pageTok + ps) - pageTok;
    const int n = (s1 - s0) * D;

    for (int which = 0; which < 2; ++which) {
        const std::uint16_t* src = which ? v : k;
        const long long stride = which ? vStride : kStride;
        std::uint8_t* pages = which ? c.vPages : c.kPages;
        float* scales = which ? c.vScales : c.kScales;
        const auto srcAt = [&](int i) { // element i of the new values: slot s0 + i / D, dim i % D
            const int tok = pageTok + s0 + i / D - start;
            return bf16Bits(
                src[static_cast<long long>(tok) * stride + static_cast<long long>(h) * D + i % D]);
        };
        const auto cacheAt = [&](int slot, int dim) -> std::uint8_t& {
            return pages[((page * ps + slot) * G + h) * D + dim];
        };

        float amax = 0.f;
        for (int i = threadIdx.x; i < n; i += kThreads)
            amax = fmaxf(amax, fabsf(srcAt(i)));
        amax = warpMax(amax);
        if (threadIdx.x % 32 == 0)
            red[threadIdx.x / 32] = amax;
        if (threadIdx.x == 0)
            oldScale = s0 > 0 ? scales[page * G + h] : 0.f;
        __syncthreads();
        amax = red[0];
        for (int w = 1; w < kThreads / 32; ++w)
            amax = fmaxf(amax, red[w]);
        const float old = oldScale;
        const float scale = fmaxf(old, amax / kFp8E4M3Max);
        const float inv = scale > 0.f ? 1.0f / scale : 0.f;

        if (s0 > 0 && scale > old) // re-encode the page's earlier entries with the larger scale
            for (int i = threadIdx.x; i < s0 * D; i += kThreads) {
                std::uint8_t& b = cacheAt(i / D, i % D);
                b = floatToFp8(__fmul_rn(__fmul_rn(fp8ToFloat(b), old), inv));
            }
        for (int i = threadIdx.x; i < n; i += kThreads)
            cacheAt(s0 + i / D, i % D) = floatToFp8(__fmul_rn(srcAt(i), inv));
        __syncthreads(); // every thread has read oldScale and red before they are reused
        if (threadIdx.x == 0)
            scales[page * G + h] = scale;
    }
}

// One block per token: every head's values back to bf16.
__global__ void __launch_bounds__(kThreads)
    gatherKernel(Fp8KvCache c, const std::int32_t* pageTable, std::uint16_t* kOut, std::uint16_t* vOut)
{
    const int t = blockIdx.x;
    const int D = c.headDim, G = c.numKvHeads, ps = c.pageSize;
    const long long page = pageTable[t / ps];
    const long long row = (page * ps + t % ps) * G * D;
    for (int i = threadIdx.x; i < G * D; i += kThreads) {
        const long long sc = page * G + i / D;
        kOut[static_cast<long long>(t) * G * D + i] = toBf16(fp8ToFloat(c.kPages[row + i]) * c.kScales[sc]);
        vOut[static_cast<long long>(t) * G * D + i] = toBf16(fp8ToFloat(c.vPages[row + i]) * c.vScales[sc]);
    }
}

bool validCache(const Fp8KvCache& c)
{
    return c.kPages && c.vPages && c.kScales && c.vScales && c.pageSize > 0 && c.pageSize <= 1024 &&
           c.numKvHeads > 0 && (c.headDim == 32 || c.headDim == 64 || c.headDim == 128);
}

} // namespace

cudaError_t launchKvFp8Append(const Fp8KvCache& cache, const std::int32_t* pageTable, int start, int tokens,
                              const std::uint16_t* k, long long kStride, const std::uint16_t* v,
                              long long vStride, cudaStream_t stream)
{
    if (tokens == 0)
        return cudaSuccess;
    const long long row = static_cast<long long>(cache.numKvHeads) * cache.headDim;
    if (!validCache(cache) || !pageTable || !k || !v || start < 0 || tokens < 0 || kStride < row ||
        vStride < row)
        return cudaErrorInvalidValue;
    const int firstPage = start / cache.pageSize, lastPage = (start + tokens - 1) / cache.pageSize;
    const dim3 grid(static_cast<unsigned>(lastPage - firstPage + 1), static_cast<unsigned>(cache.numKvHeads));
    appendKernel<<<grid, kThreads, 0, stream>>>(cache, pageTable, start, tokens, k, kStride, v, vStride);
    return cudaGetLastError();
}

cudaError_t launchKvFp8Gather(const Fp8KvCache& cache, const std::int32_t* pageTable, int len,
                              std::uint16_t* kOut, std::uint16_t* vOut, cudaStream_t stream)
{
    if (len == 0)
        return cudaSuccess;
    if (!validCache(cache) || !pageTable || !kOut || !vOut || len < 0)
        return cudaErrorInvalidValue;
    gatherKernel<<<static_cast<unsigned>(len), kThreads, 0, stream>>>(cache, pageTable, kOut, vOut);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
