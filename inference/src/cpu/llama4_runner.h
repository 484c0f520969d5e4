// Pieces shared by the Llama 4 CPU runners (the reference oracle and the fast path): the KV cache
// with its one-chunk rings, the scratch sizes the memory estimate also uses, and a Runner base
// that keeps the token history so a rollback into an already overwritten chunk can be replayed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <vector>

#include "cpu/llama4_kernels.h"
#include "quire/inference/backend.h"
#include "quire/inference/llama4.h"

namespace quire::inference::cpu {

// K and V per layer, in f32 (the default; the reference runner's only dtype) or f16/bf16 (2 bytes
// an element, rounded to nearest even when stored). Global layers keep every position (grown on
// demand up to maxTokens); chunked layers keep a ring of one chunk: position p lives in slot
// p mod C, and since chunks are aligned to position 0 the current chunk [floor(p/C)*C, p] fills
// slots 0..p mod C in order.
class Llama4KvCache {
public:
    Llama4KvCache(const Llama4Config& config, int maxTokens, KvDtype dtype = KvDtype::F32);

    bool reserve(int tokens); // false past maxTokens
    // f32 caches only.
    float* k(int layer, int pos) { return m_k[std::size_t(layer)].data() + slot(layer, pos); }
    float* v(int layer, int pos) { return m_v[std::size_t(layer)].data() + slot(layer, pos); }
    const float* k(int layer, int pos) const { return const_cast<Llama4KvCache*>(this)->k(layer, pos); }
    const float* v(int layer, int pos) const { return const_cast<Llama4KvCache*>(this)->v(layer, pos); }
    // f16/bf16 caches only.
    const std::uint16_t* k16(int layer, int pos) const
    {
        return m_k16[std::size_t(layer)].data() + slot(layer, pos);
    }
    const std::uint16_t* v16(int layer, int pos) const
    {
        return m_v16[std::size_t(layer)].data() + slot(layer, pos);
    }
    // Any dtype: the bytes of position `pos`'s row.
    std::byte* kBytes(int layer, int pos);
    std::byte* vBytes(int layer, int pos);
    const std::byte* kBytes(int layer, int pos) const
    {
        return const_cast<Llama4KvCache*>(this)->kBytes(layer, pos);
    }
    const std::byte* vBytes(int layer, int pos) const
    {
        return const_cast<Llama4KvCache*>(this)->vBytes(layer, pos);
    }
    // Stores one position's K and V (f32) converted to the cache's dtype.
    void store(int layer, int pos, const float* k, const float* v);

    KvDtype dtype() const { return m_dtype; }
    std::size_t rowBytes() const { return std::size_t(m_kvDim) * kvDtypeBytes(m_dtype); }
    bool chunked(int layer) const { return m_chunked[std::size_t(layer)] != 0; }
    int kvDim() const { return m_kvDim; }
    // K/V of the first position visible to a query at `pos` in `layer`; later positions follow
    // at kvDim strides up to `pos`.
    int firstVisible(int layer, int pos) const;
    int maxTokens() const { return m_maxTokens; }
    std::uint64_t bytes() const;

private:
    std::size_t slot(int layer, int pos) const
    {
        const int s = m_chunked[std::size_t(layer)] ? pos % m_chunk : pos;
        return std::size_t(s) * std::size_t(m_kvDim);
    }
    void resizeLayer(std::size_t layer, std::size_t elements);
    std::vector<std::uint8_t> m_chunked;
    int m_chunk = 0;
    int m_kvDim = 0;
    int m_maxTokens = 0;
    KvDtype m_dtype = KvDtype::F32;
    int m_capacity = 0;                                   // global layers
    std::vector<std::vector<float>> m_k, m_v;             // f32: one per layer, else empty
    std::vector<std::vector<std::uint16_t>> m_k16, m_v16; // f16/bf16: one per layer, else empty
};

// Floats of each buffer of the fast runner for a step of `tokens` tokens (the memory estimate
// uses the same numbers).
struct Llama4Scratch {
    std::size_t x = 0, xn = 0, q = 0, k = 0, v = 0, att = 0; // [T][dim|qDim|kvDim]
    std::size_t ffnGate = 0, ffnUp = 0;                      // [T][max(expertDim, denseDim)]
    std::size_t expertIn = 0, expertOut = 0;                 // [T][dim]
    std::size_t router = 0;                                  // [T][experts]
    std::size_t logits = 0;                                  // [T or 1][vocab]
    std::size_t scoresPerThread = 0;                         // [visible keys]
    std::size_t tilePerThread = 0;                           // llama4MatmulScratch(widest input, T)
    std::size_t totalFloats(int threads) const;
};
Llama4Scratch llama4Scratch(const Llama4Config& config, int tokens, std::int64_t contextLength,
                            bool allLogits);

// Runner state common to both CPU runners: argument checks, the token history and replay.
class Llama4RunnerBase : public Runner {
public:
    Llama4RunnerBase(std::shared_ptr<const ModelWeights> owner, const Llama4Weights& weights, int maxContext,
                     KvDtype kvDtype = KvDtype::F32);

    std::expected<void, Error> forward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                       bool allLogits) final;
    int position() const final { return int(m_tokens.size()); }
    int maxContext() const final { return m_cache.maxTokens(); }
    void truncate(int position) final;

    // KV export/import: global layers any held position; chunked layers only the chunk that
    // holds position() - 1 (the ring).
    std::expected<KvLayout, Error> kvLayout() const final;
    std::expected<void, Error> readKv(int layer, int begin, int end, std::span<std::byte> k,
                                      std::span<std::byte> v) const final;
    std::expected<void, Error> appendUncomputed(std::span<const std::int32_t> tokens) final;
    std::expected<void, Error> writeKv(int layer, int begin, int end, std::span<const std::byte> k,
                                       std::span<const std::byte> v) final;

protected:
    // Runs `tokens` at positions pos0.. (never across a chunk boundary of a chunked layer);
    // writes logits rows for every token (allLogits) or the last one into `logits` (may be null).
    virtual void run(std::span<const std::int32_t> tokens, int pos0, float* logits, bool allLogits) = 0;

    std::shared_ptr<const ModelWeights> m_owner;
    const Llama4Weights& m_w;
    const Llama4Config& m_c;
    Llama4KvCache m_cache;

private:
    // Checks a KV copy of [begin, end) in `layer` against what the cache holds.
    std::expected<void, Error> checkCopy(int layer, int begin, int end, std::size_t kBytes,
                                         std::size_t vBytes) const;
    std::vector<std::int32_t> m_tokens; // every token in the context
    int m_computed = 0;                 // tokens whose K/V are in the cache (the rest: replay)
};

std::expected<std::unique_ptr<Runner>, Error>
makeLlama4ReferenceRunner(std::shared_ptr<const ModelWeights> weights, const RunnerOptions& options);
// `kernels` null: the best table for this CPU.
std::expected<std::unique_ptr<Runner>, Error> makeLlama4CpuRunner(std::shared_ptr<const ModelWeights> weights,
                                                                  const RunnerOptions& options,
                                                                  const Llama4Kernels* kernels = nullptr);

} // namespace quire::inference::cpu
