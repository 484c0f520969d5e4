// The reference forward pass of Llama 4 text models: the oracle the fast path (and the CUDA
// backend) is checked against. One token at a time, top to bottom, every buffer f32, every
// product a plain loop over a decoded weight row with a double accumulator. Follows
// llama4-architecture.md sections 3-9; the section numbers are in the comments. Slow on purpose.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cpu/llama4_runner.h"
#include "cpu/llama_common.h"
#include "llama4_formats.h"

namespace quire::inference::cpu {

namespace {

// out[r] = sum_k W[r][k] * x[k] for every row r of W.
void matmul(float* out, const WeightMatrix& w, const float* x, std::vector<float>& row)
{
    row.resize(std::size_t(w.cols));
    for (std::int64_t r = 0; r < w.rows; ++r) {
        l4::decodeRow(w, r, row.data());
        double sum = 0;
        for (std::int64_t k = 0; k < w.cols; ++k)
            sum += double(row[std::size_t(k)]) * x[k];
        out[r] = float(sum);
    }
}

// 5: y = (x / sqrt(mean(x^2) + eps)) * w; with w null, the weightless QK norm of 6.4.
void rmsNorm(float* y, const float* x, const float* w, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; ++i)
        ss += double(x[i]) * x[i];
    const float r = float(1.0 / std::sqrt(ss / n + double(eps)));
    for (int i = 0; i < n; ++i)
        y[i] = w ? (x[i] * r) * w[i] : x[i] * r;
}

float silu(float z)
{
    return z / (1.0f + std::exp(-z));
}

class Llama4ReferenceRunner final : public Llama4RunnerBase {
public:
    Llama4ReferenceRunner(std::shared_ptr<const ModelWeights> owner, const Llama4Weights& w, int maxContext)
        : Llama4RunnerBase(std::move(owner), w, maxContext)
    {
        const Llama4Config& c = m_c;
        m_x.resize(std::size_t(c.dim));
        m_xn.resize(std::size_t(c.dim));
        m_out.resize(std::size_t(c.dim));
        m_tmp.resize(std::size_t(c.dim));
        m_xe.resize(std::size_t(c.dim));
        m_q.resize(std::size_t(c.qDim()));
        m_att.resize(std::size_t(c.qDim()));
        const std::size_t ffn = std::size_t(std::max(c.expertDim, c.denseDim));
        m_g.resize(ffn);
        m_u.resize(ffn);
        m_routerLogits.resize(std::size_t(std::max(c.nExperts, 1)));
    }

    std::string_view backendName() const override { return "cpu-reference"; }

private:
    void run(std::span<const std::int32_t> tokens, int pos0, float* logits, bool allLogits) override
    {
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            const bool want = logits && (allLogits || t + 1 == tokens.size());
            forwardToken(tokens[t], pos0 + int(t),
                         want ? logits + (allLogits ? t * std::size_t(m_c.vocabSize) : 0) : nullptr);
        }
    }

    // SwiGLU: out[dim] = down(silu(gate x) * up x), widths from the matrices.
    void swiglu(float* out, const WeightMatrix& gate, const WeightMatrix& up, const WeightMatrix& down,
                const float* x)
    {
        const auto n = std::size_t(gate.rows);
        matmul(m_g.data(), gate, x, m_row);
        matmul(m_u.data(), up, x, m_row);
        for (std::size_t i = 0; i < n; ++i)
            m_g[i] = silu(m_g[i]) * m_u[i];
        matmul(out, down, m_g.data(), m_row);
    }

    void forwardToken(int token, int pos, float* logits)
    {
        const Llama4Config& c = m_c;
        const int dim = c.dim, hd = c.headDim, half = hd / 2;
        const int group = c.nHeads / c.nKvHeads; // query heads per KV head (repeat_kv order)
        const float scale = 1.0f / std::sqrt(float(hd));

        // 4: x [dim] = the token's embedding row.
        l4::decodeRow(m_w.embedding, token, m_x.data());

        // 6.3: cos/sin [headDim/2] of this absolute position: angle = fp32(pos) * f[j].
        std::vector<float> cs(static_cast<std::size_t>(half)), sn(static_cast<std::size_t>(half));
        for (int j = 0; j < half; ++j) {
            const float angle = float(pos) * m_w.ropeFrequencies[std::size_t(j)];
            cs[std::size_t(j)] = std::cos(angle);
            sn[std::size_t(j)] = std::sin(angle);
        }
        // 6.5: the NoPE layers' query temperature.
        const float tau = llama4QueryTemperature(c, pos);

        for (int l = 0; l < c.nLayers; ++l) {
            const Llama4Layer& L = m_w.blocks[std::size_t(l)];
            const bool rope = c.useRope[std::size_t(l)] != 0;

            // ---- 6: attention ----
            // xn [dim] = rmsnorm(x) * input_layernorm
            rmsNorm(m_xn.data(), m_x.data(), L.attnNorm.data(), dim, c.rmsEps);
            // 6.1: q [nHeads * hd]; k, v [nKvHeads * hd] straight into this position's cache slot
            float* k = m_cache.k(l, pos);
            float* v = m_cache.v(l, pos);
            matmul(m_q.data(), L.wq, m_xn.data(), m_row);
            matmul(k, L.wk, m_xn.data(), m_row);
            matmul(v, L.wv, m_xn.data(), m_row);
            if (rope) {
                // 6.3: rotate interleaved pairs (2j, 2j+1) of every head, then 6.4: QK norm.
                for (int h = 0; h < c.nHeads + c.nKvHeads; ++h) {
                    float* x = h < c.nHeads ? m_q.data() + h * hd : k + (h - c.nHeads) * hd;
                    for (int j = 0; j < half; ++j) {
                        const float x0 = x[2 * j], x1 = x[2 * j + 1];
                        x[2 * j] = x0 * cs[std::size_t(j)] - x1 * sn[std::size_t(j)];
                        x[2 * j + 1] = x0 * sn[std::size_t(j)] + x1 * cs[std::size_t(j)];
                    }
                    if (c.qkNorm)
                        rmsNorm(x, x, nullptr, hd, c.rmsEps);
                }
            } else {
                // 6.5: NoPE layer: queries only, scaled by the temperature.
                for (float& q : m_q)
                    q *= tau;
            }
            // 6.6 + 6.7: keys [first, pos] (chunked layers: this chunk only), softmax, values.
            const int first = m_cache.firstVisible(l, pos);
            const int n = pos - first + 1;
            std::vector<double> p(static_cast<std::size_t>(n));
            for (int h = 0; h < c.nHeads; ++h) {
                const float* qh = m_q.data() + h * hd;
                const int g = h / group;
                double maxScore = -INFINITY;
                for (int j = 0; j < n; ++j) {
                    const float* kj = m_cache.k(l, first + j) + g * hd;
                    double s = 0;
                    for (int i = 0; i < hd; ++i)
                        s += double(qh[i]) * kj[i];
                    p[std::size_t(j)] = s * scale;
                    maxScore = std::max(maxScore, p[std::size_t(j)]);
                }
                double denom = 0;
                for (double& e : p) {
                    e = std::exp(e - maxScore);
                    denom += e;
                }
                float* o = m_att.data() + h * hd;
                for (int i = 0; i < hd; ++i) {
                    double acc = 0;
                    for (int j = 0; j < n; ++j)
                        acc += p[std::size_t(j)] * m_cache.v(l, first + j)[g * hd + i];
                    o[i] = float(acc / denom);
                }
            }
            // 6.8: x += Wo att
            matmul(m_out.data(), L.wo, m_att.data(), m_row);
            for (int i = 0; i < dim; ++i)
                m_x[std::size_t(i)] += m_out[std::size_t(i)];

            // ---- 7 / 8: feed-forward ----
            rmsNorm(m_xn.data(), m_x.data(), L.ffnNorm.data(), dim, c.rmsEps);
            if (c.moe[std::size_t(l)]) {
                // 7.1: router logits [experts]; top-k by value (ties: the lower index).
                for (int e = 0; e < c.nExperts; ++e) {
                    const float* wr = L.router.data() + std::size_t(e) * std::size_t(dim);
                    double s = 0;
                    for (int i = 0; i < dim; ++i)
                        s += double(wr[i]) * m_xn[std::size_t(i)];
                    m_routerLogits[std::size_t(e)] = float(s);
                }
                std::vector<int> order(std::size_t(c.nExperts));
                std::iota(order.begin(), order.end(), 0);
                std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
                    return m_routerLogits[std::size_t(a)] > m_routerLogits[std::size_t(b)];
                });
                // 7.2-7.3: each chosen expert sees its input scaled by sigmoid(logit); sum.
                std::fill(m_out.begin(), m_out.end(), 0.0f);
                for (int r = 0; r < c.expertsPerToken; ++r) {
                    const int e = order[std::size_t(r)];
                    const float score = 1.0f / (1.0f + std::exp(-m_routerLogits[std::size_t(e)]));
                    for (int i = 0; i < dim; ++i)
                        m_xe[std::size_t(i)] = m_xn[std::size_t(i)] * score;
                    swiglu(m_tmp.data(), L.expertGate[std::size_t(e)], L.expertUp[std::size_t(e)],
                           L.expertDown[std::size_t(e)], m_xe.data());
                    for (int i = 0; i < dim; ++i)
                        m_out[std::size_t(i)] += m_tmp[std::size_t(i)];
                }
                // 7.4-7.5: plus the shared expert on the unscaled input.
                swiglu(m_tmp.data(), L.sharedGate, L.sharedUp, L.sharedDown, m_xn.data());
                for (int i = 0; i < dim; ++i)
                    m_out[std::size_t(i)] += m_tmp[std::size_t(i)];
            } else {
                // 8: dense SwiGLU MLP.
                swiglu(m_out.data(), L.gate, L.up, L.down, m_xn.data());
            }
            for (int i = 0; i < dim; ++i)
                m_x[std::size_t(i)] += m_out[std::size_t(i)];
        }

        if (!logits)
            return;
        // 9: logits [vocab] = lm_head rmsnorm(x) * norm
        rmsNorm(m_xn.data(), m_x.data(), m_w.outputNorm.data(), dim, c.rmsEps);
        matmul(logits, m_w.lmHead, m_xn.data(), m_row);
    }

    std::vector<float> m_x, m_xn, m_out, m_tmp, m_xe, m_q, m_att, m_g, m_u, m_routerLogits, m_row;
};

} // namespace

std::expected<std::unique_ptr<Runner>, Error>
makeLlama4ReferenceRunner(std::shared_ptr<const ModelWeights> weights, const RunnerOptions& options)
{
    const Llama4Weights* w = weights ? asLlama4(*weights) : nullptr;
    if (!w)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "not a Llama 4 model"});
    if (auto dtype = checkKvDtype(options.kvDtype, false, "cpu-reference"); !dtype)
        return std::unexpected(dtype.error());
    const int maxContext = options.maxContext > 0 ? options.maxContext : w->config.contextLength;
    return std::make_unique<Llama4ReferenceRunner>(std::move(weights), *w, maxContext);
}

} // namespace quire::inference::cpu
