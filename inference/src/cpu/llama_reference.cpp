// The reference forward pass of the dense Llama family: the oracle every optimised path is
// checked against. One token at a time, top to bottom, every buffer f32, every product a plain
// loop over a dequantised weight row with a double accumulator. Slow on purpose; do not optimise.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/llama_common.h"
#include "cpu/runners.h"
#include "quire/inference/quant.h"

namespace quire::inference::cpu {

namespace {

// out[r] = sum_k W[r][k] * x[k] for every row r of W ([rows x cols]), one row dequantised at a time.
void matmul(float* out, const TensorView& w, const float* x, std::vector<float>& rowBuf)
{
    rowBuf.resize(std::size_t(w.cols));
    for (std::int64_t r = 0; r < w.rows; ++r) {
        (void)dequantizeRow(w.type, w.row(r), rowBuf.data(), w.cols); // types were checked on load
        double sum = 0;
        for (std::int64_t k = 0; k < w.cols; ++k)
            sum += double(rowBuf[std::size_t(k)]) * x[k];
        out[r] = float(sum);
    }
}

void addBias(float* x, const std::vector<float>& bias)
{
    for (std::size_t i = 0; i < bias.size(); ++i)
        x[i] += bias[i];
}

class LlamaReferenceRunner final : public DenseKvRunner {
public:
    LlamaReferenceRunner(std::shared_ptr<const ModelWeights> weights, int maxContext)
        : DenseKvRunner(std::move(weights), maxContext, KvDtype::F32),
          m_freqs(ropeFrequencies(m_w->config, m_w->ropeFreqFactors))
    {
        const ModelConfig& c = m_w->config;
        m_x.resize(std::size_t(c.dim));
        m_xb.resize(std::size_t(std::max(c.dim, c.qDim())));
        m_xb2.resize(std::size_t(c.dim));
        m_q.resize(std::size_t(c.qDim()));
        m_att.resize(std::size_t(c.qDim()));
        m_hb.resize(std::size_t(c.ffnDim));
        m_hb2.resize(std::size_t(c.ffnDim));
    }

    std::string_view backendName() const override { return "cpu-reference"; }
    std::expected<void, Error> forward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                       bool allLogits) override
    {
        const int vocab = m_w->config.vocabSize;
        if (auto ok = checkForward(tokens, logits, allLogits, m_pos, m_cache, vocab); !ok)
            return ok;
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const bool wantLogits = allLogits || (t + 1 == tokens.size() && !logits.empty());
            float* out = wantLogits ? logits.data() + (allLogits ? t * std::size_t(vocab) : 0) : nullptr;
            forwardToken(tokens[t], m_pos, out);
            ++m_pos;
        }
        return {};
    }

private:
    // Runs token `token` at position `pos`: writes its K/V into the cache and, when `logits`
    // is not null, the next-token logits [vocab].
    void forwardToken(int token, int pos, float* logits)
    {
        const ModelConfig& c = m_w->config;
        const int dim = c.dim, hd = c.headDim;
        const int groupSize = c.nHeads / c.nKvHeads; // query heads per KV head
        const float attScale = 1.0f / std::sqrt(float(hd));

        // x [dim]: the token's embedding row.
        (void)dequantizeRow(m_w->tokenEmbedding.type, m_w->tokenEmbedding.row(token), m_x.data(), dim);

        // cos/sin [ropeDim/2] for this position.
        RopeTable rope;
        rope.compute(m_freqs, pos, 1);

        for (int l = 0; l < c.nLayers; ++l) {
            const LayerWeights& L = m_w->layers[std::size_t(l)];

            // ---- attention ----
            // xb [dim] = rmsnorm(x) * attn_norm
            rmsNorm(m_xb.data(), m_x.data(), L.attnNorm.data(), dim, c.rmsEps);

            // q [nHeads * hd], k and v [nKvHeads * hd] (written straight into the cache row)
            float* k = m_cache.k(l, pos);
            float* v = m_cache.v(l, pos);
            matmul(m_q.data(), L.wq, m_xb.data(), m_row);
            matmul(k, L.wk, m_xb.data(), m_row);
            matmul(v, L.wv, m_xb.data(), m_row);
            addBias(m_q.data(), L.bq);
            addBias(k, L.bk);
            addBias(v, L.bv);

            // rotate q and k by their position
            applyRope(m_q.data(), c.nHeads, hd, c.ropeDim, c.ropeStyle, rope.cos.data(), rope.sin.data());
            applyRope(k, c.nKvHeads, hd, c.ropeDim, c.ropeStyle, rope.cos.data(), rope.sin.data());

            // att [nHeads * hd]: per head, softmax(q . K[0..pos]) weighted sum of V[0..pos]
            std::vector<float> scores(static_cast<std::size_t>(pos + 1)); // [pos + 1]
            for (int h = 0; h < c.nHeads; ++h) {
                const float* qh = m_q.data() + h * hd;
                const int kvh = h / groupSize;
                float maxScore = -INFINITY;
                for (int t = 0; t <= pos; ++t) {
                    const float* kt = m_cache.k(l, t) + kvh * hd;
                    double s = 0;
                    for (int i = 0; i < hd; ++i)
                        s += double(qh[i]) * kt[i];
                    scores[std::size_t(t)] = float(s) * attScale;
                    maxScore = std::max(maxScore, scores[std::size_t(t)]);
                }
                double denom = 0;
                for (int t = 0; t <= pos; ++t) {
                    scores[std::size_t(t)] = std::exp(scores[std::size_t(t)] - maxScore);
                    denom += scores[std::size_t(t)];
                }
                float* out = m_att.data() + h * hd;
                for (int i = 0; i < hd; ++i) {
                    double acc = 0;
                    for (int t = 0; t <= pos; ++t)
                        acc += double(scores[std::size_t(t)]) * m_cache.v(l, t)[kvh * hd + i];
                    out[i] = float(acc / denom);
                }
            }
            // xb2 [dim] = Wo att (+ bias); x += xb2
            matmul(m_xb2.data(), L.wo, m_att.data(), m_row);
            addBias(m_xb2.data(), L.bo);
            for (int i = 0; i < dim; ++i)
                m_x[std::size_t(i)] += m_xb2[std::size_t(i)];

            // ---- feed-forward (SwiGLU) ----
            // xb [dim] = rmsnorm(x) * ffn_norm
            rmsNorm(m_xb.data(), m_x.data(), L.ffnNorm.data(), dim, c.rmsEps);
            // hb, hb2 [ffn] = W_gate xb, W_up xb;  hb = silu(hb) * hb2
            matmul(m_hb.data(), L.wGate, m_xb.data(), m_row);
            matmul(m_hb2.data(), L.wUp, m_xb.data(), m_row);
            for (int i = 0; i < c.ffnDim; ++i) {
                const float g = m_hb[std::size_t(i)];
                m_hb[std::size_t(i)] = g / (1.0f + std::exp(-g)) * m_hb2[std::size_t(i)];
            }
            // xb2 [dim] = W_down hb; x += xb2
            matmul(m_xb2.data(), L.wDown, m_hb.data(), m_row);
            for (int i = 0; i < dim; ++i)
                m_x[std::size_t(i)] += m_xb2[std::size_t(i)];
        }

        if (!logits)
            return;
        // logits [vocab] = W_out rmsnorm(x) * output_norm
        rmsNorm(m_xb.data(), m_x.data(), m_w->outputNorm.data(), dim, c.rmsEps);
        matmul(logits, m_w->output, m_xb.data(), m_row);
    }

    std::vector<float> m_freqs;
    std::vector<float> m_x, m_xb, m_xb2, m_q, m_att, m_hb, m_hb2, m_row;
};

} // namespace

std::expected<std::unique_ptr<Runner>, Error>
makeLlamaReferenceRunner(std::shared_ptr<const ModelWeights> weights, const RunnerOptions& options)
{
    if (auto dtype = checkKvDtype(options.kvDtype, false, "cpu-reference"); !dtype)
        return std::unexpected(dtype.error());
    const int maxContext = options.maxContext > 0 ? options.maxContext : weights->config.contextLength;
    return std::make_unique<LlamaReferenceRunner>(std::move(weights), maxContext);
}

} // namespace quire::inference::cpu
