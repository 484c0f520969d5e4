// CPU twins of kernels/moe.cuh: the router logits and the routed-expert forward of one Llama 4 MoE
// layer with int4 experts, written from llama4-architecture.md 7 with the device path's bf16 roundings
// (score, scaled input, gate|up, SwiGLU product, expert output, sum with the shared output).
#pragma once

#include <cstdint>
#include <vector>

#include "quire/inference/cuda/twins/int4.h"

namespace quire::inference::cuda::twins {

// logits [tokens][experts] = m[t] . router[e] (fp32, sequential sums), m bf16 [tokens][dim].
void moeRouterLogits(const std::uint16_t* m, int tokens, const float* router, int experts, int dim,
                     float* logits);

// Top-1 of a row of logits (ties: the lower index).
int moeTopExpert(const float* logits, int experts);

// out[t] = bf16(shared[t] + y_t), y_t = down_e(bf16(silu(gate) * up)) of xe = bf16(m[t] * bf16(sigmoid(l))),
// e = top-1 of logits[t] (given, so that a test can route with the device's logits). bf16 in and out,
// [tokens][dim]; gateUp is [2I][dim] per expert, down [dim][I].
void moeRouted(const std::uint16_t* m, int tokens, const float* logits, int experts, const Int4Host& gateUp,
               const Int4Host& down, const std::uint16_t* shared, std::uint16_t* out);

} // namespace quire::inference::cuda::twins
