// The Llama 4 KV cache, scratch sizes and the shared Runner logic (checks, history, replay).
#include <algorithm>
#include <cstring>
#include <string>

#include "cpu/llama4_runner.h"
#include "cpu/llama_common.h"

namespace quire::inference::cpu {

namespace {

constexpr int kMaxStep = 512; // tokens per internal forward step

} // namespace

Llama4KvCache::Llama4KvCache(const Llama4Config& c, int maxTokens, KvDtype dtype)
    : m_chunked(c.chunked), m_chunk(c.chunkSize), m_kvDim(c.kvDim()), m_maxTokens(maxTokens), m_dtype(dtype)
{
    const auto n = std::size_t(c.nLayers);
    if (dtype == KvDtype::F32) {
        m_k.resize(n);
        m_v.resize(n);
    } else {
        m_k16.resize(n);
        m_v16.resize(n);
    }
    const std::size_t ring = std::size_t(std::min(m_chunk, maxTokens)) * std::size_t(m_kvDim);
    for (std::size_t l = 0; l < m_chunked.size(); ++l)
        if (m_chunked[l])
            resizeLayer(l, ring);
}

void Llama4KvCache::resizeLayer(std::size_t l, std::size_t elements)
{
    if (m_dtype == KvDtype::F32) {
        m_k[l].resize(elements);
        m_v[l].resize(elements);
    } else {
        m_k16[l].resize(elements);
        m_v16[l].resize(elements);
    }
}

bool Llama4KvCache::reserve(int tokens)
{
    if (tokens > m_maxTokens)
        return false;
    if (tokens <= m_capacity)
        return true;
    const int capacity = std::min(m_maxTokens, std::max({tokens, 2 * m_capacity, 256}));
    for (std::size_t l = 0; l < m_chunked.size(); ++l)
        if (!m_chunked[l])
            resizeLayer(l, std::size_t(capacity) * std::size_t(m_kvDim));
    m_capacity = capacity;
    return true;
}

std::byte* Llama4KvCache::kBytes(int layer, int pos)
{
    const auto l = std::size_t(layer);
    return m_dtype == KvDtype::F32 ? reinterpret_cast<std::byte*>(m_k[l].data() + slot(layer, pos))
                                   : reinterpret_cast<std::byte*>(m_k16[l].data() + slot(layer, pos));
}

std::byte* Llama4KvCache::vBytes(int layer, int pos)
{
    const auto l = std::size_t(layer);
    return m_dtype == KvDtype::F32 ? reinterpret_cast<std::byte*>(m_v[l].data() + slot(layer, pos))
                                   : reinterpret_cast<std::byte*>(m_v16[l].data() + slot(layer, pos));
}

void Llama4KvCache::store(int layer, int pos, const float* k, const float* v)
{
    const auto l = std::size_t(layer);
    const auto n = std::size_t(m_kvDim);
    if (m_dtype == KvDtype::F32) {
        std::copy_n(k, n, m_k[l].data() + slot(layer, pos));
        std::copy_n(v, n, m_v[l].data() + slot(layer, pos));
    } else {
        convertKvRow(m_dtype, k, m_k16[l].data() + slot(layer, pos), n);
        convertKvRow(m_dtype, v, m_v16[l].data() + slot(layer, pos), n);
    }
}

int Llama4KvCache::firstVisible(int layer, int pos) const
{
    return m_chunked[std::size_t(layer)] ? pos / m_chunk * m_chunk : 0;
}

std::uint64_t Llama4KvCache::bytes() const
{
    std::uint64_t n = 0;
    for (std::size_t l = 0; l < m_k.size(); ++l)
        n += (m_k[l].capacity() + m_v[l].capacity()) * sizeof(float);
    for (std::size_t l = 0; l < m_k16.size(); ++l)
        n += (m_k16[l].capacity() + m_v16[l].capacity()) * sizeof(std::uint16_t);
    return n;
}

std::size_t Llama4Scratch::totalFloats(int threads) const
{
    return x + xn + q + k + v + att + ffnGate + ffnUp + expertIn + expertOut + router + logits +
           std::size_t(std::max(1, threads)) * (scoresPerThread + tilePerThread);
}

Llama4Scratch llama4Scratch(const Llama4Config& c, int tokens, std::int64_t contextLength, bool allLogits)
{
    const auto T = std::size_t(std::max(1, tokens));
    const auto dim = std::size_t(c.dim);
    const std::size_t ffn = std::size_t(std::max(c.expertDim, c.denseDim));
    Llama4Scratch s;
    s.x = s.xn = T * dim;
    s.q = s.att = T * std::size_t(c.qDim());
    s.k = s.v = T * std::size_t(c.kvDim());
    s.ffnGate = s.ffnUp = T * ffn;
    s.expertIn = s.expertOut = T * dim;
    s.router = T * std::size_t(std::max(1, c.nExperts));
    s.logits = (allLogits ? T : 1) * std::size_t(c.vocabSize);
    const bool anyGlobal = c.globalLayerCount() > 0;
    const std::int64_t visible =
        anyGlobal ? contextLength : std::min<std::int64_t>(contextLength, c.chunkSize);
    s.scoresPerThread = std::size_t(std::max<std::int64_t>(visible, 1));
    s.tilePerThread = llama4MatmulScratch(std::int64_t(std::max({dim, std::size_t(c.qDim()), ffn})), int(T));
    return s;
}

Llama4RunnerBase::Llama4RunnerBase(std::shared_ptr<const ModelWeights> owner, const Llama4Weights& weights,
                                   int maxContext, KvDtype kvDtype)
    : m_owner(std::move(owner)), m_w(weights), m_c(weights.llama4),
      m_cache(weights.llama4, maxContext, kvDtype)
{
}

void Llama4RunnerBase::truncate(int position)
{
    const int p = std::clamp(position, 0, int(m_tokens.size()));
    m_tokens.resize(std::size_t(p));
    const int C = m_c.chunkSize;
    const bool rings = C > 0 && m_c.chunkedLayerCount() > 0;
    if (rings && p < m_computed && p % C != 0 && p / C != (m_computed - 1) / C)
        m_computed = p / C * C; // the ring holds a later chunk: recompute this one's start
    else
        m_computed = std::min(m_computed, p);
}

std::expected<void, Error> Llama4RunnerBase::forward(std::span<const std::int32_t> tokens,
                                                     std::span<float> logits, bool allLogits)
{
    const int vocab = m_c.vocabSize;
    if (tokens.empty())
        return std::unexpected(Error{ErrorCode::InvalidArgument, "forward() needs at least one token"});
    const std::size_t need =
        allLogits ? tokens.size() * std::size_t(vocab) : (logits.empty() ? 0 : std::size_t(vocab));
    if (logits.size() < need)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "logits buffer too small"});
    if (auto ok = checkAppend(tokens, int(m_tokens.size()), m_cache.maxTokens(), vocab); !ok)
        return ok;
    const std::size_t end = m_tokens.size() + tokens.size();
    m_cache.reserve(int(end)); // within maxTokens: cannot refuse
    const int firstNew = int(m_tokens.size());
    m_tokens.insert(m_tokens.end(), tokens.begin(), tokens.end());

    // Steps never cross a chunk boundary (the rings hold one chunk) nor the first new token
    // (replayed tokens' logits are dropped).
    const int C = m_c.chunkSize > 0 && m_c.chunkedLayerCount() > 0 ? m_c.chunkSize : 0;
    const int last = int(end);
    for (int a = m_computed; a < last;) {
        int b = std::min(last, a + kMaxStep);
        if (C > 0)
            b = std::min(b, (a / C + 1) * C);
        if (a < firstNew)
            b = std::min(b, firstNew);
        const std::span<const std::int32_t> step(m_tokens.data() + a, std::size_t(b - a));
        float* out = nullptr;
        if (a >= firstNew && allLogits)
            out = logits.data() + std::size_t(a - firstNew) * std::size_t(vocab);
        else if (b == last && !logits.empty())
            out = logits.data();
        run(step, a, out, allLogits && a >= firstNew);
        m_computed = b;
        a = b;
    }
    return {};
}

std::expected<KvLayout, Error> Llama4RunnerBase::kvLayout() const
{
    return llama4KvLayout(m_c, m_cache.dtype());
}

std::expected<void, Error> Llama4RunnerBase::checkCopy(int layer, int begin, int end, std::size_t kBytes,
                                                       std::size_t vBytes) const
{
    if (m_computed != int(m_tokens.size()))
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "KV copy: the cache is waiting for a replay after a rollback"});
    const std::size_t row = m_cache.rowBytes();
    if (auto ok = checkKvCopy(layer, m_c.nLayers, begin, end, m_computed, kBytes, vBytes, row); !ok)
        return ok;
    if (m_cache.chunked(layer) && end > begin) {
        const int C = m_c.chunkSize;
        const int chunkStart = (m_computed - 1) / C * C;
        if (begin < chunkStart)
            return std::unexpected(Error{ErrorCode::InvalidArgument,
                                         "KV copy: chunked layer " + std::to_string(layer) +
                                             " holds only positions from " + std::to_string(chunkStart)});
    }
    return {};
}

std::expected<void, Error> Llama4RunnerBase::readKv(int layer, int begin, int end, std::span<std::byte> k,
                                                    std::span<std::byte> v) const
{
    if (auto ok = checkCopy(layer, begin, end, k.size(), v.size()); !ok)
        return ok;
    // A range inside one chunk sits in consecutive ring slots; global layers are contiguous.
    if (end > begin) {
        std::memcpy(k.data(), m_cache.kBytes(layer, begin), k.size());
        std::memcpy(v.data(), m_cache.vBytes(layer, begin), v.size());
    }
    return {};
}

std::expected<void, Error> Llama4RunnerBase::appendUncomputed(std::span<const std::int32_t> tokens)
{
    if (m_computed != int(m_tokens.size()))
        return std::unexpected(Error{ErrorCode::InvalidArgument,
                                     "KV import: the cache is waiting for a replay after a rollback"});
    if (auto ok = checkAppend(tokens, int(m_tokens.size()), m_cache.maxTokens(), m_c.vocabSize); !ok)
        return ok;
    const std::size_t end = m_tokens.size() + tokens.size();
    m_cache.reserve(int(end)); // within maxTokens: cannot refuse
    m_tokens.insert(m_tokens.end(), tokens.begin(), tokens.end());
    m_computed = int(end);
    return {};
}

std::expected<void, Error> Llama4RunnerBase::writeKv(int layer, int begin, int end,
                                                     std::span<const std::byte> k,
                                                     std::span<const std::byte> v)
{
    if (auto ok = checkCopy(layer, begin, end, k.size(), v.size()); !ok)
        return ok;
    if (end > begin) {
        std::memcpy(m_cache.kBytes(layer, begin), k.data(), k.size());
        std::memcpy(m_cache.vBytes(layer, begin), v.data(), v.size());
    }
    return {};
}

} // namespace quire::inference::cpu
