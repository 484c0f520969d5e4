// Pieces shared by the CPU reference and fast forward passes: the KV cache, RoPE and RMSNorm.
#pragma once

#include <cstdint>
#include <vector>

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
    int maxTokens() const { return m_maxTokens; }
    int kvDim() const { return m_kvDim; }

private:
    int m_kvDim;
    int m_maxTokens;
    int m_capacity = 0;
    std::vector<std::vector<float>> m_k, m_v;
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
