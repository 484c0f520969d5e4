// Rotary position embedding, in place on bf16 heads: x[t][h][:] for t < tokens, h < heads, with
// `rowStride` elements between tokens (so Q and K can be rotated inside a fused QKV buffer).
// Pair (a, b) of each head is rotated by angle = float(position[t]) * invFreq[i]:
//   NeoxHalves:       pairs (i, i + dim/2), the "rotate_half" layout of Hugging Face Llama;
//   InterleavedPairs: pairs (2i, 2i + 1), the complex-number layout of Llama 4 (and GGUF "normal").
// invFreq ([dim/2] fp32 on the device) carries the frequencies, plain or llama3-scaled; build it with
// twins::ropeInvFreq. The arithmetic is fp32, the result rounded to bf16. CPU twin: twins/rope.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

enum class RopeMode : int { NeoxHalves = 0, InterleavedPairs = 1 };

cudaError_t launchRope(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride,
                       const std::int32_t* positions, const float* invFreq, RopeMode mode,
                       cudaStream_t stream);

} // namespace quire::inference::cuda
