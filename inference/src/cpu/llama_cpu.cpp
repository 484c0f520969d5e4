// The fast CPU forward pass of the dense Llama family. Same computation as llama_reference.cpp,
// batched over tokens: activations are quantized once per row to BlockQ16A and multiplied with
// the quantized weights in place (no f32 copy of any matrix), products are split by rows over a
// thread pool, and the q/k/v and gate/up products each take a single dispatch.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "cpu/llama_common.h"
#include "cpu/runners.h"
#include "cpu/thread_pool.h"
#include "quire/inference/quant.h"

namespace quire::inference::cpu {

namespace {

constexpr int kMaxBatch = 512; // tokens per internal forward step (bounds the scratch buffers)

// One matrix product of a batch: out rows (+)= W x for every token.
struct Product {
    const TensorView* w;
    float* out;
    std::size_t ldOut;
    bool accumulate = false;
};

class LlamaCpuRunner final : public DenseKvRunner {
public:
    LlamaCpuRunner(std::shared_ptr<const ModelWeights> weights, int maxContext, int threads,
                   const Kernels& kernels, KvDtype kvDtype)
        : DenseKvRunner(std::move(weights), maxContext, kvDtype), m_k(kernels),
          m_freqs(ropeFrequencies(m_w->config, m_w->ropeFreqFactors)), m_pool(threads)
    {
        m_scores.resize(std::size_t(m_pool.size()));
    }

    std::string_view backendName() const override { return "cpu"; }
    std::expected<void, Error> forward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                       bool allLogits) override
    {
        const std::size_t vocab = std::size_t(m_w->config.vocabSize);
        if (auto ok = checkForward(tokens, logits, allLogits, m_pos, m_cache, int(vocab)); !ok)
            return ok;
        for (std::size_t begin = 0; begin < tokens.size(); begin += kMaxBatch) {
            const std::size_t n = std::min<std::size_t>(kMaxBatch, tokens.size() - begin);
            const bool last = begin + n == tokens.size();
            float* out = allLogits ? logits.data() + begin * vocab
                                   : (last && !logits.empty() ? logits.data() : nullptr);
            forwardBatch(tokens.subspan(begin, n), out, allLogits);
            m_pos += int(n);
        }
        return {};
    }

private:
    void ensureBuffers(int T)
    {
        if (T <= m_batch)
            return;
        const ModelConfig& c = m_w->config;
        const std::size_t t = std::size_t(T);
        m_x.assign(t * std::size_t(c.dim), 0.0f);
        m_xn.assign(t * std::size_t(std::max(c.dim, c.qDim())), 0.0f);
        m_q.assign(t * std::size_t(c.qDim()), 0.0f);
        m_att.assign(t * std::size_t(c.qDim()), 0.0f);
        m_hb.assign(t * std::size_t(c.ffnDim), 0.0f);
        m_hb2.assign(t * std::size_t(c.ffnDim), 0.0f);
        m_xq.resize(t * std::size_t(std::max({c.dim, c.qDim(), c.ffnDim}) / 32 + 1));
        if (m_cache.dtype() != KvDtype::F32) { // new K/V rows in f32 before they are rounded into the cache
            m_kNew.assign(t * std::size_t(c.kvDim()), 0.0f);
            m_vNew.assign(t * std::size_t(c.kvDim()), 0.0f);
        }
        m_batch = T;
    }

    // Runs fn(begin, end) over token ranges: on the pool for big batches, inline for small ones.
    template <typename F> void forTokens(int T, F&& fn)
    {
        if (T < 4) {
            fn(0, T);
            return;
        }
        m_pool.run([&](int ith, int nth) {
            const auto [b, e] = ThreadPool::split(T, ith, nth);
            fn(int(b), int(e));
        });
    }

    // Quantizes T rows of `cols` floats (stride `ld`) to BlockQ16A rows, when a product needs it.
    const std::byte* quantize(const float* x, std::size_t ld, int cols, int T, bool needed)
    {
        if (!needed)
            return nullptr;
        const std::size_t blocks = std::size_t(cols) / 32;
        forTokens(T, [&](int b, int e) {
            for (int t = b; t < e; ++t)
                m_k.quantizeQ16A(x + std::size_t(t) * ld, m_xq.data() + std::size_t(t) * blocks, cols);
        });
        return reinterpret_cast<const std::byte*>(m_xq.data());
    }

    // Runs products that share an input (T rows of `cols`) in one dispatch over their joint rows.
    void runProducts(std::initializer_list<Product> products, const float* x, std::size_t ldx, int cols,
                     int T)
    {
        bool needQ16 = false;
        for (const Product& p : products)
            needQ16 = needQ16 || usesQ16Activations(p.w->type);
        const std::byte* xq = quantize(x, ldx, cols, T, needQ16);
        std::int64_t total = 0;
        for (const Product& p : products)
            total += p.w->rows;
        m_pool.run([&](int ith, int nth) {
            const auto [b, e] = ThreadPool::split(total, ith, nth, 8);
            std::int64_t base = 0;
            for (const Product& p : products) {
                const std::int64_t r0 = std::max<std::int64_t>(b - base, 0);
                const std::int64_t r1 = std::min<std::int64_t>(e - base, p.w->rows);
                base += p.w->rows;
                if (r0 >= r1)
                    continue;
                const bool q16 = usesQ16Activations(p.w->type);
                MatmulArgs a;
                a.w = p.w->data;
                a.wRowBytes = p.w->rowBytes;
                a.cols = p.w->cols;
                a.x = q16 ? xq : reinterpret_cast<const std::byte*>(x);
                a.xStride = q16 ? std::size_t(cols) / 32 * sizeof(BlockQ16A) : ldx * sizeof(float);
                a.nTok = T;
                a.out = p.out;
                a.ldOut = p.ldOut;
                a.accumulate = p.accumulate;
                const MatmulFn fn = q16 ? m_k.matmulQ16A[int(p.w->type)] : m_k.matmulF32[int(p.w->type)];
                fn(a, r0, r1);
            }
        });
    }

    void addBias(float* x, std::size_t ld, int T, const std::vector<float>& bias)
    {
        if (bias.empty())
            return;
        for (int t = 0; t < T; ++t)
            for (std::size_t i = 0; i < bias.size(); ++i)
                x[std::size_t(t) * ld + i] += bias[i];
    }

    // att[t] [qDim] for T query tokens at positions pos0 + t, causal over the cache.
    void attention(int layer, int pos0, int T)
    {
        const ModelConfig& c = m_w->config;
        const int hd = c.headDim, group = c.nHeads / c.nKvHeads;
        const std::size_t kvDim = std::size_t(c.kvDim());
        const float scale = 1.0f / std::sqrt(float(hd));
        const KvDtype dtype = m_cache.dtype();
        const bool f32 = dtype == KvDtype::F32;
        const float* K = f32 ? m_cache.k(layer, 0) : nullptr;
        const float* V = f32 ? m_cache.v(layer, 0) : nullptr;
        const std::uint16_t* K16 = f32 ? nullptr : m_cache.k16(layer, 0);
        const std::uint16_t* V16 = f32 ? nullptr : m_cache.v16(layer, 0);
        const auto scores16 = dtype == KvDtype::F16 ? m_k.attnScoresF16 : m_k.attnScoresBf16;
        const auto mix16 = dtype == KvDtype::F16 ? m_k.attnMixF16 : m_k.attnMixBf16;
        for (auto& s : m_scores)
            s.resize(std::size_t(pos0 + T));
        m_pool.run([&](int ith, int nth) {
            float* scores = m_scores[std::size_t(ith)].data();
            // Interleaved items balance the causal triangle across threads.
            for (int item = ith; item < T * c.nHeads; item += nth) {
                const int t = item / c.nHeads, h = item % c.nHeads, kvh = h / group;
                const int n = pos0 + t + 1;
                const float* q = m_q.data() + std::size_t(t) * std::size_t(c.qDim()) + std::size_t(h * hd);
                const std::size_t off = std::size_t(kvh * hd);
                if (f32)
                    m_k.attnScores(q, K + off, kvDim, n, hd, scale, scores);
                else
                    scores16(q, K16 + off, kvDim, n, hd, scale, scores);
                const float maxScore = *std::max_element(scores, scores + n);
                const float inv = 1.0f / m_k.expSum(scores, n, maxScore);
                for (int j = 0; j < n; ++j)
                    scores[j] *= inv;
                float* out = m_att.data() + std::size_t(t) * std::size_t(c.qDim()) + std::size_t(h * hd);
                if (f32)
                    m_k.attnMix(scores, V + off, kvDim, n, hd, out);
                else
                    mix16(scores, V16 + off, kvDim, n, hd, out);
            }
        });
    }

    void forwardBatch(std::span<const std::int32_t> tokens, float* logits, bool allLogits)
    {
        const ModelConfig& c = m_w->config;
        const int T = int(tokens.size());
        const int pos0 = m_pos;
        const std::size_t dim = std::size_t(c.dim), qDim = std::size_t(c.qDim()),
                          kvDim = std::size_t(c.kvDim());
        const std::size_t ffn = std::size_t(c.ffnDim);
        ensureBuffers(T);
        m_rope.compute(m_freqs, pos0, T);

        // x [T][dim]: embeddings
        for (int t = 0; t < T; ++t)
            (void)dequantizeRow(m_w->tokenEmbedding.type, m_w->tokenEmbedding.row(tokens[std::size_t(t)]),
                                m_x.data() + std::size_t(t) * dim, c.dim);

        for (int l = 0; l < c.nLayers; ++l) {
            const LayerWeights& L = m_w->layers[std::size_t(l)];
            // k/v [T][kvDim]: straight into an f32 cache (rows contiguous), else staged in f32
            const bool f32 = m_cache.dtype() == KvDtype::F32;
            float* kOut = f32 ? m_cache.k(l, pos0) : m_kNew.data();
            float* vOut = f32 ? m_cache.v(l, pos0) : m_vNew.data();

            // xn [T][dim] = rmsnorm(x); q [T][qDim], k/v [T][kvDim] into the cache
            forTokens(T, [&](int b, int e) {
                for (int t = b; t < e; ++t)
                    rmsNorm(m_xn.data() + std::size_t(t) * dim, m_x.data() + std::size_t(t) * dim,
                            L.attnNorm.data(), c.dim, c.rmsEps);
            });
            runProducts({{&L.wq, m_q.data(), qDim}, {&L.wk, kOut, kvDim}, {&L.wv, vOut, kvDim}}, m_xn.data(),
                        dim, c.dim, T);
            addBias(m_q.data(), qDim, T, L.bq);
            addBias(kOut, kvDim, T, L.bk);
            addBias(vOut, kvDim, T, L.bv);
            forTokens(T, [&](int b, int e) {
                for (int t = b; t < e; ++t) {
                    const float* cs = m_rope.cos.data() + std::size_t(t * m_rope.half);
                    const float* sn = m_rope.sin.data() + std::size_t(t * m_rope.half);
                    applyRope(m_q.data() + std::size_t(t) * qDim, c.nHeads, c.headDim, c.ropeDim, c.ropeStyle,
                              cs, sn);
                    applyRope(kOut + std::size_t(t) * kvDim, c.nKvHeads, c.headDim, c.ropeDim, c.ropeStyle,
                              cs, sn);
                }
            });
            if (!f32)
                forTokens(T, [&](int b, int e) {
                    m_cache.store(l, pos0 + b, e - b, kOut + std::size_t(b) * kvDim,
                                  vOut + std::size_t(b) * kvDim, kvDim);
                });

            // att [T][qDim]; x += Wo att (+ bias)
            attention(l, pos0, T);
            runProducts({{&L.wo, m_x.data(), dim, true}}, m_att.data(), qDim, c.qDim(), T);
            addBias(m_x.data(), dim, T, L.bo);

            // xn = rmsnorm(x); hb = silu(W_gate xn) * (W_up xn); x += W_down hb
            forTokens(T, [&](int b, int e) {
                for (int t = b; t < e; ++t)
                    rmsNorm(m_xn.data() + std::size_t(t) * dim, m_x.data() + std::size_t(t) * dim,
                            L.ffnNorm.data(), c.dim, c.rmsEps);
            });
            runProducts({{&L.wGate, m_hb.data(), ffn}, {&L.wUp, m_hb2.data(), ffn}}, m_xn.data(), dim, c.dim,
                        T);
            forTokens(T, [&](int b, int e) {
                for (int t = b; t < e; ++t)
                    m_k.siluMul(m_hb.data() + std::size_t(t) * ffn, m_hb2.data() + std::size_t(t) * ffn,
                                c.ffnDim);
            });
            runProducts({{&L.wDown, m_x.data(), dim, true}}, m_hb.data(), ffn, c.ffnDim, T);
        }

        if (!logits)
            return;
        // logits [rows][vocab] for every token (allLogits) or the last one
        const int first = allLogits ? 0 : T - 1;
        const int rows = T - first;
        forTokens(rows, [&](int b, int e) {
            for (int t = b; t < e; ++t)
                rmsNorm(m_xn.data() + std::size_t(t) * dim, m_x.data() + std::size_t(first + t) * dim,
                        m_w->outputNorm.data(), c.dim, c.rmsEps);
        });
        runProducts({{&m_w->output, logits, std::size_t(c.vocabSize)}}, m_xn.data(), dim, c.dim, rows);
    }

    const Kernels& m_k;
    std::vector<float> m_freqs;
    ThreadPool m_pool;
    RopeTable m_rope;
    int m_batch = 0;
    std::vector<float> m_x, m_xn, m_q, m_att, m_hb, m_hb2;
    std::vector<float> m_kNew, m_vNew; // [T][kvDim]: f16/bf16 caches only
    std::vector<BlockQ16A> m_xq;
    std::vector<std::vector<float>> m_scores; // per thread [positions]
};

} // namespace

std::expected<void, Error> checkForward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                        bool allLogits, int position, KvCache& cache, int vocab)
{
    if (tokens.empty())
        return std::unexpected(Error{ErrorCode::InvalidArgument, "forward() needs at least one token"});
    const std::size_t need =
        allLogits ? tokens.size() * std::size_t(vocab) : (logits.empty() ? 0 : std::size_t(vocab));
    if (logits.size() < need)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "logits buffer too small"});
    if (auto ok = checkAppend(tokens, position, cache.maxTokens(), vocab); !ok)
        return ok;
    cache.reserve(position + int(tokens.size())); // within maxTokens: cannot refuse
    return {};
}

std::expected<std::unique_ptr<Runner>, Error> makeLlamaCpuRunner(std::shared_ptr<const ModelWeights> weights,
                                                                 const RunnerOptions& options,
                                                                 const Kernels* kernels)
{
    const auto kvDtype = checkKvDtype(options.kvDtype, true, "cpu");
    if (!kvDtype)
        return std::unexpected(kvDtype.error());
    const int maxContext = options.maxContext > 0 ? options.maxContext : weights->config.contextLength;
    int threads = options.threads > 0 ? options.threads : int(std::thread::hardware_concurrency());
    threads = std::clamp(threads, 1, 256);
    const Kernels& k = kernels ? *kernels : bestKernels();
    std::vector<const TensorView*> matrices = {&weights->output};
    for (const LayerWeights& l : weights->layers)
        matrices.insert(matrices.end(), {&l.wq, &l.wk, &l.wv, &l.wo, &l.wGate, &l.wUp, &l.wDown});
    for (const TensorView* t : matrices)
        if (!(usesQ16Activations(t->type) ? k.matmulQ16A : k.matmulF32)[int(t->type)] ||
            (usesQ16Activations(t->type) && t->cols % 32 != 0))
            return std::unexpected(
                Error{ErrorCode::Unsupported,
                      std::string("no CPU kernel for ") + toString(t->type) + " tensor " + t->name});
    return std::make_unique<LlamaCpuRunner>(std::move(weights), maxContext, threads, k, *kvDtype);
}

} // namespace quire::inference::cpu
