// Attention for any head dim up to 256 (the tiled kernels take 64 and 128 only): one block per
// (query row, query head), keys in chunks of 128 with an online softmax in fp32, exp() in fp32. Slow
// but general: the CUDA backend uses it for models whose heads are neither 64 nor 128 wide (the tiny
// test models have 8).
//
// Query row i sits at position positions[i] (device memory, so one launch serves a decode step
// captured in a CUDA graph) and sees keys 0..positions[i] (and, when chunkSize > 0, only those at or
// after (positions[i] / chunkSize) * chunkSize); keys are rows of k and v, which must hold every key
// a query sees. Layouts: q[i][h][d], k[j][kvh][d], v[j][kvh][d], o[i][h][d], bf16, with the given
// strides in elements. The twin is the naive reference of twins/attention.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

struct NaiveAttention {
    const std::uint16_t* q = nullptr;
    const std::uint16_t* k = nullptr;
    const std::uint16_t* v = nullptr;
    std::uint16_t* o = nullptr;
    long long qStride = 0, kStride = 0, vStride = 0, oStride = 0;
    int lq = 0;
    const std::int32_t* positions = nullptr; // device [lq]
    int numQHeads = 0, numKvHeads = 0, headDim = 0;
    int chunkSize = 0;
    float scale = 0;
};

constexpr int kNaiveMaxHeadDim = 256;

cudaError_t launchAttentionNaive(const NaiveAttention& a, cudaStream_t stream);

} // namespace quire::inference::cuda
