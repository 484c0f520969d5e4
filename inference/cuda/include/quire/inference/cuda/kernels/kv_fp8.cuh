// fp8 e4m3 KV cache with per-page scales, for Llama 4's global (NoPE) layers, whose KV spans the whole
// context. One layer's cache is a pool of pages of pageSize tokens:
//   kPages[page][slot][kvHead][d]  e4m3fn bytes (likewise vPages)
//   kScales[page][kvHead]          f32; key value = e4m3(byte) * scale (likewise vScales)
// A sequence's token t lives in page pageTable[t / pageSize], slot t % pageSize.
//
// Append (launchKvFp8Append) writes tokens start..start+tokens-1 from bf16 K and V. Per (page, head) the
// scale is max(old scale, |new values|max / 448); when a partly filled page's scale grows, its earlier
// entries are re-encoded with the new scale (decode to f32 with the old scale, encode with the new), so
// a page never saturates. A page whose first slot is written starts afresh (its old contents and scale
// are ignored). Encoding is x * (1 / scale) rounded to nearest even with saturation (cvt.rn.satfinite);
// the twin (twins/kv_fp8.h) repeats it bit for bit.
//
// Gather (launchKvFp8Gather) decodes tokens 0..len-1 back to bf16 [len][kvHeads][d] for the prefill
// attention kernel (a later chunk of a prompt attends over every earlier token of a global layer).
//
// Decode attention (launchAttentionDecodeFp8): one new token per sequence, every key 0..seqLen-1 of the
// sequence (global layers: no chunk limit), split-K over the keys with a merge kernel, fp32 softmax;
// q bf16 [batch][numQHeads][d] (the NoPE temperature already applied), out bf16 likewise. headDim 32, 64
// or 128; up to kFp8DecodeMaxGroup query heads per KV head.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace quire::inference::cuda {

constexpr float kFp8E4M3Max = 448.0f;
constexpr int kFp8DecodeMaxGroup = 8;
constexpr int kFp8DecodeSplit = 256; // keys per split block

struct Fp8KvCache {
    std::uint8_t* kPages = nullptr;
    std::uint8_t* vPages = nullptr;
    float* kScales = nullptr;
    float* vScales = nullptr;
    int pageSize = 0; // tokens per page (1..1024)
    int numKvHeads = 0;
    int headDim = 0;
};

// k and v bf16 [tokens][numKvHeads][headDim], rows kStride / vStride elements apart; pageTable (device)
// maps the sequence's logical pages to pool pages.
cudaError_t launchKvFp8Append(const Fp8KvCache& cache, const std::int32_t* pageTable, int start, int tokens,
                              const std::uint16_t* k, long long kStride, const std::uint16_t* v,
                              long long vStride, cudaStream_t stream);

// kOut, vOut bf16 [len][numKvHeads][headDim] (contiguous).
cudaError_t launchKvFp8Gather(const Fp8KvCache& cache, const std::int32_t* pageTable, int len,
                              std::uint16_t* kOut, std::uint16_t* vOut, cudaStream_t stream);

struct Fp8DecodeAttention {
    const std::uint16_t* q = nullptr; // [batch][numQHeads][headDim]
    Fp8KvCache cache;
    const std::int32_t* pageTable = nullptr; // [batch][maxPagesPerSeq]
    const std::int32_t* seqLens = nullptr;   // [batch], the new token's K/V already appended
    std::uint16_t* out = nullptr;            // [batch][numQHeads][headDim]
    int batch = 0, numQHeads = 0, maxPagesPerSeq = 0;
    int maxSeqLen = 0;          // bounds seqLens: sizes the grid and the workspace
    float scale = 0;            // softmax scale (1/sqrt(headDim))
    float* workspace = nullptr; // fp8DecodeWorkspaceBytes() bytes
};

std::size_t fp8DecodeWorkspaceBytes(int batch, int numQHeads, int headDim, int maxSeqLen);
cudaError_t launchAttentionDecodeFp8(const Fp8DecodeAttention& a, cudaStream_t stream);

} // namespace quire::inference::cuda
