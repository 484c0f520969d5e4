#include "quire/inference/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace quire::inference {

Sampler::Sampler(SamplerConfig config) : m_config(config), m_rng(config.seed) {}

void Sampler::reseed(std::uint64_t seed)
{
    m_config.seed = seed;
    m_rng.seed(seed);
}

std::int32_t Sampler::sample(std::span<const float> logits, std::span<const std::int32_t> history)
{
    const SamplerConfig& c = m_config;
    const std::int32_t vocab = std::int32_t(logits.size());
    if (vocab == 0)
        return 0;
    m_logits.assign(logits.begin(), logits.end());

    // Penalties over the most recent window of tokens.
    const bool penalise =
        c.repetitionPenalty != 1.0f || c.presencePenalty != 0.0f || c.frequencyPenalty != 0.0f;
    if (penalise && c.penaltyWindow > 0) {
        std::unordered_map<std::int32_t, int> counts;
        const std::size_t n = std::min<std::size_t>(history.size(), std::size_t(c.penaltyWindow));
        for (const std::int32_t t : history.last(n))
            if (t >= 0 && t < vocab)
                ++counts[t];
        for (const auto& [t, count] : counts) {
            float& l = m_logits[std::size_t(t)];
            if (c.repetitionPenalty != 1.0f)
                l = l > 0 ? l / c.repetitionPenalty : l * c.repetitionPenalty;
            l -= c.presencePenalty + c.frequencyPenalty * float(count);
        }
    }

    if (greedy()) // the first maximum, so ties resolve the same way every time
        return std::int32_t(std::max_element(m_logits.begin(), m_logits.end()) - m_logits.begin());

    // Candidates sorted by logit, cut to top-k.
    m_candidates.clear();
    m_candidates.reserve(std::size_t(vocab));
    for (std::int32_t i = 0; i < vocab; ++i)
        if (std::isfinite(m_logits[std::size_t(i)]))
            m_candidates.emplace_back(m_logits[std::size_t(i)], i);
    if (m_candidates.empty())
        return 0;
    const auto byLogit = [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    std::size_t keep = m_candidates.size();
    if (c.topK > 0 && std::size_t(c.topK) < keep) {
        keep = std::size_t(c.topK);
        std::partial_sort(m_candidates.begin(), m_candidates.begin() + std::ptrdiff_t(keep),
                          m_candidates.end(), byLogit);
        m_candidates.resize(keep);
    } else {
        std::sort(m_candidates.begin(), m_candidates.end(), byLogit);
    }

    // Softmax with temperature (probabilities replace the logits in place).
    const float maxLogit = m_candidates.front().first;
    double sum = 0;
    for (auto& [v, id] : m_candidates) {
        v = float(std::exp(double(v - maxLogit) / c.temperature));
        sum += v;
    }
    for (auto& [v, id] : m_candidates)
        v = float(v / sum);

    // Top-p: the smallest prefix reaching p. Min-p: relative to the most likely token.
    if (c.topP < 1.0f) {
        double cumulative = 0;
        std::size_t n = 0;
        while (n < m_candidates.size()) {
            cumulative += m_candidates[n++].first;
            if (cumulative >= c.topP)
                break;
        }
        m_candidates.resize(std::max<std::size_t>(n, 1));
    }
    if (c.minP > 0.0f) {
        const float threshold = c.minP * m_candidates.front().first;
        std::size_t n = 1;
        while (n < m_candidates.size() && m_candidates[n].first >= threshold)
            ++n;
        m_candidates.resize(n);
    }

    // Draw: u in [0, total) from 53 random bits, so the result depends only on the seed.
    double total = 0;
    for (const auto& [p, id] : m_candidates)
        total += p;
    const double u = double(m_rng() >> 11) * (1.0 / 9007199254740992.0) * total;
    double acc = 0;
    for (const auto& [p, id] : m_candidates) {
        acc += p;
        if (u < acc)
            return id;
    }
    return m_candidates.back().second;
}

} // namespace quire::inference
