// CPU twins of kernels/attention_prefill.cuh and kernels/attention_decode.cuh: the same tiles, the
// same online softmax (base-2 exponent, fp32), probabilities rounded to bf16 before the product with
// V, as the kernels do, so the GPU tests can hold the kernels to a tight tolerance. Also the naive
// reference (double precision softmax(QK^T)V over the visible keys) that the twins are tested against.
#pragma once

#include <cstdint>
#include <vector>

#include "quire/inference/cuda/kernels/attention_decode.cuh"
#include "quire/inference/cuda/kernels/attention_prefill.cuh"

namespace quire::inference::cuda::twins {

// Pointers in a are host pointers.
void attentionPrefill(const PrefillAttention& a);

// Whether key position j is visible from query position p (the mask both kernels use).
inline bool keyVisible(long long p, long long j, int chunkSize)
{
    return j <= p && (chunkSize <= 0 || j >= (p / chunkSize) * chunkSize);
}

// Naive reference for prefill: returns o[i][h][d] as double-precision results rounded to float.
std::vector<float> attentionPrefillReference(const PrefillAttention& a);

// Pointers in a are host pointers; a.splitTokens must be set; the workspace is not used.
void attentionDecode(const DecodeAttention& a);
std::vector<float> attentionDecodeReference(const DecodeAttention& a);

} // namespace quire::inference::cuda::twins
