// The GPU memory plan of a Llama 4 model (Scout on one H100): for a device's free memory, what
// the weights take (int4 group-wise experts, bf16 or fp8 elsewhere, as llama4_memory.h counts
// them), what the KV cache takes per token (fp8 e4m3 pages with per-page scales for the global
// NoPE layers; the chunked RoPE layers keep a bf16 ring of one attention chunk), the working
// memory of one prefill chunk (and, with fp8 pages, a bf16 staging copy of one global layer's keys and
// values that prefill attention reads), and from these the longest context that fits on the GPU, plus the
// context that spills to configured host memory (pinned pages of the same format). A request for
// more is refused with the numbers, before anything is allocated, never by an out-of-memory crash.
//
// The free-memory figure is passed in (the CUDA backend reads cudaMemGetInfo; tests and
// `quire-cli info --gpu-memory` give a number), so the plan is computable from a config.json
// alone. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

#include "quire/inference/error.h"
#include "quire/inference/llama4.h"
#include "quire/inference/llama4_memory.h"

namespace quire::inference {

// The CUDA runner's MoE passes of at least this many tokens expand each expert to bf16 and multiply with
// cuBLAS (cuda/moe_wide.h): one expert's gate|up held in bf16, and this many extra rows of MoE scratch.
constexpr int kLlama4MoeWideTokens = 2048;
constexpr int kLlama4MoeWideRowQuantum = 64;

struct Llama4MemoryPlanOptions {
    std::uint64_t deviceFreeBytes = 0; // free device memory (cudaMemGetInfo after context creation)
    std::uint64_t hostKvBytes = 0;     // host memory configured for global-layer KV pages (0: none)
    Llama4Quantization quantization = gpuQuantization();
    int prefillChunk = 8192; // tokens per prefill step (the attention chunk for Scout)
    int kvPageTokens = 128;  // tokens per KV page of the global layers
    int globalKvBytes = 1;   // bytes per K or V element of the global layers (1: fp8 e4m3)
    int chunkedKvBytes = 2;  // bytes per K or V element of the chunked ring (2: bf16)
    std::uint64_t reserveBytes = std::uint64_t(512) << 20; // cuBLAS workspaces, allocator slack
    // Prefill attention of a global layer reads its fp8 pages through a bf16 copy of the layer's keys
    // and values (the CUDA runner does): 2 x kvDim x 2 bytes of device memory per token of context,
    // host-held pages included. Only with fp8 pages (globalKvBytes == 1).
    bool prefillStaging = true;
    // Rows of logits the LM head computes per product (f32 [logitRows][vocab] on the device).
    int logitRows = 256;
    // Keys per split of the fp8 decode attention: its f32 partials ([heads][splits][headDim + 2]) grow
    // with the context. Only with fp8 pages.
    int fp8DecodeSplit = 256;

    // The default, what the CUDA runner runs: routed experts int4 (group 128, an f32 scale per group),
    // everything else bf16 (attention, the shared expert, the embedding, the LM head). The int4-fp8
    // preset describes smaller weights (shared expert int4, attention and LM head fp8).
    static Llama4Quantization gpuQuantization();
};

struct Llama4MemoryPlan {
    Llama4MemoryOptions estimateOptions; // what the weight estimate below was computed with
    Llama4MemoryEstimate weights;        // weight bytes by part (its KV and working fields unused)
    std::uint64_t deviceFreeBytes = 0;
    std::uint64_t hostKvBytes = 0;
    std::uint64_t weightBytes = 0;

    // KV of the global layers, by page: data (every global layer, K and V, every KV head) plus an
    // f32 scale per (layer, K or V, KV head, page).
    int globalLayers = 0;
    int chunkedLayers = 0;
    int kvPageTokens = 0;
    std::uint64_t globalKvBytesPerToken = 0; // data only
    std::uint64_t globalKvScaleBytesPerPage = 0;
    std::uint64_t globalKvBytesPerPage = 0;        // data of kvPageTokens tokens + scales
    std::uint64_t stagingBytesPerPage = 0;         // device bf16 staging for prefill, per page of context
    std::uint64_t decodeWorkspaceBytesPerPage = 0; // fp8 decode partials, per page of context
    std::uint64_t chunkedRingBytes = 0;            // every chunked layer's ring of one chunk (fixed)

    // Working memory of one prefill chunk, as the CUDA runner allocates it: the f32 residual, bf16
    // activations, the MoE's permuted copies and routing buffers and the step inputs per token, the
    // LM head's rows of f32 logits, and the fixed reserve.
    int prefillChunk = 0;
    std::uint64_t workingBytesPerToken = 0;
    std::uint64_t workingBytes = 0;
    std::uint64_t reserveBytes = 0;

    std::uint64_t fixedBytes = 0; // weights + chunked ring + working (incl. reserve)
    bool weightsFit = false;      // fixedBytes <= deviceFreeBytes
    std::uint64_t gpuKvBytes = 0; // what is left for global-layer pages on the device
    std::int64_t gpuPages = 0;
    std::int64_t hostPages = 0;
    std::int64_t maxPositions = 0;    // the model's max_position_embeddings (0: no limit)
    std::int64_t maxContextGpu = 0;   // tokens whose KV fits on the device
    std::int64_t maxContextTotal = 0; // with the host pages too (and within maxPositions)

    // Bytes of global-layer KV for a context of `tokens` (whole pages).
    std::uint64_t globalKvBytes(std::int64_t tokens) const;
    // Several lines for a person: each figure, in GiB, with how it was computed.
    std::string describe() const;
};

Llama4MemoryPlan planLlama4Memory(const Llama4Config& config, const Llama4MemoryPlanOptions& options);

// Ok when a context of `tokens` fits (device plus host pages); otherwise an OutOfMemory error whose
// message gives the numbers: what the context needs, what the device and host hold, and what to do.
std::expected<void, Error> checkLlama4Context(const Llama4MemoryPlan& plan, std::int64_t tokens);

} // namespace quire::inference
