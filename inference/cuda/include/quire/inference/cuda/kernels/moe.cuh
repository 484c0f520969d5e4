// Llama 4 MoE on the device (llama4-architecture.md 7): top-1 sigmoid routing that scales the expert's
// input, grouping of tokens per expert, the grouped int4 expert products and the combination with the
// shared expert. Top-1 only (Scout); the tiny model's top-2 variant stays on the CPU.
//
// Prefill (tokens > kMaxInt4GemvBatch), in launchMoeRouted:
//   1. route:   logits[t][e] = m[t] . router[e] (fp32 from bf16 m and f32 router rows), e_t = argmax (ties:
//               the lower index), score_t = bf16(sigmoid(logit)), slot_t = atomic count of e_t's tokens
//   2. offsets: offsets[e] = sum of counts of the experts before e (offsets[E] = tokens)
//   3. gather:  xe[offsets[e_t] + slot_t] = bf16(m[t] * score_t)          (input scaling, spec 7.2)
//   4. gu = xe . gateUp_e^T (grouped int4 GEMM, [2I] per row: gate | up), act = swiglu(gate, up)
//   5. y  = act . down_e^T (grouped int4 GEMM)
//   6. combine: out[t] = bf16(shared[t] + y[offsets[e_t] + slot_t]), and h[t] = bf16(h[t] + out[t]) when
//               a residual is given
// The order of tokens inside an expert's rows depends on atomics, but each row's result does not.
// Passes of kMoeWideTokens tokens or more go through moe_wide.h instead (steps 1-3 and 6 here, the expert
// products by cuBLAS on experts expanded to bf16).
// Decode (tokens <= kMaxInt4GemvBatch) skips the permutation: xe stays in token order and the int4 GEMVs
// pick each row's expert by its device-side id. The shared expert's output is the caller's (bf16 via
// cuBLAS or int4): it sees the unscaled m.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "quire/inference/cuda/kernels/int4.cuh"

namespace quire::inference::cuda {

struct MoeLayerWeights {
    const float* router = nullptr; // [experts][dim] f32
    Int4Weights gateUp;            // per expert [2 * expertDim][dim]: rows 0..I-1 gate, I..2I-1 up
    Int4Weights down;              // per expert [dim][expertDim]
    int experts = 0;
    int dim = 0;
    int expertDim = 0;
};

// Device scratch of one MoE call for up to maxTokens tokens (moeScratchBytes); 256-byte aligned parts.
struct MoeScratch {
    float* logits = nullptr;           // [maxTokens][experts]
    std::int32_t* expertIds = nullptr; // [maxTokens]
    float* scores = nullptr;           // [maxTokens]
    std::int32_t* slots = nullptr;     // [maxTokens]
    std::int32_t* counts = nullptr;    // [experts]
    std::int32_t* offsets = nullptr;   // [experts + 1]
    std::uint16_t* xe = nullptr;       // [maxTokens][dim]
    std::uint16_t* gu = nullptr;       // [maxTokens][2 * expertDim]
    std::uint16_t* act = nullptr;      // [maxTokens][expertDim]
    std::uint16_t* y = nullptr;        // [maxTokens][dim]
};
std::size_t moeScratchBytes(int maxTokens, int experts, int dim, int expertDim);
// Carves `base` (moeScratchBytes bytes of device memory) into the parts above.
MoeScratch moeScratchAt(void* base, int maxTokens, int experts, int dim, int expertDim);

// Step 1 alone (also used by the tests): logits may be null.
cudaError_t launchMoeRoute(const std::uint16_t* m, long long ldm, int tokens, const float* router,
                           int experts, int dim, float* logits, std::int32_t* expertIds, float* scores,
                           std::int32_t* slots, std::int32_t* counts, cudaStream_t stream);

// Steps 1-3 (route, offsets, the permuted and scaled gather into scratch.xe), for callers that run the
// expert products themselves (moe_wide.h); then step 6 over scratch.y in the same permuted row order.
cudaError_t launchMoeGroup(const MoeLayerWeights& w, const std::uint16_t* m, long long ldm, int tokens,
                           const MoeScratch& scratch, cudaStream_t stream);
cudaError_t launchMoeCombine(const MoeLayerWeights& w, int tokens, const std::uint16_t* sharedOut,
                             std::uint16_t* out, std::uint16_t* residual, const MoeScratch& scratch,
                             cudaStream_t stream);

// The routed experts for `tokens` rows of m (bf16, rows ldm apart), combined with sharedOut (bf16
// [tokens][dim]) into out (bf16 [tokens][dim]); when residual is non-null it is updated in place (residual +=
// out) and out may be null. scratch must hold `tokens` rows.
cudaError_t launchMoeRouted(const MoeLayerWeights& w, const std::uint16_t* m, long long ldm, int tokens,
                            const std::uint16_t* sharedOut, std::uint16_t* out, std::uint16_t* residual,
                            const MoeScratch& scratch, cudaStream_t stream);

} // namespace quire::inference::cuda
