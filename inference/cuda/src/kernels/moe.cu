// Llama 4 MoE routing, permutation and combination on the device (kernels/moe.cuh); the expert products
// are the int4 GEMM / GEMV of int4_gemm.cu and int4_gemv.cu.
#include "quire/inference/cuda/kernels/moe.cuh"

#include "common.cuh"
#include "quire/inference/cuda/kernels/swiglu.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kRouteWarps = 16;
constexpr int kMaxRouteExperts = 256;
constexpr int kRowThreads = 128;

std::size_t align256(std::size_t bytes)
{
    return (bytes + 255) & ~std::size_t(255);
}

// A block per token, a warp per expert (experts w, w + kRouteWarps, ...): every expert's logit (8 inputs
// per lane per step), then the top-1 by strict comparison in expert order (ties: the lower index), the bf16
// sigmoid score, and the token's slot within its expert. A decode step's routing is one block whose warps
// read the router's rows in parallel (one warp walking all 16 rows took ~200 us per layer).
__global__ void __launch_bounds__(kRouteWarps * 32)
    routeKernel(const std::uint16_t* m, long long ldm, int tokens, const float* router, int experts, int dim,
                float* logits, std::int32_t* expertIds, float* scores, std::int32_t* slots,
                std::int32_t* counts)
{
    __shared__ float sLogits[kMaxRouteExperts];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int t = blockIdx.x;
    const std::uint16_t* x = m + static_cast<long long>(t) * ldm;
    for (int e = warp; e < experts; e += kRouteWarps) {
        const float* wr = router + static_cast<long long>(e) * dim;
        float s = 0.f;
#pragma unroll 4
        for (int c = lane * 8; c < dim; c += 256) {
            const uint4 xv = *reinterpret_cast<const uint4*>(x + c);
            const float4 w0 = __ldg(reinterpret_cast<const float4*>(wr + c));
            const float4 w1 = __ldg(reinterpret_cast<const float4*>(wr + c + 4));
            s += bf16Lo(xv.x) * w0.x + bf16Hi(xv.x) * w0.y + bf16Lo(xv.y) * w0.z + bf16Hi(xv.y) * w0.w +
                 bf16Lo(xv.z) * w1.x + bf16Hi(xv.z) * w1.y + bf16Lo(xv.w) * w1.z + bf16Hi(xv.w) * w1.w;
        }
        s = warpSum(s);
        if (lane == 0) {
            sLogits[e] = s;
            if (logits)
                logits[static_cast<long long>(t) * experts + e] = s;
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float best = sLogits[0];
        int bestE = 0;
        for (int e = 1; e < experts; ++e)
            if (sLogits[e] > best) {
                best = sLogits[e];
                bestE = e;
            }
        expertIds[t] = bestE;
        scores[t] = bf16Bits(toBf16(1.0f / (1.0f + expf(-best))));
        slots[t] = atomicAdd(counts + bestE, 1);
    }
}

__global__ void offsetsKernel(const std::int32_t* counts, int experts, std::int32_t* offsets)
{
    if (threadIdx.x == 0) {
        int sum = 0;
        for (int e = 0; e < experts; ++e) {
            offsets[e] = sum;
            sum += counts[e];
        }
        offsets[experts] = sum;
    }
}

// A block per token: xe[row] = bf16(m[t] * score_t), row = offsets[e_t] + slot_t (permuted) or t.
__global__ void __launch_bounds__(kRowThreads)
    gatherKernel(const std::uint16_t* m, long long ldm, int dim, const std::int32_t* expertIds,
                 const float* scores, const std::int32_t* slots, const std::int32_t* offsets,
                 std::uint16_t* xe)
{
    const int t = blockIdx.x;
    const long long row = offsets ? offsets[expertIds[t]] + slots[t] : t;
    const float s = scores[t];
    const std::uint16_t* src = m + static_cast<long long>(t) * ldm;
    std::uint16_t* dst = xe + row * dim;
    for (int c = threadIdx.x * 2; c < dim; c += kRowThreads * 2) {
        const std::uint32_t v = *reinterpret_cast<const std::uint32_t*>(src + c);
        *reinterpret_cast<std::uint32_t*>(dst + c) = packBf16(bf16Lo(v) * s, bf16Hi(v) * s);
    }
}

// out[t] = bf16(shared[t] + y[row_t]); residual[t] = bf16(residual[t] + out[t]) when given.
__global__ void __launch_bounds__(kRowThreads)
    combineKernel(const std::uint16_t* y, int dim, const std::int32_t* expertIds, const std::int32_t* slots,
                  const std::int32_t* offsets, const std::uint16_t* shared, std::uint16_t* out,
                  std::uint16_t* residual)
{
    const int t = blockIdx.x;
    const long long row = offsets ? offsets[expertIds[t]] + slots[t] : t;
    const std::uint16_t* yr = y + row * dim;
    const long long base = static_cast<long long>(t) * dim;
    for (int c = threadIdx.x * 2; c < dim; c += kRowThreads * 2) {
        const std::uint32_t yv = *reinterpret_cast<const std::uint32_t*>(yr + c);
        const std::uint32_t sv = *reinterpret_cast<const std::uint32_t*>(shared + base + c);
        const std::uint32_t o = packBf16(bf16Lo(sv) + bf16Lo(yv), bf16Hi(sv) + bf16Hi(yv));
        if (out)
            *reinterpret_cast<std::uint32_t*>(out + base + c) = o;
        if (residual) {
            const std::uint32_t h = *reinterpret_cast<const std::uint32_t*>(residual + base + c);
            *reinterpret_cast<std::uint32_t*>(residual + base + c) =
                packBf16(bf16Lo(h) + bf16Lo(o), bf16Hi(h) + bf16Hi(o));
        }
    }
}

} // namespace

std::size_t moeScratchBytes(int maxTokens, int experts, int dim, int expertDim)
{
    const auto T = std::size_t(maxTokens), E = std::size_t(experts), D = std::size_t(dim),
               I = std::size_t(expertDim);
    return align256(T * E * 4) + 3 * align256(T * 4) + align256(E * 4) + align256((E + 1) * 4) +
           align256(T * D * 2) + align256(T * 2 * I * 2) + align256(T * I * 2) + align256(T * D * 2);
}

MoeScratch moeScratchAt(void* base, int maxTokens, int experts, int dim, int expertDim)
{
    const auto T = std::size_t(maxTokens), E = std::size_t(experts), D = std::size_t(dim),
               I = std::size_t(expertDim);
    auto* p = static_cast<char*>(base);
    const auto take = [&](std::size_t bytes) {
        char* at = p;
        p += align256(bytes);
        return at;
    };
    MoeScratch s;
    s.logits = reinterpret_cast<float*>(take(T * E * 4));
    s.expertIds = reinterpret_cast<std::int32_t*>(take(T * 4));
    s.scores = reinterpret_cast<float*>(take(T * 4));
    s.slots = reinterpret_cast<std::int32_t*>(take(T * 4));
    s.counts = reinterpret_cast<std::int32_t*>(take(E * 4));
    s.offsets = reinterpret_cast<std::int32_t*>(take((E + 1) * 4));
    s.xe = reinterpret_cast<std::uint16_t*>(take(T * D * 2));
    s.gu = reinterpret_cast<std::uint16_t*>(take(T * 2 * I * 2));
    s.act = reinterpret_cast<std::uint16_t*>(take(T * I * 2));
    s.y = reinterpret_cast<std::uint16_t*>(take(T * D * 2));
    return s;
}

cudaError_t launchMoeRoute(const std::uint16_t* m, long long ldm, int tokens, const float* router,
                           int experts, int dim, float* logits, std::int32_t* expertIds, float* scores,
                           std::int32_t* slots, std::int32_t* counts, cudaStream_t stream)
{
    if (tokens == 0)
        return cudaSuccess;
    if (!m || !router || !expertIds || !scores || !slots || !counts || tokens < 0 || experts <= 0 ||
        dim <= 0 || dim % 8 != 0 || ldm < dim || ldm % 8 != 0)
        return cudaErrorInvalidValue;
    if (!aligned16(m) || !aligned16(router))
        return cudaErrorMisalignedAddress;
    if (const cudaError_t e = cudaMemsetAsync(counts, 0, std::size_t(experts) * 4, stream); e != cudaSuccess)
        return e;
    if (experts > kMaxRouteExperts)
        return cudaErrorInvalidValue;
    routeKernel<<<static_cast<unsigned>(tokens), kRouteWarps * 32, 0, stream>>>(
        m, ldm, tokens, router, experts, dim, logits, expertIds, scores, slots, counts);
    return cudaGetLastError();
}

namespace {

cudaError_t checkMoeCall(const MoeLayerWeights& w, const std::uint16_t* sharedOut, const std::uint16_t* out,
                         const std::uint16_t* residual)
{
    const int D = w.dim, I = w.expertDim;
    if (!sharedOut || (!out && !residual) || D % 2 != 0 || w.gateUp.n != 2 * I || w.gateUp.k != D ||
        w.down.n != D || w.down.k != I)
        return cudaErrorInvalidValue;
    return cudaSuccess;
}

} // namespace

cudaError_t launchMoeGroup(const MoeLayerWeights& w, const std::uint16_t* m, long long ldm, int tokens,
                           const MoeScratch& s, cudaStream_t stream)
{
    if (tokens == 0)
        return cudaSuccess;
    cudaError_t err = launchMoeRoute(m, ldm, tokens, w.router, w.experts, w.dim, s.logits, s.expertIds,
                                     s.scores, s.slots, s.counts, stream);
    if (err != cudaSuccess)
        return err;
    offsetsKernel<<<1, 32, 0, stream>>>(s.counts, w.experts, s.offsets);
    gatherKernel<<<static_cast<unsigned>(tokens), kRowThreads, 0, stream>>>(
        m, ldm, w.dim, s.expertIds, s.scores, s.slots, s.offsets, s.xe);
    return cudaGetLastError();
}

cudaError_t launchMoeCombine(const MoeLayerWeights& w, int tokens, const std::uint16_t* sharedOut,
                             std::uint16_t* out, std::uint16_t* residual, const MoeScratch& s,
                             cudaStream_t stream)
{
    if (tokens == 0)
        return cudaSuccess;
    if (const cudaError_t err = checkMoeCall(w, sharedOut, out, residual); err != cudaSuccess)
        return err;
    combineKernel<<<static_cast<unsigned>(tokens), kRowThreads, 0, stream>>>(
        s.y, w.dim, s.expertIds, s.slots, s.offsets, sharedOut, out, residual);
    return cudaGetLastError();
}

cudaError_t launchMoeRouted(const MoeLayerWeights& w, const std::uint16_t* m, long long ldm, int tokens,
                            const std::uint16_t* sharedOut, std::uint16_t* out, std::uint16_t* residual,
                            const MoeScratch& s, cudaStream_t stream)
{
    if (tokens == 0)
        return cudaSuccess;
    const int D = w.dim, I = w.expertDim, E = w.experts;
    if (const cudaError_t err = checkMoeCall(w, sharedOut, out, residual); err != cudaSuccess)
        return err;
    const bool decode = tokens <= kMaxInt4GemvBatch;
    cudaError_t err = cudaSuccess;
    if (decode) { // no permutation: the GEMVs pick each row's expert by its id
        err = launchMoeRoute(m, ldm, tokens, w.router, E, D, s.logits, s.expertIds, s.scores, s.slots,
                             s.counts, stream);
        if (err != cudaSuccess)
            return err;
        gatherKernel<<<static_cast<unsigned>(tokens), kRowThreads, 0, stream>>>(
            m, ldm, D, s.expertIds, s.scores, s.slots, nullptr, s.xe);
        if ((err = cudaGetLastError()) != cudaSuccess)
            return err;
        err = launchInt4Gemv(w.gateUp, s.xe, D, tokens, s.expertIds, s.gu, 2LL * I, true, stream);
        if (err == cudaSuccess)
            err = launchSwiGlu(s.gu, 2LL * I, s.gu + I, 2LL * I, s.act, I, tokens, I, stream);
        if (err == cudaSuccess)
            err = launchInt4Gemv(w.down, s.act, I, tokens, s.expertIds, s.y, D, true, stream);
        if (err != cudaSuccess)
            return err;
        combineKernel<<<static_cast<unsigned>(tokens), kRowThreads, 0, stream>>>(
            s.y, D, s.expertIds, s.slots, nullptr, sharedOut, out, residual);
        return cudaGetLastError();
    }
    if ((err = launchMoeGroup(w, m, ldm, tokens, s, stream)) != cudaSuccess)
        return err;
    err = launchInt4Gemm(s.xe, D, w.gateUp, s.offsets, E, tokens, s.gu, 2LL * I, stream);
    if (err == cudaSuccess)
        err = launchSwiGlu(s.gu, 2LL * I, s.gu + I, 2LL * I, s.act, I, tokens, I, stream);
    if (err == cudaSuccess)
        err = launchInt4Gemm(s.act, I, w.down, s.offsets, E, tokens, s.y, D, stream);
    if (err != cudaSuccess)
        return err;
    return launchMoeCombine(w, tokens, sharedOut, out, residual, s, stream);
}

} // namespace quire::inference::cuda
