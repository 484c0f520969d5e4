// CPU twins of kernels/sampling.cuh, and a naive reference (full sort) for the twin's own test.
#pragma once

#include <cstdint>

namespace quire::inference::cuda::twins {

// The order-preserving key of a logit (NaN sorts below -inf; -0 and +0 share a key).
std::uint32_t logitKey(float x);

int argmax(const float* logits, int vocab);
int sampleTopKTopP(const float* logits, int vocab, float temperature, int topK, float topP, float u);
// The same draw with the candidates chosen by sorting the whole row (slow; tests only).
int sampleTopKTopPReference(const float* logits, int vocab, float temperature, int topK, float topP, float u);

} // namespace quire::inference::cuda::twins
