// The Llama 4 memory estimate (llama4_memory.h).
#include "quire/inference/llama4_memory.h"

#include <algorithm>

#include "cpu/llama4_runner.h"

namespace quire::inference {

namespace {

std::uint64_t matrixBytes(WeightFormat format, const Llama4MemoryOptions& o, std::int64_t rows,
                          std::int64_t cols, int groupSize)
{
    if (format == WeightFormat::Source || format == WeightFormat::Ggml)
        format = o.sourceFormat == WeightFormat::Source || o.sourceFormat == WeightFormat::Ggml
                     ? WeightFormat::BF16
                     : o.sourceFormat;
    return std::uint64_t(rows) * weightRowBytes(format, cols, groupSize);
}

} // namespace

Llama4MemoryEstimate estimateLlama4Memory(const Llama4Config& c, const Llama4Quantization& q,
                                          const Llama4MemoryOptions& o)
{
    Llama4MemoryEstimate m;
    const std::int64_t D = c.dim, Q = c.qDim(), KV = c.kvDim(), I = c.expertDim, M = c.denseDim,
                       V = c.vocabSize;
    const int g = q.groupSize;
    m.embeddingBytes = matrixBytes(WeightFormat::Source, o, V, D, g);
    m.lmHeadBytes = matrixBytes(q.lmHead, o, V, D, g);
    m.otherBytes = std::uint64_t(D) * 4; // final norm
    for (int l = 0; l < c.nLayers; ++l) {
        m.attentionBytes += matrixBytes(q.attention, o, Q, D, g) + 2 * matrixBytes(q.attention, o, KV, D, g) +
                            matrixBytes(q.attention, o, D, Q, g);
        m.otherBytes += 2 * std::uint64_t(D) * 4;
        if (c.moe[std::size_t(l)]) {
            m.expertBytes += std::uint64_t(c.nExperts) *
                             (2 * matrixBytes(q.experts, o, I, D, g) + matrixBytes(q.experts, o, D, I, g));
            m.sharedFfnBytes +=
                2 * matrixBytes(q.sharedFfn, o, I, D, g) + matrixBytes(q.sharedFfn, o, D, I, g);
            m.otherBytes += std::uint64_t(c.nExperts) * std::uint64_t(D) * 4; // router, f32
        } else {
            m.sharedFfnBytes +=
                2 * matrixBytes(q.sharedFfn, o, M, D, g) + matrixBytes(q.sharedFfn, o, D, M, g);
        }
    }
    m.weightBytes =
        m.embeddingBytes + m.attentionBytes + m.expertBytes + m.sharedFfnBytes + m.lmHeadBytes + m.otherBytes;

    m.chunkedLayers = c.chunkedLayerCount();
    m.globalLayers = c.nLayers - m.chunkedLayers;
    const std::uint64_t perLayer = 2 * std::uint64_t(KV) * std::uint64_t(o.kvElementBytes); // K and V
    const std::uint64_t perChunkedLayer =
        2 * std::uint64_t(KV) * std::uint64_t(o.chunkedKvElementBytes > 0 ? o.chunkedKvElementBytes : o.kvElementBytes);
    m.kvBytesPerTokenGlobal = perLayer * std::uint64_t(m.globalLayers);
    m.kvBytesPerTokenChunked = perChunkedLayer * std::uint64_t(m.chunkedLayers);
    const auto ctx = std::uint64_t(std::max<std::int64_t>(o.contextLength, 0));
    m.kvBytesGlobal = m.kvBytesPerTokenGlobal * ctx;
    m.kvBytesChunked =
        m.kvBytesPerTokenChunked * std::min<std::uint64_t>(ctx, std::uint64_t(std::max(c.chunkSize, 0)));
    m.kvBytes = m.kvBytesGlobal + m.kvBytesChunked;

    const auto scratch =
        cpu::llama4Scratch(c, o.batchTokens, std::max<std::int64_t>(o.contextLength, 1), o.allLogits);
    m.workingBytes = std::uint64_t(scratch.totalFloats(o.threads)) * sizeof(float);
    m.totalBytes = m.weightBytes + m.kvBytes + m.workingBytes;
    return m;
}

} // namespace quire::inference
