// Split-K (flash-decoding) attention for one new token per sequence over a paged KV cache.
//
// The cache holds pages of pageSize tokens: kCache[page][slot][kvHead][d] and vCache likewise (bf16).
// Sequence b has seqLens[b] tokens (its new token's K/V already written), token t of it lives in page
// pageTable[b * maxPagesPerSeq + t / pageSize], slot t % pageSize. Its query q[b][h][d] sees every key
// of the sequence, or, when chunkSize > 0, only those of its own chunk: t >= ((len-1)/chunkSize) *
// chunkSize. Each (sequence, kv head, split of splitTokens keys) is one block; a second kernel merges
// the splits. out[b][h][d] is bf16. headDim is 64 or 128; numQHeads a multiple of numKvHeads.
// CPU twin: twins/attention_decode.h (same splits, tiles and merge).
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

constexpr int kDecodeTile = 64; // keys per step inside a split

// A split size that gives the GPU (multiprocessors) enough blocks for this batch; a multiple of
// kDecodeTile, at least two tiles.
int decodeSplitTokens(int batch, int numKvHeads, int maxSeqLen, int chunkSize, int multiprocessors);
std::size_t decodeWorkspaceBytes(int batch, int numQHeads, int headDim, int maxSeqLen, int chunkSize,
                                 int splitTokens);

cudaError_t launchAttentionDecode(const DecodeAttention& a, cudaStream_t stream);

} // namespace quire::inference::cuda
