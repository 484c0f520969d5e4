// Flash-attention-style prefill on the tensor cores (mma.sync m16n8k16, bf16 in, fp32 accumulation),
// one sequence per launch.
//
// Query i (0 <= i < lq) sits at absolute position qPosOffset + i; key j (0 <= j < lkv) at position j.
// Query at position p sees key j when j <= p (causal) and, when chunkSize > 0, j >= (p / chunkSize) *
// chunkSize (Llama 4's chunked-local attention: chunks aligned at absolute position 0). A query that
// sees no key gets a zero output row. Heads: numQHeads query heads share numKvHeads key/value heads
// (GQA, numQHeads a multiple of numKvHeads). Layouts: q[i][h][d], k[j][h][d], v[j][h][d], o[i][h][d],
// bf16, with the given strides (elements) between rows; every row and pointer 16-byte aligned.
// headDim is 64 or 128. CPU twin: twins/attention_prefill.h (same tiling and rounding).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

struct PrefillAttention {
    const std::uint16_t* q = nullptr;
    const std::uint16_t* k = nullptr;
    const std::uint16_t* v = nullptr;
    std::uint16_t* o = nullptr;
    long long qStride = 0, kStride = 0, vStride = 0, oStride = 0;
    int lq = 0, lkv = 0, qPosOffset = 0;
    int numQHeads = 0, numKvHeads = 0, headDim = 0;
    int chunkSize = 0; // 0: plain causal
    float scale = 0;   // softmax scale, usually 1/sqrt(headDim)
};

// The kernel's tile: query rows per block and keys per step (the twin mirrors them).
constexpr int kPrefillBlockM = 128;
constexpr int kPrefillBlockN = 64;

cudaError_t launchAttentionPrefill(const PrefillAttention& a, cudaStream_t stream);

} // namespace quire::inference::cuda
