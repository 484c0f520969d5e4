#include "cpu/llama_common.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "quire/inference/quant.h"

namespace quire::inference::cpu {

KvCache::KvCache(int nLayers, int kvDim, int maxTokens, KvDtype dtype)
    : m_nLayers(nLayers), m_kvDim(kvDim), m_maxTokens(maxTokens), m_dtype(dtype)
{
    const auto n = std::size_t(nLayers);
    if (dtype == KvDtype::F32) {
        m_k.resize(n);
        m_v.resize(n);
    } else {
        m_k16.resize(n);
        m_v16.resize(n);
    }
}

bool KvCache::reserve(int tokens)
{
    if (tokens > m_maxTokens)
        return false;
    if (tokens <= m_capacity)
        return true;
    const int capacity = std::min(m_maxTokens, std::max({tokens, 2 * m_capacity, 256}));
    const std::size_t elements = std::size_t(capacity) * std::size_t(m_kvDim);
    for (auto* side : {&m_k, &m_v})
        for (auto& layer : *side)
            layer.resize(elements);
    for (auto* side : {&m_k16, &m_v16})
        for (auto& layer : *side)
            layer.resize(elements);
    m_capacity = capacity;
    return true;
}

std::byte* KvCache::kBytes(int layer, int pos)
{
    const auto l = std::size_t(layer);
    return m_dtype == KvDtype::F32 ? reinterpret_cast<std::byte*>(m_k[l].data() + offset(pos))
                                   : reinterpret_cast<std::byte*>(m_k16[l].data() + offset(pos));
}

std::byte* KvCache::vBytes(int layer, int pos)
{
    const auto l = std::size_t(layer);
    return m_dtype == KvDtype::F32 ? reinterpret_cast<std::byte*>(m_v[l].data() + offset(pos))
                                   : reinterpret_cast<std::byte*>(m_v16[l].data() + offset(pos));
}

void KvCache::store(int layer, int pos, int rows, const float* k, const float* v, std::size_t ld)
{
    const auto l = std::size_t(layer);
    const auto n = std::size_t(m_kvDim);
    for (int r = 0; r < rows; ++r) {
        const float* kr = k + std::size_t(r) * ld;
        const float* vr = v + std::size_t(r) * ld;
        if (m_dtype == KvDtype::F32) {
            std::copy_n(kr, n, m_k[l].data() + offset(pos + r));
            std::copy_n(vr, n, m_v[l].data() + offset(pos + r));
        } else {
            convertKvRow(m_dtype, kr, m_k16[l].data() + offset(pos + r), n);
            convertKvRow(m_dtype, vr, m_v16[l].data() + offset(pos + r), n);
        }
    }
}

std::uint64_t KvCache::bytes() const
{
    std::uint64_t n = 0;
    for (std::size_t l = 0; l < m_k.size(); ++l)
        n += (m_k[l].capacity() + m_v[l].capacity()) * sizeof(float);
    for (std::size_t l = 0; l < m_k16.size(); ++l)
        n += (m_k16[l].capacity() + m_v16[l].capacity()) * sizeof(std::uint16_t);
    return n;
}

void convertKvRow(KvDtype dtype, const float* x, std::uint16_t* y, std::size_t n)
{
    if (dtype == KvDtype::F16)
        for (std::size_t i = 0; i < n; ++i)
            y[i] = fp32ToFp16(x[i]);
    else
        for (std::size_t i = 0; i < n; ++i)
            y[i] = fp32ToBf16(x[i]);
}

std::expected<KvDtype, Error> checkKvDtype(const std::optional<KvDtype>& dtype, bool halfSupported,
                                           std::string_view backend)
{
    const KvDtype d = dtype.value_or(KvDtype::F32);
    if (d == KvDtype::F32 || (halfSupported && (d == KvDtype::F16 || d == KvDtype::BF16)))
        return d;
    return std::unexpected(
        Error{ErrorCode::Unsupported, "KV dtype " + std::string(toString(d)) + " is not supported by the " +
                                          std::string(backend) + " backend (it holds its KV cache in " +
                                          (halfSupported ? "f32, f16 or bf16" : "f32 only") + ")"});
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

DenseKvRunner::DenseKvRunner(std::shared_ptr<const ModelWeights> weights, int maxContext, KvDtype kvDtype)
    : m_w(std::move(weights)), m_cache(m_w->config.nLayers, m_w->config.kvDim(), maxContext, kvDtype)
{
}

void DenseKvRunner::truncate(int position)
{
    m_pos = std::clamp(position, 0, m_pos);
}

std::expected<KvLayout, Error> DenseKvRunner::kvLayout() const
{
    KvLayout l;
    l.dtype = m_cache.dtype();
    l.nLayers = m_w->config.nLayers;
    l.nKvHeads = m_w->config.nKvHeads;
    l.headDim = m_w->config.headDim;
    return l;
}

std::expected<void, Error> DenseKvRunner::readKv(int layer, int begin, int end, std::span<std::byte> k,
                                                 std::span<std::byte> v) const
{
    const std::size_t row = m_cache.rowBytes();
    if (auto ok = checkKvCopy(layer, m_cache.nLayers(), begin, end, m_pos, k.size(), v.size(), row); !ok)
        return ok;
    if (end > begin) { // rows of one layer are contiguous
        std::memcpy(k.data(), m_cache.kBytes(layer, begin), k.size());
        std::memcpy(v.data(), m_cache.vBytes(layer, begin), v.size());
    }
    return {};
}

std::expected<void, Error> DenseKvRunner::writeKv(int layer, int begin, int end, std::span<const std::byte> k,
                                                  std::span<const std::byte> v)
{
    const std::size_t row = m_cache.rowBytes();
    if (auto ok = checkKvCopy(layer, m_cache.nLayers(), begin, end, m_pos, k.size(), v.size(), row); !ok)
        return ok;
    if (end > begin) {
        std::memcpy(m_cache.kBytes(layer, begin), k.data(), k.size());
        std::memcpy(m_cache.vBytes(layer, begin), v.data(), v.size());
    }
    return {};
}

std::expected<void, Error> DenseKvRunner::appendUncomputed(std::span<const std::int32_t> tokens)
{
    if (auto ok = checkAppend(tokens, m_pos, m_cache.maxTokens(), m_w->config.vocabSize); !ok)
        return ok;
    m_cache.reserve(m_pos + int(tokens.size())); // within maxTokens: cannot refuse
    m_pos += int(tokens.size());
    return {};
}

} // namespace quire::inference::cpu
