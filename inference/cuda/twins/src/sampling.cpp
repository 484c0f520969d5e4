#include "quire/inference/cuda/twins/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "quire/inference/cuda/kernels/sampling.cuh"

namespace quire::inference::cuda::twins {

namespace {

constexpr float kLog2e = 1.4426950408889634f;

// Candidates first: larger key, then lower index.
bool before(std::uint32_t ka, int ia, std::uint32_t kb, int ib)
{
    return ka != kb ? ka > kb : ia < ib;
}

int effectiveTopK(int topK, int vocab)
{
    const int k = (topK <= 0 || topK > kMaxTopK) ? kMaxTopK : topK;
    return std::min(k, vocab);
}

// Draws from the sorted candidates; `z` is the softmax denominator over the whole row.
int drawFromCandidates(const float* logits, const std::vector<int>& cand, float mx, float invT2, float z,
                       float topP, float u)
{
    const float p = (topP <= 0.0f || topP > 1.0f) ? 1.0f : topP;
    std::vector<float> prob(cand.size());
    for (std::size_t i = 0; i < cand.size(); ++i) {
        const float x = logits[cand[i]];
        prob[i] = std::isnan(x) ? 0.0f : std::exp2((x - mx) * invT2) / z;
    }
    std::size_t kept = cand.size();
    float cum = 0;
    for (std::size_t i = 0; i < cand.size(); ++i) {
        cum += prob[i];
        if (cum >= p) {
            kept = i + 1;
            break;
        }
    }
    float total = 0;
    for (std::size_t i = 0; i < kept; ++i)
        total += prob[i];
    const float r = u * total;
    float acc = 0;
    for (std::size_t i = 0; i < kept; ++i) {
        acc += prob[i];
        if (r < acc)
            return cand[i];
    }
    return cand[kept - 1];
}

} // namespace

std::uint32_t logitKey(float x)
{
    if (std::isnan(x))
        return 0;
    if (x == 0.0f)
        x = 0.0f; // -0 and +0 are one value: ties between them go to the lower index
    std::uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

int argmax(const float* logits, int vocab)
{
    int best = -1;
    for (int i = 0; i < vocab; ++i) {
        if (std::isnan(logits[i]))
            continue;
        if (best < 0 || logits[i] > logits[best])
            best = i;
    }
    return best < 0 ? 0 : best;
}

int sampleTopKTopP(const float* logits, int vocab, float temperature, int topK, float topP, float u)
{
    float mx = -INFINITY;
    bool any = false;
    for (int i = 0; i < vocab; ++i)
        if (!std::isnan(logits[i])) {
            mx = any ? std::max(mx, logits[i]) : logits[i];
            any = true;
        }
    if (!any)
        return 0;
    const float invT2 = kLog2e / temperature;
    float z = 0;
    for (int i = 0; i < vocab; ++i)
        if (!std::isnan(logits[i]))
            z += std::exp2((logits[i] - mx) * invT2);

    const int k = effectiveTopK(topK, vocab);
    std::vector<int> idx(static_cast<std::size_t>(vocab));
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                      [&](int a, int b) { return before(logitKey(logits[a]), a, logitKey(logits[b]), b); });
    idx.resize(static_cast<std::size_t>(k));
    return drawFromCandidates(logits, idx, mx, invT2, z, topP, u);
}

int sampleTopKTopPReference(const float* logits, int vocab, float temperature, int topK, float topP, float u)
{
    // Selection by a stable sort of the whole row; the arithmetic is the twin's (float, same order), so
    // the two can only differ in which candidates they pick and in what order.
    std::vector<int> idx(static_cast<std::size_t>(vocab));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
        const bool na = std::isnan(logits[a]), nb = std::isnan(logits[b]);
        if (na != nb)
            return nb; // NaN last
        return !na && logits[a] > logits[b];
    });
    if (std::isnan(logits[idx[0]]))
        return 0;
    const float mx = logits[idx[0]];
    const float invT2 = kLog2e / temperature;
    float z = 0;
    for (int i = 0; i < vocab; ++i)
        if (!std::isnan(logits[i]))
            z += std::exp2((logits[i] - mx) * invT2);
    const int k = effectiveTopK(topK, vocab);
    const float p = (topP <= 0.0f || topP > 1.0f) ? 1.0f : topP;
    std::vector<float> prob;
    float cum = 0;
    for (int i = 0; i < k; ++i) {
        const float x = logits[idx[static_cast<std::size_t>(i)]];
        prob.push_back(std::isnan(x) ? 0.0f : std::exp2((x - mx) * invT2) / z);
        cum += prob.back();
        if (cum >= p)
            break;
    }
    const float r = u * cum;
    float acc = 0;
    for (std::size_t i = 0; i < prob.size(); ++i) {
        acc += prob[i];
        if (r < acc)
            return idx[i];
    }
    return idx[prob.size() - 1];
}

} // namespace quire::inference::cuda::twins
