// CPU twins of kernels/llama4_ops.cuh (QK norm and NoPE query temperature), same fp32 arithmetic.
#pragma once

#include <cstdint>

namespace quire::inference::cuda::twins {

void headRmsNorm(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride, float eps);
void queryTemperature(std::uint16_t* q, int tokens, int heads, int headDim, long long rowStride,
                      const std::int32_t* positions, float attnScale, float floorScale);
float queryTemperatureOf(std::int32_t position, float attnScale, float floorScale);

} // namespace quire::inference::cuda::twins
