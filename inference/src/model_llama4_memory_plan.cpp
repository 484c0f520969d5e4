// The Llama 4 GPU memory plan (llama4_memory_plan.h).
#include "quire/inference/llama4_memory_plan.h"

#include <algorithm>
#include <cstdio>

namespace quire::inference {

namespace {

double gib(std::uint64_t bytes)
{
    return double(bytes) / double(std::uint64_t(1) << 30);
}

std::string line(const char* format, auto... args)
{
    char buffer[512];
    std::snprintf(buffer, sizeof buffer, format, args...);
    return buffer;
}

std::int64_t pagesFor(std::int64_t tokens, int pageTokens)
{
    return (std::max<std::int64_t>(tokens, 0) + pageTokens - 1) / pageTokens;
}

} // namespace

Llama4Quantization Llama4MemoryPlanOptions::gpuQuantization()
{
    Llama4Quantization q;
    q.experts = WeightFormat::Int4;
    q.sharedFfn = WeightFormat::BF16;
    q.attention = WeightFormat::BF16;
    q.lmHead = WeightFormat::BF16;
    q.groupSize = 128;
    return q;
}

std::uint64_t Llama4MemoryPlan::globalKvBytes(std::int64_t tokens) const
{
    if (kvPageTokens <= 0)
        return 0;
    return std::uint64_t(pagesFor(tokens, kvPageTokens)) * globalKvBytesPerPage;
}

Llama4MemoryPlan planLlama4Memory(const Llama4Config& c, const Llama4MemoryPlanOptions& o)
{
    Llama4MemoryPlan p;
    p.deviceFreeBytes = o.deviceFreeBytes;
    p.hostKvBytes = o.hostKvBytes;
    p.prefillChunk = std::max(o.prefillChunk, 1);
    p.kvPageTokens = std::max(o.kvPageTokens, 1);
    p.reserveBytes = o.reserveBytes;
    p.maxPositions = c.contextLength;

    // Weights: the engine's own estimate, the checkpoint taken as bf16 (what Scout ships).
    p.estimateOptions.contextLength = 1;
    p.estimateOptions.kvElementBytes = o.globalKvBytes;
    p.estimateOptions.batchTokens = p.prefillChunk;
    p.estimateOptions.sourceFormat = WeightFormat::BF16;
    p.weights = estimateLlama4Memory(c, o.quantization, p.estimateOptions);
    p.weightBytes = p.weights.weightBytes;

    const std::uint64_t D = std::uint64_t(c.dim), Q = std::uint64_t(c.qDim()), KV = std::uint64_t(c.kvDim()),
                        I = std::uint64_t(c.expertDim), E = std::uint64_t(c.nExperts),
                        H = std::uint64_t(c.nHeads), G = std::uint64_t(c.nKvHeads),
                        V = std::uint64_t(c.vocabSize);

    // KV. Global layers: K and V of every KV head, fp8, plus an f32 scale per (layer, K|V, head, page).
    p.chunkedLayers = c.chunkedLayerCount();
    p.globalLayers = c.nLayers - p.chunkedLayers;
    const auto globalLayers = std::uint64_t(p.globalLayers);
    p.globalKvBytesPerToken = globalLayers * 2 * KV * std::uint64_t(o.globalKvBytes);
    p.globalKvScaleBytesPerPage = globalLayers * 2 * G * 4;
    p.globalKvBytesPerPage =
        p.globalKvBytesPerToken * std::uint64_t(p.kvPageTokens) + p.globalKvScaleBytesPerPage;
    if (o.prefillStaging && o.globalKvBytes == 1 && p.globalLayers > 0)
        p.stagingBytesPerPage = 2 * KV * 2 * std::uint64_t(p.kvPageTokens);
    // fp8 decode: f32 partial output and (max, sum) per query head and split of fp8DecodeSplit keys.
    if (o.globalKvBytes == 1 && p.globalLayers > 0) {
        const std::uint64_t split = std::uint64_t(std::max(o.fp8DecodeSplit, 1));
        p.decodeWorkspaceBytesPerPage =
            (H * (std::uint64_t(c.headDim) + 2) * 4 * std::uint64_t(p.kvPageTokens) + split - 1) / split;
    }
    // Chunked layers: a ring of one chunk each, allocated whole when the session starts.
    p.chunkedRingBytes = std::uint64_t(p.chunkedLayers) * 2 * KV * std::uint64_t(o.chunkedKvBytes) *
                         std::uint64_t(std::max(c.chunkSize, 0));

    // Working memory per prefill token, the CUDA runner's buffers (llama4_cuda.cpp). The f32 residual
    // [D]. bf16: the norm output, the attention delta, the shared expert's output and the FFN output
    // [D each]; q|k|v [Q + 2 KV] and the attention output [Q]; gate|up [2I] and the SwiGLU product [I]
    // (the widest FFN a layer has: the shared expert's, or a dense layer's) for the shared expert. The MoE's
    // own: the scaled, permuted input and the expert output [D each], gate|up [2I] and the SwiGLU product
    // [I], f32 router logits [E], expert id, score and slot (4 B each). Step inputs: id, position and ring
    // position (4 B each).
    const bool anyMoe = std::find(c.moe.begin(), c.moe.end(), 1) != c.moe.end();
    const bool anyDense = std::find(c.moe.begin(), c.moe.end(), 0) != c.moe.end();
    const std::uint64_t ffn = std::uint64_t(std::max(anyMoe ? c.expertDim : 0, anyDense ? c.denseDim : 0));
    p.workingBytesPerToken =
        4 * D + 2 * (4 * D + Q + 2 * KV + Q + 3 * ffn) + 2 * (2 * D + 3 * I) + 4 * E + 3 * 4 + 3 * 4;
    p.workingBytes = p.workingBytesPerToken * std::uint64_t(p.prefillChunk) +
                     std::uint64_t(std::max(o.logitRows, 1)) * 4 * V + p.reserveBytes;
    // Wide prefill passes: one expert's gate|up expanded to bf16 [2I][D], and the rounded-up rows.
    if (anyMoe && p.prefillChunk >= kLlama4MoeWideTokens)
        p.workingBytes += 2 * (2 * I) * D + std::uint64_t(kLlama4MoeWideRowQuantum) * p.workingBytesPerToken;

    p.fixedBytes = p.weightBytes + p.chunkedRingBytes + p.workingBytes;
    p.weightsFit = p.fixedBytes <= p.deviceFreeBytes;
    p.gpuKvBytes = p.weightsFit ? p.deviceFreeBytes - p.fixedBytes : 0;
    // A page on the device costs its data, scales and staging; a page on the host its data and scales
    // there, and its staging on the device.
    std::int64_t gpuPagesWithHost = 0;
    if (p.globalKvBytesPerPage > 0) {
        const std::uint64_t deviceOnly = p.stagingBytesPerPage + p.decodeWorkspaceBytesPerPage;
        const std::uint64_t onDevice = p.globalKvBytesPerPage + deviceOnly;
        p.gpuPages = std::int64_t(p.gpuKvBytes / onDevice);
        p.hostPages = std::int64_t(p.hostKvBytes / p.globalKvBytesPerPage);
        if (deviceOnly > 0)
            p.hostPages = std::min<std::int64_t>(p.hostPages, std::int64_t(p.gpuKvBytes / deviceOnly));
        gpuPagesWithHost = std::int64_t((p.gpuKvBytes - std::uint64_t(p.hostPages) * deviceOnly) / onDevice);
    }
    const auto cap = [&](std::int64_t tokens) {
        return p.maxPositions > 0 ? std::min(tokens, p.maxPositions) : tokens;
    };
    if (p.globalLayers == 0) { // every layer chunked: the context costs no more KV past one chunk
        p.maxContextGpu = p.weightsFit ? cap(std::int64_t(1) << 40) : 0;
        p.maxContextTotal = p.maxContextGpu;
    } else {
        p.maxContextGpu = p.weightsFit ? cap(p.gpuPages * p.kvPageTokens) : 0;
        p.maxContextTotal =
            p.weightsFit ? cap(std::max(p.gpuPages, gpuPagesWithHost + p.hostPages) * p.kvPageTokens) : 0;
    }
    return p;
}

std::string Llama4MemoryPlan::describe() const
{
    std::string s;
    s += line("device free memory     %8.2f GiB\n", gib(deviceFreeBytes));
    s += line("weights                %8.2f GiB  (experts %.2f, shared FFN %.2f, attention %.2f,\n",
              gib(weightBytes), gib(weights.expertBytes), gib(weights.sharedFfnBytes),
              gib(weights.attentionBytes));
    s += line("                                   embedding %.2f, LM head %.2f, norms+routers %.2f)\n",
              gib(weights.embeddingBytes), gib(weights.lmHeadBytes), gib(weights.otherBytes));
    s += line("chunked-layer KV ring  %8.2f GiB  (%d layers, one chunk each)\n", gib(chunkedRingBytes),
              chunkedLayers);
    s += line("prefill working memory %8.2f GiB  (%d-token chunk, %llu B/token, %.2f GiB reserve)\n",
              gib(workingBytes), prefillChunk, static_cast<unsigned long long>(workingBytesPerToken),
              gib(reserveBytes));
    s += line("global-layer KV        %llu B/token  (%d layers, pages of %d tokens, %.0f KiB/page "
              "with scales)\n",
              static_cast<unsigned long long>(globalKvBytesPerToken), globalLayers, kvPageTokens,
              double(globalKvBytesPerPage) / 1024.0);
    if (stagingBytesPerPage > 0)
        s += line("prefill staging        %llu B/token  (bf16 keys and values of one global layer)\n",
                  static_cast<unsigned long long>(stagingBytesPerPage / std::uint64_t(kvPageTokens)));
    if (decodeWorkspaceBytesPerPage > 0)
        s += line("fp8 decode partials    %llu B/page  (f32 per query head and split of keys)\n",
                  static_cast<unsigned long long>(decodeWorkspaceBytesPerPage));
    if (deviceFreeBytes == 0) {
        s += "no device memory figure (no CUDA device found and none given): no maximum context\n";
        return s;
    }
    if (!weightsFit) {
        s += line("does not fit: weights, ring and working memory need %.2f GiB of %.2f GiB free\n",
                  gib(fixedBytes), gib(deviceFreeBytes));
        return s;
    }
    s += line("left for KV on the GPU %8.2f GiB  -> %lld pages\n", gib(gpuKvBytes),
              static_cast<long long>(gpuPages));
    s += line("max context on the GPU %lld tokens\n", static_cast<long long>(maxContextGpu));
    if (hostKvBytes > 0) {
        s += line("host KV memory         %8.2f GiB  -> %lld pages; max context with host %lld tokens\n",
                  gib(hostKvBytes), static_cast<long long>(hostPages),
                  static_cast<long long>(maxContextTotal));
        s += "(a plan only: the CUDA runner keeps every KV page on the GPU and does not use host memory yet)\n";
    }
    if (maxPositions > 0 && maxContextTotal == maxPositions)
        s += line("(limited by the model's max_position_embeddings, %lld)\n",
                  static_cast<long long>(maxPositions));
    return s;
}

std::expected<void, Error> checkLlama4Context(const Llama4MemoryPlan& p, std::int64_t tokens)
{
    if (tokens <= 0)
        return {};
    if (!p.weightsFit)
        return std::unexpected(Error{
            ErrorCode::OutOfMemory,
            line("the model does not fit on the GPU: weights %.2f GiB + chunked KV ring %.2f GiB + working "
                 "memory %.2f GiB = %.2f GiB, but only %.2f GiB are free",
                 gib(p.weightBytes), gib(p.chunkedRingBytes), gib(p.workingBytes), gib(p.fixedBytes),
                 gib(p.deviceFreeBytes))});
    if (p.maxPositions > 0 && tokens > p.maxPositions)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument,
                  line("a context of %lld tokens is longer than the model's maximum of %lld positions",
                       static_cast<long long>(tokens), static_cast<long long>(p.maxPositions))});
    if (tokens <= p.maxContextTotal)
        return {};
    const std::uint64_t need = p.globalKvBytes(tokens);
    const std::uint64_t staging =
        std::uint64_t((tokens + p.kvPageTokens - 1) / p.kvPageTokens) * p.stagingBytesPerPage;
    std::string message = line("a context of %lld tokens needs %.2f GiB of KV for the %d global layers",
                               static_cast<long long>(tokens), gib(need), p.globalLayers);
    if (staging > 0)
        message += line(" (and %.2f GiB of bf16 staging on the GPU for prefill)", gib(staging));
    message +=
        line("; the GPU has %.2f GiB left after the weights (%.2f GiB), working memory and chunked-layer "
             "ring (%.2f GiB), room for %lld tokens",
             gib(p.gpuKvBytes), gib(p.weightBytes), gib(p.workingBytes + p.chunkedRingBytes),
             static_cast<long long>(p.maxContextGpu));
    if (p.hostKvBytes > 0)
        message += line(", %lld with %.2f GiB of host memory", static_cast<long long>(p.maxContextTotal),
                        gib(p.hostKvBytes));
    // No runner places pages in host memory yet (the plan counts them for `quire-cli info`), so host
    // memory is not offered as a way out.
    message +=
        line("; shorten the context to at most %lld tokens", static_cast<long long>(p.maxContextTotal));
    return std::unexpected(Error{ErrorCode::OutOfMemory, message});
}

} // namespace quire::inference
