// Pieces shared by the CPU reference and fast forward passes: the KV cache, RoPE and RMSNorm.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <vector>

#include "quire/inference/backend.h"
#include "quire/inference/model_weights.h"

namespace quire::inference::cpu {

// K and V for every layer, f32, [position][kvDim] per layer, grown on demand up to maxTokens.
class KvCache {
public:
    KvCache(int nLayers, int kvDim, int maxTokens);

    // Makes room for `tokens` positions; false when that passes maxTokens.
    bool reserve(int tokens);
    float* k(int layer, int pos)
    {
        return m_k[std::size_t(layer)].data() + std::size_t(pos) * std::size_t(m_kvDim);
    }
    float* v(int layer, int pos)
    {
        return m_v[std::size_t(layer)].data() + std::size_t(pos) * std::size_t(m_kvDim);
    }
    const float* k(int layer, int pos) const { return const_cast<KvCache*>(this)->k(layer, pos); }
    const float* v(int layer, int pos) const { return const_cast<KvCache*>(this)->v(layer, pos); }
    int maxTokens() const { return m_maxTokens; }
    int kvDim() const { return m_kvDim; }
    int nLayers() const { return int(m_k.size()); }

private:
    int m_kvDim;
    int m_maxTokens;
    int m_capacity = 0;
    std::vector<std::vector<float>> m_k, m_v;
};

// KV export/import of the dense runners: f32, every layer keeps every position; `held` is the
// runner's position.
KvLayout denseKvLayout(const ModelConfig& config);
std::expected<void, Error> readDenseKv(const KvCache& cache, int held, int layer, int begin, int end,
                                       std::span<std::byte> k, std::span<std::byte> v);
std::expected<void, Error> writeDenseKv(KvCache& cache, int held, int layer, int begin, int end,
                                        std::span<const std::byte> k, std::span<const std::byte> v);
// Checks a readKv/writeKv call: layer in range, 0 <= begin <= end <= held, buffers of
// (end - begin) * rowBytes each.
std::expected<void, Error> checkKvCopy(int layer, int nLayers, int begin, int end, int held,
                                       std::size_t kBytes, std::size_t vBytes, std::size_t rowBytes);
// Checks ids against the vocabulary and makes room for `tokens` more positions after `held`.
std::expected<void, Error> reserveUncomputed(KvCache& cache, int held, std::span<const std::int32_t> tokens,
                                             int vocab);

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
