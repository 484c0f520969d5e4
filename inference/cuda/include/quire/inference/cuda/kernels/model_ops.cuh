// Small glue kernels of the forward pass:
//  - launchAddBias: x[r][c] = bf16(x[r][c] + bias[c]) for r < rows, c < cols, rows rowStride apart
//    (Qwen2's q/k/v biases; fp32 addition, one rounding);
//  - launchKvAppend: kCache[positions[t]][:] = k[t][:] and vCache[positions[t]][:] = v[t][:] for
//    t < tokens, rows of `width` bf16 values (k and v rows srcStride apart, cache rows width apart),
//    positions in device memory so that a captured decode step appends at the current position.
// The tests check them against plain loops (no separate twin: each is one line of arithmetic).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

cudaError_t launchAddBias(std::uint16_t* x, long long rowStride, int rows, int cols, const float* bias,
                          cudaStream_t stream);

cudaError_t launchKvAppend(const std::uint16_t* k, const std::uint16_t* v, long long srcStride,
                           std::uint16_t* kCache, std::uint16_t* vCache, int width,
                           const std::int32_t* positions, int tokens, cudaStream_t stream);

} // namespace quire::inference::cuda
