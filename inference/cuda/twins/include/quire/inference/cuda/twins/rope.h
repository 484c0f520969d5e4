// CPU twin of kernels/rope.cuh, and the frequency table both use (plain or llama3-scaled).
#pragma once

#include <cstdint>
#include <vector>

#include "quire/inference/cuda/kernels/rope.cuh"

namespace quire::inference::cuda::twins {

// Llama 3.1's long-context frequency scaling (Hugging Face rope_type "llama3").
struct Llama3RopeScaling {
    float factor = 8.0f;
    float lowFreqFactor = 1.0f;
    float highFreqFactor = 4.0f;
    int originalMaxPosition = 8192;
};

// invFreq[i] = theta^(-2i/headDim) for i < headDim/2, then llama3-scaled when scaling is given.
std::vector<float> ropeInvFreq(int headDim, float theta, const Llama3RopeScaling* scaling = nullptr);

void rope(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride,
          const std::int32_t* positions, const float* invFreq, RopeMode mode);

} // namespace quire::inference::cuda::twins
