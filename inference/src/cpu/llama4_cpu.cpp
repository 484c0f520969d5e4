// The fast CPU forward pass of Llama 4. The same computation as llama4_reference.cpp, batched over
// the tokens of a step: every matrix product splits its rows over a thread pool and decodes each
// weight tile once for all tokens (llama4_kernels.h); attention splits (token, head) items; an MoE
// layer groups the step's tokens by expert, so each expert's weights are read once per step.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <thread>
#include <vector>

#include "cpu/llama4_runner.h"
#include "cpu/llama_common.h"
#include "cpu/thread_pool.h"
#include "llama4_formats.h"

namespace quire::inference::cpu {

namespace {

// One product of a step: out rows (+)= W x for every token.
struct Product {
    const WeightMatrix* w;
    float* out;
    std::size_t ldOut;
    bool accumulate = false;
};

// Multiply-adds below which a product runs on the calling thread alone.
constexpr std::int64_t kInlineWork = std::int64_t(1) << 20;

float silu(float z)
{
    return z / (1.0f + std::exp(-z));
}

class Llama4CpuRunner final : public Llama4RunnerBase {
public:
    Llama4CpuRunner(std::shared_ptr<const ModelWeights> owner, const Llama4Weights& w, int maxContext,
                    int threads, const Llama4Kernels& kernels, KvDtype kvDtype)
        : Llama4RunnerBase(std::move(owner), w, maxContext, kvDtype), m_k(kernels), m_pool(threads)
    {
        m_scores.resize(std::size_t(m_pool.size()));
        m_tiles.resize(std::size_t(m_pool.size())); // grown by llama4MatmulRows
        m_freqs = m_w.ropeFrequencies;
    }

    std::string_view backendName() const override { return "cpu"; }

private:
    void ensureBuffers(int T, bool allLogits)
    {
        const Llama4Scratch s = llama4Scratch(m_c, T, 1, allLogits);
        auto grow = [](std::vector<float>& v, std::size_t n) {
            if (v.size() < n)
                v.resize(n);
        };
        grow(m_x, s.x);
        grow(m_xn, s.xn);
        grow(m_q, s.q);
        grow(m_kb, s.k);
        grow(m_vb, s.v);
        grow(m_att, s.att);
        grow(m_g, s.ffnGate);
        grow(m_u, s.ffnUp);
        grow(m_ein, s.expertIn);
        grow(m_eout, s.expertOut);
        grow(m_router, s.router);
    }

    // fn(begin, end) over token ranges: on the pool for big steps, inline for small ones.
    template <typename F> void forTokens(int T, F&& fn)
    {
        if (T < 4 || std::int64_t(T) * m_c.dim < kInlineWork / 16) {
            fn(0, T);
            return;
        }
        m_pool.run([&](int ith, int nth) {
            const auto [b, e] = ThreadPool::split(T, ith, nth);
            fn(int(b), int(e));
        });
    }

    // Products that share an input (T rows of `x`, ldx apart) in one dispatch over their rows.
    // Small ones run on the calling thread: waking the pool costs more than they do.
    void products(std::initializer_list<Product> list, const float* x, std::size_t ldx, int T)
    {
        std::int64_t total = 0, work = 0;
        for (const Product& p : list) {
            total += p.w->rows;
            work += p.w->rows * p.w->cols * T;
        }
        auto run = [&](const auto& body) {
            if (work < kInlineWork)
                body(0, 1);
            else
                m_pool.run([&](int ith, int nth) { body(ith, nth); });
        };
        run([&](int ith, int nth) {
            const auto [b, e] = ThreadPool::split(total, ith, nth, kLlama4TileRows);
            std::int64_t base = 0;
            for (const Product& p : list) {
                const std::int64_t r0 = std::max<std::int64_t>(b - base, 0);
                const std::int64_t r1 = std::min<std::int64_t>(e - base, p.w->rows);
                base += p.w->rows;
                if (r0 < r1)
                    llama4MatmulRows(m_k, *p.w, x, ldx, T, p.out, p.ldOut, r0, r1, p.accumulate,
                                     m_tiles[std::size_t(ith)]);
            }
        });
    }

    void rmsNormRows(float* y, const float* x, const std::vector<float>& w, int T)
    {
        const auto dim = std::size_t(m_c.dim);
        forTokens(T, [&](int b, int e) {
            for (int t = b; t < e; ++t) {
                const float* xt = x + std::size_t(t) * dim;
                float* yt = y + std::size_t(t) * dim;
                const float r =
                    1.0f / std::sqrt(m_k.dot(xt, xt, std::int64_t(dim)) / float(dim) + m_c.rmsEps);
                for (std::size_t i = 0; i < dim; ++i)
                    yt[i] = (xt[i] * r) * w[i];
            }
        });
    }

    // SwiGLU over T rows of x: out (+)= down(silu(gate x) * up x).
    void swiglu(const WeightMatrix& gate, const WeightMatrix& up, const WeightMatrix& down, const float* x,
                int T, float* out, bool accumulate)
    {
        const auto n = std::size_t(gate.rows), dim = std::size_t(m_c.dim);
        products({{&gate, m_g.data(), n}, {&up, m_u.data(), n}}, x, dim, T);
        forTokens(T, [&](int b, int e) {
            for (std::size_t i = std::size_t(b) * n; i < std::size_t(e) * n; ++i)
                m_g[i] = silu(m_g[i]) * m_u[i];
        });
        products({{&down, out, dim, accumulate}}, m_g.data(), n, T);
    }

    // q/k after projection: RoPE + QK norm on RoPE layers, temperature on NoPE layers.
    void positionQk(int layer, int pos0, int T)
    {
        const int hd = m_c.headDim, half = hd / 2;
        const bool rope = m_c.useRope[std::size_t(layer)] != 0;
        const auto qDim = std::size_t(m_c.qDim()), kvDim = std::size_t(m_c.kvDim());
        forTokens(T, [&](int b, int e) {
            std::vector<float> cs(static_cast<std::size_t>(half)), sn(static_cast<std::size_t>(half));
            for (int t = b; t < e; ++t) {
                const int pos = pos0 + t;
                float* q = m_q.data() + std::size_t(t) * qDim;
                if (!rope) {
                    const float tau = llama4QueryTemperature(m_c, pos);
                    if (tau != 1.0f)
                        for (std::size_t i = 0; i < qDim; ++i)
                            q[i] *= tau;
                    continue;
                }
                for (int j = 0; j < half; ++j) {
                    const float angle = float(pos) * m_freqs[std::size_t(j)];
                    cs[std::size_t(j)] = std::cos(angle);
                    sn[std::size_t(j)] = std::sin(angle);
                }
                float* k = m_kb.data() + std::size_t(t) * kvDim;
                for (int h = 0; h < m_c.nHeads + m_c.nKvHeads; ++h) {
                    float* x = h < m_c.nHeads ? q + h * hd : k + (h - m_c.nHeads) * hd;
                    for (int j = 0; j < half; ++j) {
                        const float x0 = x[2 * j], x1 = x[2 * j + 1];
                        x[2 * j] = x0 * cs[std::size_t(j)] - x1 * sn[std::size_t(j)];
                        x[2 * j + 1] = x0 * sn[std::size_t(j)] + x1 * cs[std::size_t(j)];
                    }
                    if (m_c.qkNorm) {
                        const float r = 1.0f / std::sqrt(m_k.dot(x, x, hd) / float(hd) + m_c.rmsEps);
                        for (int i = 0; i < hd; ++i)
                            x[i] *= r;
                    }
                }
            }
        });
    }

    // att[t] [qDim] for T queries at pos0 + t over the visible keys of `layer`.
    void attention(int layer, int pos0, int T)
    {
        const int hd = m_c.headDim, group = m_c.nHeads / m_c.nKvHeads;
        const auto qDim = std::size_t(m_c.qDim()), kvDim = std::size_t(m_c.kvDim());
        const float scale = 1.0f / std::sqrt(float(hd));
        const int first = m_cache.firstVisible(layer, pos0); // steps never cross a chunk
        const KvDtype dtype = m_cache.dtype();
        const bool f32 = dtype == KvDtype::F32;
        const float* K = f32 ? m_cache.k(layer, first) : nullptr;
        const float* V = f32 ? m_cache.v(layer, first) : nullptr;
        const std::uint16_t* K16 = f32 ? nullptr : m_cache.k16(layer, first);
        const std::uint16_t* V16 = f32 ? nullptr : m_cache.v16(layer, first);
        const auto scores16 = dtype == KvDtype::F16 ? m_k.attnScoresF16 : m_k.attnScoresBf16;
        const auto mix16 = dtype == KvDtype::F16 ? m_k.attnMixF16 : m_k.attnMixBf16;
        for (auto& s : m_scores)
            if (s.size() < std::size_t(pos0 + T - first))
                s.resize(std::size_t(pos0 + T - first));
        const std::int64_t work = std::int64_t(T) * m_c.nHeads * (pos0 + T - first) * hd;
        auto run = [&](const auto& body) {
            if (work < kInlineWork)
                body(0, 1);
            else
                m_pool.run([&](int ith, int nth) { body(ith, nth); });
        };
        run([&](int ith, int nth) {
            float* p = m_scores[std::size_t(ith)].data();
            for (int item = ith; item < T * m_c.nHeads; item += nth) {
                const int t = item / m_c.nHeads, h = item % m_c.nHeads, g = h / group;
                const int n = pos0 + t - first + 1;
                const float* q = m_q.data() + std::size_t(t) * qDim + std::size_t(h * hd);
                float maxScore = -INFINITY;
                if (f32) {
                    for (int j = 0; j < n; ++j) {
                        p[j] = m_k.dot(q, K + std::size_t(j) * kvDim + std::size_t(g * hd), hd) * scale;
                        maxScore = std::max(maxScore, p[j]);
                    }
                } else {
                    scores16(q, K16 + std::size_t(g * hd), kvDim, n, hd, scale, p);
                    maxScore = *std::max_element(p, p + n);
                }
                float denom = 0.0f;
                for (int j = 0; j < n; ++j) {
                    p[j] = std::exp(p[j] - maxScore);
                    denom += p[j];
                }
                const float inv = 1.0f / denom;
                float* o = m_att.data() + std::size_t(t) * qDim + std::size_t(h * hd);
                if (!f32) {
                    for (int j = 0; j < n; ++j)
                        p[j] *= inv;
                    mix16(p, V16 + std::size_t(g * hd), kvDim, n, hd, o);
                    continue;
                }
                std::fill(o, o + hd, 0.0f);
                for (int j = 0; j < n; ++j)
                    m_k.axpy(p[j] * inv, V + std::size_t(j) * kvDim + std::size_t(g * hd), o, hd);
            }
        });
    }

    // x += MoE(xn): the shared expert on every token, then each expert on its tokens.
    void moe(const Llama4Layer& L, int T)
    {
        const auto dim = std::size_t(m_c.dim), E = std::size_t(m_c.nExperts);
        forTokens(T, [&](int b, int e) {
            for (int t = b; t < e; ++t)
                for (std::size_t x = 0; x < E; ++x)
                    m_router[std::size_t(t) * E + x] = m_k.dot(
                        L.router.data() + x * dim, m_xn.data() + std::size_t(t) * dim, std::int64_t(dim));
        });
        // Top-k per token (ties: the lower index), grouped by expert with the sigmoid scores.
        std::vector<std::vector<std::pair<int, float>>> assigned(E);
        std::vector<int> order(E);
        for (int t = 0; t < T; ++t) {
            const float* logits = m_router.data() + std::size_t(t) * E;
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(),
                             [&](int a, int b) { return logits[std::size_t(a)] > logits[std::size_t(b)]; });
            for (int r = 0; r < m_c.expertsPerToken; ++r) {
                const auto e = std::size_t(order[std::size_t(r)]);
                assigned[e].emplace_back(t, 1.0f / (1.0f + std::exp(-logits[e])));
            }
        }
        swiglu(L.sharedGate, L.sharedUp, L.sharedDown, m_xn.data(), T, m_x.data(), true);
        for (std::size_t e = 0; e < E; ++e) {
            const auto& tokens = assigned[e];
            if (tokens.empty())
                continue;
            const int n = int(tokens.size());
            for (int i = 0; i < n; ++i) {
                const auto [t, score] = tokens[std::size_t(i)];
                const float* src = m_xn.data() + std::size_t(t) * dim;
                float* dst = m_ein.data() + std::size_t(i) * dim;
                for (std::size_t c = 0; c < dim; ++c)
                    dst[c] = src[c] * score;
            }
            swiglu(L.expertGate[e], L.expertUp[e], L.expertDown[e], m_ein.data(), n, m_eout.data(), false);
            for (int i = 0; i < n; ++i) {
                float* dst = m_x.data() + std::size_t(tokens[std::size_t(i)].first) * dim;
                const float* src = m_eout.data() + std::size_t(i) * dim;
                for (std::size_t c = 0; c < dim; ++c)
                    dst[c] += src[c];
            }
        }
    }

    void run(std::span<const std::int32_t> tokens, int pos0, float* logits, bool allLogits) override
    {
        const Llama4Config& c = m_c;
        const int T = int(tokens.size());
        const auto dim = std::size_t(c.dim), qDim = std::size_t(c.qDim()), kvDim = std::size_t(c.kvDim());
        ensureBuffers(T, allLogits);

        // x [T][dim]: embeddings
        forTokens(T, [&](int b, int e) {
            for (int t = b; t < e; ++t)
                l4::decodeRow(m_w.embedding, tokens[std::size_t(t)], m_x.data() + std::size_t(t) * dim);
        });

        for (int l = 0; l < c.nLayers; ++l) {
            const Llama4Layer& L = m_w.blocks[std::size_t(l)];
            // xn = rmsnorm(x); q [T][qDim], k/v [T][kvDim]
            rmsNormRows(m_xn.data(), m_x.data(), L.attnNorm, T);
            products({{&L.wq, m_q.data(), qDim}, {&L.wk, m_kb.data(), kvDim}, {&L.wv, m_vb.data(), kvDim}},
                     m_xn.data(), dim, T);
            positionQk(l, pos0, T);
            for (int t = 0; t < T; ++t) // rounded to the cache's dtype (f32: copied)
                m_cache.store(l, pos0 + t, m_kb.data() + std::size_t(t) * kvDim,
                              m_vb.data() + std::size_t(t) * kvDim);
            // att [T][qDim]; x += Wo att
            attention(l, pos0, T);
            products({{&L.wo, m_x.data(), dim, true}}, m_att.data(), qDim, T);

            // xn = rmsnorm(x); x += MoE(xn) or dense MLP(xn)
            rmsNormRows(m_xn.data(), m_x.data(), L.ffnNorm, T);
            if (c.moe[std::size_t(l)])
                moe(L, T);
            else
                swiglu(L.gate, L.up, L.down, m_xn.data(), T, m_x.data(), true);
        }

        if (!logits)
            return;
        // logits [rows][vocab] for every token (allLogits) or the last one
        const int first = allLogits ? 0 : T - 1;
        const int rows = T - first;
        rmsNormRows(m_xn.data(), m_x.data() + std::size_t(first) * dim, m_w.outputNorm, rows);
        products({{&m_w.lmHead, logits, std::size_t(c.vocabSize)}}, m_xn.data(), dim, rows);
    }

    const Llama4Kernels& m_k;
    ThreadPool m_pool;
    std::vector<float> m_freqs;
    std::vector<float> m_x, m_xn, m_q, m_kb, m_vb, m_att, m_g, m_u, m_ein, m_eout, m_router;
    std::vector<std::vector<float>> m_scores, m_tiles; // per thread
};

} // namespace

std::expected<std::unique_ptr<Runner>, Error> makeLlama4CpuRunner(std::shared_ptr<const ModelWeights> weights,
                                                                  const RunnerOptions& options,
                                                                  const Llama4Kernels* kernels)
{
    const Llama4Weights* w = weights ? asLlama4(*weights) : nullptr;
    if (!w)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "not a Llama 4 model"});
    const auto kvDtype = checkKvDtype(options.kvDtype, true, "cpu");
    if (!kvDtype)
        return std::unexpected(kvDtype.error());
    const int maxContext = options.maxContext > 0 ? options.maxContext : w->config.contextLength;
    int threads = options.threads > 0 ? options.threads : int(std::thread::hardware_concurrency());
    threads = std::clamp(threads, 1, 256);
    return std::make_unique<Llama4CpuRunner>(std::move(weights), *w, maxContext, threads,
                                             kernels ? *kernels : llama4BestKernels(), *kvDtype);
}

} // namespace quire::inference::cpu
