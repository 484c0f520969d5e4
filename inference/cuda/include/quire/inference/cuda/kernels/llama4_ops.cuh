// Llama 4's per-head attention glue (llama4-architecture.md 6.4 and 6.5), in place on bf16 heads
// x[t][h][:] for t < tokens, h < heads, rows rowStride elements apart:
//  - launchHeadRmsNorm: the QK norm of RoPE layers, RMS normalisation without a gain,
//    y = bf16(x / sqrt(mean(x^2) + eps)) in fp32;
//  - launchQueryTemperature: the NoPE layers' query scale, y = bf16(x * tau(position)) with
//    tau = 1 + attnScale * log1p(floor((position + 1) / floorScale)) in fp32, positions on the device.
// headDim <= 256 and even. CPU twins: twins/llama4_ops.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

cudaError_t launchHeadRmsNorm(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride,
                              float eps, cudaStream_t stream);

cudaError_t launchQueryTemperature(std::uint16_t* q, int tokens, int heads, int headDim, long long rowStride,
                                   const std::int32_t* positions, float attnScale, float floorScale,
                                   cudaStream_t stream);

} // namespace quire::inference::cuda
