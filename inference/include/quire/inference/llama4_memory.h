// Memory a Llama 4 model needs, before anything is loaded: weight bytes for a quantization choice,
// KV-cache bytes split into global (NoPE, full-context) layers and chunked layers (which hold at
// most one attention chunk, llama4-architecture.md 6.9), and the working memory of the CPU
// runner's forward step. The app shows these before a prefill. Pure functions, thread-safe.
#pragma once

#include <cstdint>

#include "quire/inference/llama4.h"

namespace quire::inference {

struct Llama4MemoryOptions {
    std::int64_t contextLength = 8192; // tokens of context the KV cache must hold
    int kvElementBytes = 2;            // 2: bf16 (the spec's table, the GPU cache); 4: f32 (CPU runner)
    int chunkedKvElementBytes = 0;     // the chunked layers' element, when it differs (0: kvElementBytes);
                                       // the CUDA runner keeps fp8 global pages but a bf16 chunk ring
    int batchTokens = 512;             // tokens per forward step (prefill block)
    int threads = 1;                   // CPU threads (each has its own score and tile scratch)
    bool allLogits = false;            // logits for every token of a step (else the last only)
    WeightFormat sourceFormat = WeightFormat::BF16; // what "Source" means: the checkpoint's dtype
};

struct Llama4MemoryEstimate {
    // Weights, by part, in the formats the quantization gives them.
    std::uint64_t embeddingBytes = 0;
    std::uint64_t attentionBytes = 0; // q, k, v, o of every layer
    std::uint64_t expertBytes = 0;    // routed experts
    std::uint64_t sharedFfnBytes = 0; // shared experts and dense MLP layers
    std::uint64_t lmHeadBytes = 0;
    std::uint64_t otherBytes = 0;  // norms and routers (f32)
    std::uint64_t weightBytes = 0; // the sum
    // KV cache (keys after RoPE and QK norm, and values).
    int globalLayers = 0;
    int chunkedLayers = 0;
    std::uint64_t kvBytesPerTokenGlobal = 0;  // every global layer together, per token of context
    std::uint64_t kvBytesPerTokenChunked = 0; // every chunked layer together, per token up to a chunk
    std::uint64_t kvBytesGlobal = 0;          // at contextLength
    std::uint64_t kvBytesChunked = 0;         // at min(contextLength, chunk)
    std::uint64_t kvBytes = 0;
    std::uint64_t workingBytes = 0; // activations and scratch of one forward step
    std::uint64_t totalBytes = 0;
};

Llama4MemoryEstimate estimateLlama4Memory(const Llama4Config& config, const Llama4Quantization& quantization,
                                          const Llama4MemoryOptions& options = {});

} // namespace quire::inference
