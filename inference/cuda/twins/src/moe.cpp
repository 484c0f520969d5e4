#include "quire/inference/cuda/twins/moe.h"

#include <cmath>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

void moeRouterLogits(const std::uint16_t* m, int tokens, const float* router, int experts, int dim,
                     float* logits)
{
    for (int t = 0; t < tokens; ++t)
        for (int e = 0; e < experts; ++e) {
            float s = 0.0f;
            for (int c = 0; c < dim; ++c)
                s += bf16ToFloat(m[std::size_t(t) * std::size_t(dim) + std::size_t(c)]) *
                     router[std::size_t(e) * std::size_t(dim) + std::size_t(c)];
            logits[std::size_t(t) * std::size_t(experts) + std::size_t(e)] = s;
        }
}

int moeTopExpert(const float* logits, int experts)
{
    int best = 0;
    for (int e = 1; e < experts; ++e)
        if (logits[e] > logits[best])
            best = e;
    return best;
}

void moeRouted(const std::uint16_t* m, int tokens, const float* logits, int experts, const Int4Host& gateUp,
               const Int4Host& down, const std::uint16_t* shared, std::uint16_t* out)
{
    const int D = gateUp.k, I = gateUp.n / 2;
    std::vector<std::uint16_t> xe(std::size_t(D) * std::size_t(tokens)),
        act(std::size_t(I) * std::size_t(tokens));
    std::vector<float> gu(std::size_t(2 * I) * std::size_t(tokens)), y(std::size_t(D) * std::size_t(tokens));
    std::vector<std::int32_t> ids(static_cast<std::size_t>(tokens));
    for (int t = 0; t < tokens; ++t) {
        const float* l = logits + std::size_t(t) * std::size_t(experts);
        const int e = moeTopExpert(l, experts);
        ids[std::size_t(t)] = e;
        const float score = roundToBf16(1.0f / (1.0f + std::exp(-l[e])));
        for (int c = 0; c < D; ++c) {
            const std::size_t at = std::size_t(t) * std::size_t(D) + std::size_t(c);
            xe[at] = floatToBf16(bf16ToFloat(m[at]) * score);
        }
    }
    for (int t = 0; t < tokens; ++t) {
        int4Gemv(gateUp, xe.data() + std::size_t(t) * std::size_t(D), 1, &ids[std::size_t(t)],
                 gu.data() + std::size_t(t) * std::size_t(2 * I));
        for (int c = 0; c < I; ++c) {
            const float g = roundToBf16(gu[std::size_t(t) * std::size_t(2 * I) + std::size_t(c)]);
            const float u = roundToBf16(gu[std::size_t(t) * std::size_t(2 * I) + std::size_t(I + c)]);
            act[std::size_t(t) * std::size_t(I) + std::size_t(c)] =
                floatToBf16(g / (1.0f + std::exp(-g)) * u);
        }
        int4Gemv(down, act.data() + std::size_t(t) * std::size_t(I), 1, &ids[std::size_t(t)],
                 y.data() + std::size_t(t) * std::size_t(D));
        for (int c = 0; c < D; ++c) {
            const std::size_t at = std::size_t(t) * std::size_t(D) + std::size_t(c);
            out[at] = floatToBf16(bf16ToFloat(shared[at]) + roundToBf16(y[at]));
        }
    }
}

} // namespace quire::inference::cuda::twins
