// Choosing the next token from logits. Greedy when temperature is 0; otherwise, in this order:
// repetition/presence/frequency penalties over the recent history, top-k, temperature, top-p
// (nucleus), min-p, then a draw from the remaining distribution with a seeded generator, so a
// given seed always gives the same tokens. A Sampler is used by one thread.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace quire::inference {

struct SamplerConfig {
    float temperature = 0.0f;       // 0: greedy (argmax)
    int topK = 0;                   // keep the k most likely tokens; 0: off
    float topP = 1.0f;              // keep the smallest set whose probability reaches p; 1: off
    float minP = 0.0f;              // drop tokens below minP x the top probability; 0: off
    float repetitionPenalty = 1.0f; // divide positive / multiply negative logits of seen tokens
    float presencePenalty = 0.0f;   // subtracted once from the logit of every seen token
    float frequencyPenalty = 0.0f;  // subtracted per occurrence
    int penaltyWindow = 64;         // how many of the most recent tokens count as "seen"
    std::uint64_t seed = 0x5EED;
};

class Sampler {
public:
    explicit Sampler(SamplerConfig config = {});

    const SamplerConfig& config() const { return m_config; }
    bool greedy() const { return m_config.temperature <= 0.0f; }
    // Picks a token id from `logits` (one per vocabulary entry); `history` is the tokens so far
    // (prompt and generated), newest last, for the penalties.
    std::int32_t sample(std::span<const float> logits, std::span<const std::int32_t> history);
    void reseed(std::uint64_t seed);

private:
    SamplerConfig m_config;
    std::mt19937_64 m_rng;
    std::vector<float> m_logits;
    std::vector<std::pair<float, std::int32_t>> m_candidates;
};

} // namespace quire::inference
