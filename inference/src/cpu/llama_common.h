// Pieces shared by the CPU reference and fast forward passes: the KV cache, RoPE and RMSNorm.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "quire/inference/backend.h"
#include "quire/inference/model_weights.h"

namespace quire::inference::cpu {

// K and V for every layer, [position][kvDim] per layer, grown on demand up to maxTokens. Held in
// f32 (the default, and the only dtype of the reference runners) or in f16/bf16: then 2 bytes an
// element, rows are rounded to nearest even as they are stored and widened as attention reads them.
class KvCache {
public:
    KvCache(int nLayers, int kvDim, int maxTokens, KvDtype dtype = KvDtype::F32);

    // Makes room for `tokens` positions; false when that passes maxTokens.
    bool reserve(int tokens);
    // f32 caches only.
    float* k(int layer, int pos) { return m_k[std::size_t(layer)].data() + offset(pos); }
    float* v(int layer, int pos) { return m_v[std::size_t(layer)].data() + offset(pos); }
    const float* k(int layer, int pos) const { return const_cast<KvCache*>(this)->k(layer, pos); }
    const float* v(int layer, int pos) const { return const_cast<KvCache*>(this)->v(layer, pos); }
    // f16/bf16 caches only.
    const std::uint16_t* k16(int layer, int pos) const
    {
        return m_k16[std::size_t(layer)].data() + offset(pos);
    }
    const std::uint16_t* v16(int layer, int pos) const
    {
        return m_v16[std::size_t(layer)].data() + offset(pos);
    }
    // Any dtype: the bytes of row `pos` (rows of a layer are contiguous).
    std::byte* kBytes(int layer, int pos);
    std::byte* vBytes(int layer, int pos);
    const std::byte* kBytes(int layer, int pos) const
    {
        return const_cast<KvCache*>(this)->kBytes(layer, pos);
    }
    const std::byte* vBytes(int layer, int pos) const
    {
        return const_cast<KvCache*>(this)->vBytes(layer, pos);
    }
    // Stores `rows` rows of K and V (f32, `ld` floats apart) at positions pos.. of `layer`,
    // converted to the cache's dtype.
    void store(int layer, int pos, int rows, const float* k, const float* v, std::size_t ld);

    KvDtype dtype() const { return m_dtype; }
    std::size_t rowBytes() const { return std::size_t(m_kvDim) * kvDtypeBytes(m_dtype); }
    int maxTokens() const { return m_maxTokens; }
    int kvDim() const { return m_kvDim; }
    int nLayers() const { return m_nLayers; }
    std::uint64_t bytes() const; // allocated for K and V

private:
    std::size_t offset(int pos) const { return std::size_t(pos) * std::size_t(m_kvDim); }
    int m_nLayers;
    int m_kvDim;
    int m_maxTokens;
    KvDtype m_dtype;
    int m_capacity = 0;
    std::vector<std::vector<float>> m_k, m_v;             // f32: one per layer, else empty
    std::vector<std::vector<std::uint16_t>> m_k16, m_v16; // f16/bf16: one per layer, else empty
};

// Converts n floats to a 16-bit KV dtype (f16 or bf16), rounding to nearest even.
void convertKvRow(KvDtype dtype, const float* x, std::uint16_t* y, std::size_t n);
// An Unsupported error unless `dtype` (when given) is one the named runner can hold.
std::expected<KvDtype, Error> checkKvDtype(const std::optional<KvDtype>& dtype, bool halfSupported,
                                           std::string_view backend);

// What the dense runners (reference and fast) share: the weights, the KV cache and the position,
// with KV export/import in the cache's dtype (every layer keeps every position).
class DenseKvRunner : public Runner {
public:
    int position() const override { return m_pos; }
    int maxContext() const override { return m_cache.maxTokens(); }
    void truncate(int position) override;
    std::expected<KvLayout, Error> kvLayout() const override;
    std::expected<void, Error> readKv(int layer, int begin, int end, std::span<std::byte> k,
                                      std::span<std::byte> v) const override;
    std::expected<void, Error> appendUncomputed(std::span<const std::int32_t> tokens) override;
    std::expected<void, Error> writeKv(int layer, int begin, int end, std::span<const std::byte> k,
                                       std::span<const std::byte> v) override;

protected:
    DenseKvRunner(std::shared_ptr<const ModelWeights> weights, int maxContext, KvDtype kvDtype);
    std::shared_ptr<const ModelWeights> m_w;
    KvCache m_cache;
    int m_pos = 0; // tokens held
};

// cos/sin of every rotated pair for a run of positions: [positions][ropeDim/2] each.
struct RopeTable {
    std::vector<float> cos, sin;
    int half = 0;
    void compute(const std::vector<float>& freqs, int firstPos, int count);
};

// Rotates the first ropeDim dims of each of nHeads heads of vec ([nHeads][headDim]).
void applyRope(float* vec, int nHeads, int headDim, int ropeDim, RopeStyle style, const float* cos,
               const float* sin);

void rmsNorm(float* out, const float* x, const float* weight, int n, float eps);

} // namespace quire::inference::cpu
