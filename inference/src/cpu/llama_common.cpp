#include "cpu/llama_common.h"

#include <algorithm>
#include <cmath>

namespace quire::inference::cpu {

KvCache::KvCache(int nLayers, int kvDim, int maxTokens)
    : m_kvDim(kvDim), m_maxTokens(maxTokens), m_k(std::size_t(nLayers)), m_v(std::size_t(nLayers))
{
}

bool KvCache::reserve(int tokens)
{
    if (tokens > m_maxTokens)
        return false;
    if (tokens <= m_capacity)
        return true;
    const int capacity = std::min(m_maxTokens, std::max({tokens, 2 * m_capacity, 256}));
    for (auto* side : {&m_k, &m_v})
        for (auto& layer : *side)
            layer.resize(std::size_t(capacity) * std::size_t(m_kvDim));
    m_capacity = capacity;
    return true;
}

void RopeTable::compute(const std::vector<float>& freqs, int firstPos, int count)
{
    half = int(freqs.size());
    cos.resize(std::size_t(count) * std::size_t(half));
    sin.resize(cos.size());
    for (int t = 0; t < count; ++t) {
        const float pos = float(firstPos + t);
        for (int i = 0; i < half; ++i) {
            const float angle = pos * freqs[std::size_t(i)];
            cos[std::size_t(t * half + i)] = std::cos(angle);
            sin[std::size_t(t * half + i)] = std::sin(angle);
        }
    }
}

void applyRope(float* vec, int nHeads, int headDim, int ropeDim, RopeStyle style, const float* cos,
               const float* sin)
{
    const int half = ropeDim / 2;
    for (int h = 0; h < nHeads; ++h) {
        float* v = vec + h * headDim;
        for (int i = 0; i < half; ++i) {
            // Interleaved pairs (2i, 2i+1); NeoX pairs (i, i + half).
            const int a = style == RopeStyle::Interleaved ? 2 * i : i;
            const int b = style == RopeStyle::Interleaved ? 2 * i + 1 : i + half;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * cos[i] - x1 * sin[i];
            v[b] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

void rmsNorm(float* out, const float* x, const float* weight, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; ++i)
        ss += double(x[i]) * x[i];
    const float scale = float(1.0 / std::sqrt(ss / n + eps));
    for (int i = 0; i < n; ++i)
        out[i] = x[i] * scale * weight[i];
}

} // namespace quire::inference::cpu
