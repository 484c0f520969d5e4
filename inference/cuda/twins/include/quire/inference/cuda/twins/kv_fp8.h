// CPU twins of kernels/kv_fp8.cuh: e4m3fn encoding (round to nearest even, saturating at +-448) and
// decoding, the paged append with per-page scales (bit-exact with the device, re-encoding included), the
// gather back to bf16, and decode attention over the pages (f32 softmax in double). Pure functions.
#pragma once

#include <cstdint>
#include <vector>

namespace quire::inference::cuda::twins {

float fp8E4M3ToFloat(std::uint8_t bits);
std::uint8_t floatToFp8E4M3(float x);

// Host image of one layer's fp8 cache (kv_fp8.cuh's layout).
struct Fp8KvHost {
    int pages = 0, pageSize = 0, numKvHeads = 0, headDim = 0;
    std::vector<std::uint8_t> k, v;      // [pages][pageSize][heads][d]
    std::vector<float> kScales, vScales; // [pages][heads]
    void allocate(int pageCount, int tokensPerPage, int heads, int dim);
};

// Same contract as launchKvFp8Append (k, v bf16 [tokens][heads][d], rows kStride / vStride apart).
void kvFp8Append(Fp8KvHost& cache, const std::int32_t* pageTable, int start, int tokens,
                 const std::uint16_t* k, long long kStride, const std::uint16_t* v, long long vStride);

void kvFp8Gather(const Fp8KvHost& cache, const std::int32_t* pageTable, int len, std::uint16_t* kOut,
                 std::uint16_t* vOut);

// out[h][d] (f32) = softmax_j(scale * q[h] . key_j) . value_j over keys 0..len-1 of one sequence, with
// q bf16 [numQHeads][d] and query head h using KV head h / (numQHeads / numKvHeads).
void attentionDecodeFp8(const Fp8KvHost& cache, const std::int32_t* pageTable, int len,
                        const std::uint16_t* q, int numQHeads, float scale, float* out);

} // namespace quire::inference::cuda::twins
