// Split-K (flash-decoding) attention for one new token per sequence over a paged KV cache.
//
// The cache holds pages of pageSize tokens: kCache[page][slot][kvHead][d] and vCache likewise (bf16).
// Sequence b has seqLens[b] tokens (its new token's K/V already written), token t of it lives in page
// pageTable[b * maxPagesPerSeq + t / pageSize], slot t % pageSize. Its query q[b][h][d] sees every key
// of the sequence, or, when chunkSize > 0, only those of its own chunk: t >= ((len-1)/chunkSize) *
// chunkSize. Each (sequence, kv head, up to 16 query heads of its group, split of splitTokens keys) is
// one block of 8 warps; warp w takes the split's 16-key chunks w, w + 8, ... with its own cp.async
// pipeline and tensor-core products (the group's query heads are the 16 rows of one mma tile), the
// warps merge in shared memory, and a second kernel merges the splits. out[b][h][d] is bf16. headDim
// is 64 or 128; numQHeads a multiple of numKvHeads; q, the caches and the workspace 16-byte aligned.
// CPU twin: twins/attention.h (same splits, chunks, warps, rounding and merges).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace quire::inference::cuda {

struct DecodeAttention {
    const std::uint16_t* q = nullptr;      // [batch][numQHeads][headDim]
    const std::uint16_t* kCache = nullptr; // [pages][pageSize][numKvHeads][headDim]
    const std::uint16_t* vCache = nullptr;
    const std::int32_t* pageTable = nullptr; // [batch][maxPagesPerSeq]
    const std::int32_t* seqLens = nullptr;   // [batch]
    std::uint16_t* out = nullptr;            // [batch][numQHeads][headDim]
    int batch = 0, numQHeads = 0, numKvHeads = 0, headDim = 0;
    int pageSize = 0, maxPagesPerSeq = 0;
    int maxSeqLen = 0;   // an upper bound of seqLens (sizes the grid and the workspace)
    int chunkSize = 0;   // 0: the whole sequence
    int splitTokens = 0; // keys per split, a positive multiple of kDecodeTile (see decodeSplitTokens)
    float scale = 0;
    float* workspace = nullptr; // decodeWorkspaceBytes() bytes on the device
};

constexpr int kDecodeTile = 16;  // keys per warp step; splitTokens must be a multiple
constexpr int kDecodeWarps = 8;  // warps per block; chunk c of a split goes to warp c % kDecodeWarps
constexpr int kDecodeHeads = 16; // query heads served by one block (larger groups take several blocks)

// A split size that fills the GPU (multiprocessors) with about one block per multiprocessor for this
// batch: a multiple of kDecodeTile * kDecodeWarps, so that every warp of a full split gets as many keys.
int decodeSplitTokens(int batch, int numKvHeads, int maxSeqLen, int chunkSize, int multiprocessors);
std::size_t decodeWorkspaceBytes(int batch, int numQHeads, int headDim, int maxSeqLen, int chunkSize,
                                 int splitTokens);

cudaError_t launchAttentionDecode(const DecodeAttention& a, cudaStream_t stream);

} // namespace quire::inference::cuda
