// Picking the next token on the device, one row of logits per sequence (fp32, rowStride apart).
//  - greedy: the index of the largest logit (lowest index on ties; NaN never wins);
//  - top-k / top-p: candidates are the topK largest logits (at most kMaxTopK; ties broken by the
//    lower index), probabilities are softmax(logits / temperature) over the whole row, the nucleus is
//    the shortest prefix of the candidates (most likely first) whose probability reaches topP, and the
//    token is drawn from it with the caller's uniform number u[b] in [0, 1). Same u, same token: the
//    CPU twin (twins/sampling.h) runs the same algorithm.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

constexpr int kMaxTopK = 1024;

cudaError_t launchArgmax(const float* logits, long long rowStride, int rows, int vocab, std::int32_t* out,
                         cudaStream_t stream);

// topK <= 0 or > kMaxTopK means kMaxTopK; temperature must be > 0 (use launchArgmax for greedy).
cudaError_t launchSampleTopKTopP(const float* logits, long long rowStride, int rows, int vocab,
                                 float temperature, int topK, float topP, const float* u, std::int32_t* out,
                                 cudaStream_t stream);

} // namespace quire::inference::cuda
