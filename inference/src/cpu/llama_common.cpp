#include "cpu/llama_common.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

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

KvLayout denseKvLayout(const ModelConfig& config)
{
    KvLayout l;
    l.dtype = KvDtype::F32;
    l.nLayers = config.nLayers;
    l.nKvHeads = config.nKvHeads;
    l.headDim = config.headDim;
    return l;
}

std::expected<void, Error> checkKvCopy(int layer, int nLayers, int begin, int end, int held,
                                       std::size_t kBytes, std::size_t vBytes, std::size_t rowBytes)
{
    if (layer < 0 || layer >= nLayers)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "KV copy: no layer " + std::to_string(layer)});
    if (begin < 0 || begin > end || end > held)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "KV copy: positions [" + std::to_string(begin) + ", " +
                                                  std::to_string(end) + ") are not held (" +
                                                  std::to_string(held) + " tokens)"});
    const std::size_t need = std::size_t(end - begin) * rowBytes;
    if (kBytes != need || vBytes != need)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "KV copy: buffers of the wrong size"});
    return {};
}

std::expected<void, Error> readDenseKv(const KvCache& cache, int held, int layer, int begin, int end,
                                       std::span<std::byte> k, std::span<std::byte> v)
{
    const std::size_t row = std::size_t(cache.kvDim()) * sizeof(float);
    if (auto ok = checkKvCopy(layer, cache.nLayers(), begin, end, held, k.size(), v.size(), row); !ok)
        return ok;
    if (end > begin) { // rows of one layer are contiguous
        std::memcpy(k.data(), cache.k(layer, begin), k.size());
        std::memcpy(v.data(), cache.v(layer, begin), v.size());
    }
    return {};
}

std::expected<void, Error> writeDenseKv(KvCache& cache, int held, int layer, int begin, int end,
                                        std::span<const std::byte> k, std::span<const std::byte> v)
{
    const std::size_t row = std::size_t(cache.kvDim()) * sizeof(float);
    if (auto ok = checkKvCopy(layer, cache.nLayers(), begin, end, held, k.size(), v.size(), row); !ok)
        return ok;
    if (end > begin) {
        std::memcpy(cache.k(layer, begin), k.data(), k.size());
        std::memcpy(cache.v(layer, begin), v.data(), v.size());
    }
    return {};
}

std::expected<void, Error> reserveUncomputed(KvCache& cache, int held, std::span<const std::int32_t> tokens,
                                             int vocab)
{
    for (const std::int32_t t : tokens)
        if (t < 0 || t >= vocab)
            return std::unexpected(Error{ErrorCode::InvalidArgument,
                                         "token id " + std::to_string(t) + " is outside the vocabulary"});
    if (std::size_t(held) + tokens.size() > std::size_t(cache.maxTokens()) ||
        !cache.reserve(held + int(tokens.size())))
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "context full: " + std::to_string(held + tokens.size()) +
                                                  " tokens exceed " + std::to_string(cache.maxTokens())});
    return {};
}

} // namespace quire::inference::cpu
