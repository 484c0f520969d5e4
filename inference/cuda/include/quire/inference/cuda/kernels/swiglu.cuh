// SwiGLU, the gate of a Llama feed-forward block: out[r][c] = bf16(silu(gate[r][c]) * up[r][c]) with
// silu(g) = g / (1 + exp(-g)), fp32 arithmetic, all tensors bf16 with their own row strides (gate and
// up may be the two halves of one fused projection). CPU twin: twins/swiglu.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

cudaError_t launchSwiGlu(const std::uint16_t* gate, long long gateStride, const std::uint16_t* up,
                         long long upStride, std::uint16_t* out, long long outStride, int rows, int cols,
                         cudaStream_t stream);

} // namespace quire::inference::cuda
