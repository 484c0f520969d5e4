// The routed experts of a wide MoE pass (a prefill chunk of thousands of tokens) through cuBLAS: tokens
// are grouped per expert on the device as in launchMoeRouted, the per-expert row counts come back to the
// host, and each expert that received tokens has its int4 matrices expanded to bf16 in a scratch buffer
// and multiplied by cuBLASLt (bf16 operands, fp32 accumulation). The int4 GEMM of kernels/int4.cuh
// measured about 24% of the card's bf16 rate at Scout's shapes; cuBLAS runs near its peak, and the
// expansion (one read of the int4 weights, one write of bf16) costs a fraction of the products once an
// expert has a few hundred rows. Narrow passes keep the int4 GEMM (no expansion, no host round trip).
//
// Ownership: the caller owns every buffer. Not thread-safe (one Blas, one stream). The call waits on the
// stream once (for the counts), so it cannot be captured into a CUDA graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>

#include "quire/inference/cuda/blas.h"
#include "quire/inference/cuda/kernels/moe.cuh"
#include "quire/inference/error.h"
#include "quire/inference/llama4_memory_plan.h"

namespace quire::inference::cuda {

// Passes of at least this many tokens take the cuBLAS path (below it the expansion of all 16 experts costs
// more than the int4 GEMM's slower products).
constexpr int kMoeWideTokens = kLlama4MoeWideTokens;
// Each expert's product covers its row count rounded up to this quantum (bounding the number of distinct
// cuBLAS shapes): the extra rows spill into the next expert's rows, which its own product overwrites
// afterwards, so the MoE scratch must be carved for tokens + kMoeWideRowQuantum rows.
constexpr int kMoeWideRowQuantum = kLlama4MoeWideRowQuantum;

// Bytes of the bf16 expansion buffer: the larger of one expert's gate|up and down matrices.
std::size_t moeWideWeightBytes(int dim, int expertDim);

struct MoeWideBuffers {
    std::uint16_t* weights = nullptr;    // device, moeWideWeightBytes, 16-byte aligned
    std::int32_t* hostCounts = nullptr;  // pinned host memory, `experts` entries
};

// launchMoeRouted's contract (out and/or residual), through cuBLAS. scratch carved for at least
// tokens + kMoeWideRowQuantum rows.
std::expected<void, Error> moeRoutedWide(const MoeLayerWeights& w, const std::uint16_t* m, long long ldm,
                                         int tokens, const std::uint16_t* sharedOut, std::uint16_t* out,
                                         std::uint16_t* residual, const MoeScratch& scratch,
                                         const MoeWideBuffers& buffers, Blas& blas, cudaStream_t stream);

} // namespace quire::inference::cuda
