// The dense Llama forward pass on the GPU (see quire/inference/cuda/backend.h).
//
// Per layer, for T tokens at positions pos..pos+T-1 (x: the fp32 residual stream [T][dim]):
//   xn = rmsnorm(x += delta) * attn_norm                       (bf16; delta of the previous layer)
//   qkv = xn . [Wq | Wk | Wv]^T (+ biases)                     (one product over the stacked weights)
//   rope on the q and k heads of qkv; k and v appended to the layer's cache at their positions
//   att = attention(q, cache)                                  (prefill kernel, decode kernel, or the
//                                                               general one for other head dims)
//   delta = att . Wo^T (+ bias); xn = rmsnorm(x += delta) * ffn_norm
//   h = swiglu(xn . [Wgate | Wup]^T); delta = h . Wdown^T
// then logits = rmsnorm(x += delta) * output_norm . Wout^T (fp32). A product runs as the quantized GEMV
// when T == 1 and the weights have a device format, else as a bf16 cuBLASLt GEMM. A decode step reads
// its token, position and sequence length from device memory, so after one eager step it is captured
// once as a CUDA graph and replayed.
#include "llama_cuda.h"

#include "llama4_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "kv_copy.h"
#include "quire/inference/cuda/blas.h"
#include "quire/inference/cuda/device.h"
#include "quire/inference/cuda/kernels/attention_decode.cuh"
#include "quire/inference/cuda/kernels/attention_naive.cuh"
#include "quire/inference/cuda/kernels/attention_prefill.cuh"
#include "quire/inference/cuda/kernels/embedding.cuh"
#include "quire/inference/cuda/kernels/model_ops.cuh"
#include "quire/inference/cuda/kernels/quant.cuh"
#include "quire/inference/cuda/kernels/rmsnorm.cuh"
#include "quire/inference/cuda/kernels/rope.cuh"
#include "quire/inference/cuda/kernels/swiglu.cuh"
#include "quire/inference/cuda/stream.h"
#include "quire/inference/device_budget.h"
#include "quire/inference/llama4.h"
#include "quire/inference/quant.h"

namespace quire::inference::cuda {

namespace {

constexpr int kMaxChunk = 256; // tokens per forward pass over the layers (bounds the activations)
constexpr int kCachePage = 64; // the decode kernel's view of the contiguous cache: identity pages

Error cudaFailure(cudaError_t e, const std::string& what)
{
    cudaGetLastError(); // clear a non-sticky error so later calls are not blamed for it
    return Error{ErrorCode::Device, what + ": " + cudaGetErrorString(e)};
}

#define QUIRE_CUDA_TRY(expr, what)                                                                           \
    do {                                                                                                     \
        if (const cudaError_t quireErr = (expr); quireErr != cudaSuccess)                                    \
            return std::unexpected(cudaFailure(quireErr, what));                                             \
    } while (0)

#define QUIRE_TRY(expr)                                                                                      \
    do {                                                                                                     \
        if (auto quireResult = (expr); !quireResult)                                                         \
            return std::unexpected(std::move(quireResult).error());                                          \
    } while (0)

std::optional<QuantType> deviceQuantType(GgmlType t)
{
    switch (t) {
    case GgmlType::Q4_0:
        return QuantType::Q4_0;
    case GgmlType::Q4_1:
        return QuantType::Q4_1;
    case GgmlType::Q8_0:
        return QuantType::Q8_0;
    case GgmlType::Q4_K:
        return QuantType::Q4_K;
    case GgmlType::Q6_K:
        return QuantType::Q6_K;
    default:
        return std::nullopt;
    }
}

std::expected<DeviceBuffer, Error> allocate(std::size_t bytes, const char* what)
{
    auto b = DeviceBuffer::allocate(bytes);
    if (!b)
        return std::unexpected(Error{b.error().code, std::string(what) + ": " + b.error().message});
    return b;
}

// A linear layer y[t][n] = x[t][k] . W[n][k]^T whose W may be several weight matrices stacked by rows.
struct Linear {
    int n = 0, k = 0;
    DeviceBuffer bf16; // [n][k], for the GEMM
    struct Segment {
        QuantType type;
        DeviceBuffer blocks; // rows [row0, row0 + rows) as GGUF blocks
        int row0 = 0, rows = 0;
    };
    std::vector<Segment> quant; // covers every row, or empty (no device format: T == 1 uses the GEMM)
};

// Uploads the stacked matrices `parts` (same column count) on `stream`.
std::expected<Linear, Error> uploadLinear(const std::vector<const TensorView*>& parts, cudaStream_t stream)
{
    Linear lin;
    lin.k = int(parts.front()->cols);
    bool allQuant = true;
    for (const TensorView* p : parts) {
        if (p->empty() || p->cols != lin.k)
            return std::unexpected(
                Error{ErrorCode::Format, "weight " + p->name + " is missing or misshapen"});
        lin.n += int(p->rows);
        allQuant = allQuant && deviceQuantType(p->type).has_value();
    }
    if (lin.n % 8 != 0 || lin.k % 8 != 0)
        return std::unexpected(
            Error{ErrorCode::Unsupported,
                  "the CUDA backend needs weight shapes in multiples of 8 (" + parts.front()->name + ")"});
    auto bf16 = allocate(std::size_t(lin.n) * std::size_t(lin.k) * 2, "weights");
    if (!bf16)
        return std::unexpected(bf16.error());
    lin.bf16 = std::move(*bf16);
    auto* dst = static_cast<std::uint16_t*>(lin.bf16.data());

    int row0 = 0;
    std::vector<float> rowF32(std::size_t(lin.k));
    std::vector<std::uint16_t> staging;
    for (std::size_t i = 0; i < parts.size();) {
        const TensorView& p = *parts[i];
        if (auto qt = deviceQuantType(p.type)) {
            // A run of parts in the same format becomes one segment (one GEMV launch).
            std::size_t j = i;
            int rows = 0;
            std::size_t bytes = 0;
            while (j < parts.size() && parts[j]->type == p.type) {
                rows += int(parts[j]->rows);
                bytes += std::size_t(parts[j]->rows) * parts[j]->rowBytes;
                ++j;
            }
            auto blocks = allocate(bytes, "weights");
            if (!blocks)
                return std::unexpected(blocks.error());
            std::size_t off = 0;
            for (std::size_t q = i; q < j; ++q) {
                const std::size_t n = std::size_t(parts[q]->rows) * parts[q]->rowBytes;
                QUIRE_CUDA_TRY(cudaMemcpyAsync(static_cast<std::byte*>(blocks->data()) + off, parts[q]->data,
                                               n, cudaMemcpyHostToDevice, stream),
                               "weight upload");
                off += n;
            }
            QUIRE_CUDA_TRY(launchDequantizeBf16(*qt, blocks->data(), rows, lin.k,
                                                dst + std::size_t(row0) * lin.k, stream),
                           "dequantise " + p.name);
            if (allQuant)
                lin.quant.push_back({*qt, std::move(*blocks), row0, rows});
            else
                QUIRE_CUDA_TRY(cudaStreamSynchronize(stream), "weight upload"); // blocks freed here
            row0 += rows;
            i = j;
        } else {
            // Float or other formats: to f32 on the host, then bf16.
            staging.resize(std::size_t(p.rows) * std::size_t(lin.k));
            for (std::int64_t r = 0; r < p.rows; ++r) {
                if (auto ok = dequantizeRow(p.type, p.row(r), rowF32.data(), lin.k); !ok)
                    return std::unexpected(ok.error());
                for (int c = 0; c < lin.k; ++c)
                    staging[std::size_t(r) * std::size_t(lin.k) + std::size_t(c)] =
                        fp32ToBf16(rowF32[std::size_t(c)]);
            }
            QUIRE_CUDA_TRY(cudaMemcpyAsync(dst + std::size_t(row0) * lin.k, staging.data(),
                                           staging.size() * 2, cudaMemcpyHostToDevice, stream),
                           "weight upload");
            QUIRE_CUDA_TRY(cudaStreamSynchronize(stream), "weight upload"); // staging is reused
            row0 += int(p.rows);
            ++i;
        }
    }
    return lin;
}

std::expected<DeviceBuffer, Error> uploadFloats(const std::vector<float>& v, cudaStream_t stream)
{
    auto b = allocate(std::max<std::size_t>(v.size(), 1) * 4, "vectors");
    if (!b)
        return std::unexpected(b.error());
    if (!v.empty())
        QUIRE_CUDA_TRY(cudaMemcpyAsync(b->data(), v.data(), v.size() * 4, cudaMemcpyHostToDevice, stream),
                       "upload");
    QUIRE_CUDA_TRY(cudaStreamSynchronize(stream), "upload"); // v may be a temporary
    return b;
}

struct Layer {
    DeviceBuffer attnNorm, ffnNorm; // f32 [dim]
    Linear qkv, wo, gateUp, down;
    DeviceBuffer qkvBias, oBias; // f32, allocated only when the model has them
    bool hasQkvBias = false, hasOBias = false;
    DeviceBuffer kCache, vCache; // bf16 [cacheTokens][kvDim]
};

struct GraphExec {
    cudaGraphExec_t exec = nullptr;
    GraphExec() = default;
    GraphExec(const GraphExec&) = delete;
    GraphExec& operator=(const GraphExec&) = delete;
    ~GraphExec()
    {
        if (exec)
            cudaGraphExecDestroy(exec);
    }
};

class LlamaCudaRunner final : public Runner {
public:
    LlamaCudaRunner(std::shared_ptr<const ModelWeights> w, Stream stream, Blas blas)
        : m_w(std::move(w)), m_c(m_w->config), m_stream(std::move(stream)), m_blas(std::move(blas))
    {
        // Diagnostics for the benchmarks: QUIRE_CUDA_NO_GRAPH runs decode steps eagerly;
        // QUIRE_CUDA_STEP_TIMES times each graph replay on the device and reports the mean on exit.
        m_useGraph = std::getenv("QUIRE_CUDA_NO_GRAPH") == nullptr;
        if (std::getenv("QUIRE_CUDA_STEP_TIMES")) {
            auto a = Event::create(), b = Event::create();
            if (a && b) {
                m_stepStart = std::move(*a);
                m_stepEnd = std::move(*b);
                m_timeSteps = true;
            }
        }
    }
    ~LlamaCudaRunner() override
    {
        if (m_timeSteps && m_timedSteps > 0)
            std::fprintf(stderr, "cuda runner: %d decode graph replays, %.1f us of device time each\n",
                         m_timedSteps, 1000.0 * m_stepMs / m_timedSteps);
    }
    LlamaCudaRunner(const LlamaCudaRunner&) = delete;
    LlamaCudaRunner& operator=(const LlamaCudaRunner&) = delete;

    // Uploads the weights, then sizes the KV cache: `requested` tokens (0: the longest that fits, capped at
    // the model's length) within what is left of `budget` (0: all free memory) once the weights are
    // on the device; freeBefore is cudaMemGetInfo's free figure before the runner allocated anything.
    std::expected<void, Error> init(int requested, std::uint64_t budget, std::uint64_t freeBefore,
                                    int multiprocessors);

    std::string_view backendName() const override { return "cuda"; }
    int position() const override { return m_pos; }
    int maxContext() const override { return m_maxContext; }
    void truncate(int position) override { m_pos = std::clamp(position, 0, m_pos); }

    // KV export and import: bf16, every layer keeps every position ([cacheTokens][kvDim] per layer).
    std::expected<KvLayout, Error> kvLayout() const override
    {
        KvLayout l;
        l.dtype = KvDtype::BF16;
        l.nLayers = m_c.nLayers;
        l.nKvHeads = m_c.nKvHeads;
        l.headDim = m_c.headDim;
        return l;
    }
    std::expected<void, Error> readKv(int layer, int begin, int end, std::span<std::byte> k,
                                      std::span<std::byte> v) const override
    {
        const std::size_t row = std::size_t(m_c.kvDim()) * 2;
        QUIRE_TRY(checkKvCopy(layer, m_c.nLayers, begin, end, m_pos, k.size(), v.size(), row));
        const Layer& L = m_layers[std::size_t(layer)];
        const std::size_t at = std::size_t(begin) * row;
        QUIRE_TRY(copyKv(k.data(), static_cast<const std::byte*>(L.kCache.data()) + at, k.size(),
                         cudaMemcpyDeviceToHost, stream()));
        return copyKv(v.data(), static_cast<const std::byte*>(L.vCache.data()) + at, v.size(),
                      cudaMemcpyDeviceToHost, stream());
    }
    std::expected<void, Error> appendUncomputed(std::span<const std::int32_t> tokens) override
    {
        if (auto ok = checkAppend(tokens, m_pos, m_maxContext, m_c.vocabSize); !ok)
            return ok;
        m_pos += int(tokens.size());
        return {};
    }
    std::expected<void, Error> writeKv(int layer, int begin, int end, std::span<const std::byte> k,
                                       std::span<const std::byte> v) override
    {
        const std::size_t row = std::size_t(m_c.kvDim()) * 2;
        QUIRE_TRY(checkKvCopy(layer, m_c.nLayers, begin, end, m_pos, k.size(), v.size(), row));
        Layer& L = m_layers[std::size_t(layer)];
        const std::size_t at = std::size_t(begin) * row;
        QUIRE_TRY(copyKv(static_cast<std::byte*>(L.kCache.data()) + at, k.data(), k.size(),
                         cudaMemcpyHostToDevice, stream()));
        return copyKv(static_cast<std::byte*>(L.vCache.data()) + at, v.data(), v.size(),
                      cudaMemcpyHostToDevice, stream());
    }

    std::expected<void, Error> forward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                       bool allLogits) override
    {
        const int vocab = m_c.vocabSize;
        if (tokens.empty())
            return std::unexpected(Error{ErrorCode::InvalidArgument, "forward() needs at least one token"});
        if (logits.size() < (allLogits ? tokens.size() : 1) * std::size_t(vocab))
            return std::unexpected(Error{ErrorCode::InvalidArgument, "logits buffer too small"});
        if (auto ok = checkAppend(tokens, m_pos, m_maxContext, vocab); !ok)
            return ok;
        for (std::size_t begin = 0; begin < tokens.size(); begin += kMaxChunk) {
            const std::size_t n = std::min<std::size_t>(kMaxChunk, tokens.size() - begin);
            const bool last = begin + n == tokens.size();
            float* out =
                allLogits ? logits.data() + begin * std::size_t(vocab) : (last ? logits.data() : nullptr);
            if (auto ok = forwardChunk(tokens.subspan(begin, n), out, allLogits); !ok) {
                cudaStreamSynchronize(m_stream.get());
                cudaGetLastError();
                return ok;
            }
            m_pos += int(n);
        }
        return {};
    }

private:
    cudaStream_t stream() const { return m_stream.get(); }
    std::int32_t* ids() const { return static_cast<std::int32_t*>(m_step.data()); }
    std::int32_t* positions() const { return ids() + kMaxChunk; }
    std::int32_t* seqLen() const { return ids() + 2 * kMaxChunk; }

    std::expected<void, Error> forwardChunk(std::span<const std::int32_t> tokens, float* out, bool allLogits);
    std::expected<void, Error> runLayers(int T, bool allRows);
    std::expected<void, Error> linear(const Linear& lin, const std::uint16_t* x, void* y, int T, GemmOut out);

    std::shared_ptr<const ModelWeights> m_w;
    ModelConfig m_c;
    Stream m_stream;
    Blas m_blas;
    int m_maxContext = 0, m_cacheTokens = 0, m_splitTokens = 0;
    int m_pos = 0;
    RopeMode m_ropeMode = RopeMode::NeoxHalves;
    bool m_tiledAttention = false; // head dim 64 or 128

    DeviceBuffer m_embed, m_outNorm, m_invFreq;
    Linear m_output;
    std::vector<Layer> m_layers;

    DeviceBuffer m_x, m_xn, m_qkv, m_att, m_delta, m_gu, m_h, m_logits;
    DeviceBuffer m_step;      // int32: ids [kMaxChunk], positions [kMaxChunk], sequence length [1]
    DeviceBuffer m_pageTable; // identity pages over the contiguous cache
    DeviceBuffer m_workspace; // decode attention partials
    std::vector<std::int32_t> m_stepHost;

    bool m_decodeWarm = false, m_graphTried = false, m_useGraph = true;
    GraphExec m_graph;
    bool m_timeSteps = false;
    Event m_stepStart, m_stepEnd;
    double m_stepMs = 0;
    int m_timedSteps = 0;
};

std::expected<void, Error> LlamaCudaRunner::init(int requested, std::uint64_t budget,
                                                 std::uint64_t freeBefore, int multiprocessors)
{
    const ModelConfig& c = m_c;
    cudaStream_t s = stream();
    if (c.nLayers <= 0 || c.dim <= 0 || c.nHeads <= 0 || c.nKvHeads <= 0 || c.nHeads % c.nKvHeads != 0 ||
        c.vocabSize <= 0)
        return std::unexpected(Error{ErrorCode::Format, "bad model configuration"});
    if (c.ropeDim != c.headDim || c.headDim % 2 != 0 || c.headDim > kNaiveMaxHeadDim)
        return std::unexpected(
            Error{ErrorCode::Unsupported,
                  "the CUDA backend rotates whole heads of even width up to 256 (head dim " +
                      std::to_string(c.headDim) + ", rope dim " + std::to_string(c.ropeDim) + ")"});
    m_ropeMode = c.ropeStyle == RopeStyle::Interleaved ? RopeMode::InterleavedPairs : RopeMode::NeoxHalves;
    m_tiledAttention = c.headDim == 64 || c.headDim == 128;

    // Embedding: f32 on the device (exactly the values the CPU backend uses).
    {
        const TensorView& e = m_w->tokenEmbedding;
        if (e.empty() || e.rows != c.vocabSize || e.cols != c.dim)
            return std::unexpected(Error{ErrorCode::Format, "token embedding is missing or misshapen"});
        auto buf = allocate(std::size_t(e.rows) * std::size_t(e.cols) * 4, "embedding");
        if (!buf)
            return std::unexpected(buf.error());
        m_embed = std::move(*buf);
        std::vector<float> chunk;
        const std::int64_t rowsPerCopy = 4096;
        for (std::int64_t r0 = 0; r0 < e.rows; r0 += rowsPerCopy) {
            const std::int64_t rows = std::min(rowsPerCopy, e.rows - r0);
            chunk.resize(std::size_t(rows) * std::size_t(e.cols));
            for (std::int64_t r = 0; r < rows; ++r)
                QUIRE_TRY(dequantizeRow(e.type, e.row(r0 + r),
                                        chunk.data() + std::size_t(r) * std::size_t(e.cols), e.cols));
            QUIRE_CUDA_TRY(
                cudaMemcpyAsync(static_cast<float*>(m_embed.data()) + std::size_t(r0) * std::size_t(e.cols),
                                chunk.data(), chunk.size() * 4, cudaMemcpyHostToDevice, s),
                "embedding upload");
            QUIRE_CUDA_TRY(cudaStreamSynchronize(s), "embedding upload");
        }
    }
    {
        auto out = uploadLinear({&m_w->output}, s);
        if (!out)
            return std::unexpected(out.error());
        m_output = std::move(*out);
        if (m_output.n != c.vocabSize || m_output.k != c.dim)
            return std::unexpected(Error{ErrorCode::Format, "output matrix is misshapen"});
    }
    auto outNorm = uploadFloats(m_w->outputNorm, s);
    if (!outNorm)
        return std::unexpected(outNorm.error());
    m_outNorm = std::move(*outNorm);
    auto invFreq = uploadFloats(ropeFrequencies(c, m_w->ropeFreqFactors), s);
    if (!invFreq)
        return std::unexpected(invFreq.error());
    m_invFreq = std::move(*invFreq);

    const int qkvDim = c.qDim() + 2 * c.kvDim();
    for (int l = 0; l < c.nLayers; ++l) {
        const LayerWeights& L = m_w->layers[std::size_t(l)];
        Layer layer;
        if (L.attnNorm.size() != std::size_t(c.dim) || L.ffnNorm.size() != std::size_t(c.dim))
            return std::unexpected(
                Error{ErrorCode::Format, "layer " + std::to_string(l) + ": norms are misshapen"});
        auto an = uploadFloats(L.attnNorm, s);
        auto fn = uploadFloats(L.ffnNorm, s);
        auto qkv = uploadLinear({&L.wq, &L.wk, &L.wv}, s);
        auto wo = uploadLinear({&L.wo}, s);
        auto gu = uploadLinear({&L.wGate, &L.wUp}, s);
        auto down = uploadLinear({&L.wDown}, s);
        for (auto* r : {&an, &fn})
            if (!*r)
                return std::unexpected(r->error());
        for (auto* r : {&qkv, &wo, &gu, &down})
            if (!*r)
                return std::unexpected(r->error());
        layer.attnNorm = std::move(*an);
        layer.ffnNorm = std::move(*fn);
        layer.qkv = std::move(*qkv);
        layer.wo = std::move(*wo);
        layer.gateUp = std::move(*gu);
        layer.down = std::move(*down);
        if (layer.qkv.n != qkvDim || layer.wo.n != c.dim || layer.wo.k != c.qDim() ||
            layer.gateUp.n != 2 * c.ffnDim || layer.down.n != c.dim || layer.down.k != c.ffnDim ||
            layer.qkv.k != c.dim || layer.gateUp.k != c.dim)
            return std::unexpected(
                Error{ErrorCode::Format, "layer " + std::to_string(l) + ": weights are misshapen"});
        if (!L.bq.empty() || !L.bk.empty() || !L.bv.empty()) {
            std::vector<float> bias(std::size_t(qkvDim), 0.0f);
            const auto put = [&](const std::vector<float>& b, int offset, int size) {
                if (b.size() == std::size_t(size))
                    std::copy(b.begin(), b.end(), bias.begin() + offset);
                return b.empty() || b.size() == std::size_t(size);
            };
            if (!put(L.bq, 0, c.qDim()) || !put(L.bk, c.qDim(), c.kvDim()) ||
                !put(L.bv, c.qDim() + c.kvDim(), c.kvDim()))
                return std::unexpected(
                    Error{ErrorCode::Format, "layer " + std::to_string(l) + ": biases are misshapen"});
            auto b = uploadFloats(bias, s);
            if (!b)
                return std::unexpected(b.error());
            layer.qkvBias = std::move(*b);
            layer.hasQkvBias = true;
        }
        if (!L.bo.empty()) {
            if (L.bo.size() != std::size_t(c.dim))
                return std::unexpected(
                    Error{ErrorCode::Format, "layer " + std::to_string(l) + ": output bias"});
            auto b = uploadFloats(L.bo, s);
            if (!b)
                return std::unexpected(b.error());
            layer.oBias = std::move(*b);
            layer.hasOBias = true;
        }
        m_layers.push_back(std::move(layer));
    }

    // The KV cache gets what the weights left of the budget, less the working memory below: activations for
    // up to kMaxChunk tokens, the decode attention's partials (at most one split per multiprocessor and KV
    // head: decodeSplitTokens), and 2 MiB of allocation granularity per buffer still to allocate.
    const std::size_t B = kMaxChunk;
    struct Want {
        DeviceBuffer* buf;
        std::size_t bytes;
    };
    const Want wants[] = {
        {&m_x, B * std::size_t(c.dim) * 4},
        {&m_xn, B * std::size_t(c.dim) * 2},
        {&m_qkv, B * std::size_t(qkvDim) * 2},
        {&m_att, B * std::size_t(c.qDim()) * 2},
        {&m_delta, B * std::size_t(c.dim) * 2},
        {&m_gu, B * std::size_t(2 * c.ffnDim) * 2},
        {&m_h, B * std::size_t(c.ffnDim) * 2},
        {&m_logits, B * std::size_t(c.vocabSize) * 4},
        {&m_step, (2 * B + 1) * 4},
    };
    std::size_t freeAfter = 0, total = 0;
    QUIRE_CUDA_TRY(cudaStreamSynchronize(s), "model upload");
    QUIRE_CUDA_TRY(cudaMemGetInfo(&freeAfter, &total), "cudaMemGetInfo");
    const std::uint64_t weightBytes = freeBefore > freeAfter ? freeBefore - freeAfter : 0;
    DeviceContextCost cost;
    cost.availableBytes =
        budget > 0 ? (budget > weightBytes ? std::min<std::uint64_t>(budget - weightBytes, freeAfter) : 0)
                   : freeAfter;
    cost.bytesPerToken =
        kvBytesPerToken(c.nLayers, c.kvDim(), KvDtype::BF16) + 1; // + the page table (4 B / 64)
    cost.granularity = kCachePage;
    const std::uint64_t granuleSlack = std::uint64_t(2) << 20;
    cost.fixedBytes = granuleSlack * (std::size(wants) + 2 * std::size_t(c.nLayers) + 2) +
                      std::uint64_t(c.nHeads) * std::uint64_t(std::max(1, multiprocessors / c.nKvHeads) + 1) *
                          std::uint64_t(c.headDim + 2) * 4;
    for (const Want& want : wants)
        cost.fixedBytes += want.bytes;
    auto context = chooseDeviceContext(cost, requested, c.contextLength,
                                       "the cuda backend's KV cache (" + std::to_string(weightBytes >> 20) +
                                           " MiB of weights on the device)");
    if (!context)
        return std::unexpected(context.error());
    m_maxContext = *context;
    m_cacheTokens = (m_maxContext + kCachePage - 1) / kCachePage * kCachePage;
    for (Layer& layer : m_layers) {
        const std::size_t cacheBytes = std::size_t(m_cacheTokens) * std::size_t(c.kvDim()) * 2;
        auto kc = allocate(cacheBytes, "KV cache");
        auto vc = allocate(cacheBytes, "KV cache");
        if (!kc)
            return std::unexpected(kc.error());
        if (!vc)
            return std::unexpected(vc.error());
        layer.kCache = std::move(*kc);
        layer.vCache = std::move(*vc);
    }
    for (const Want& want : wants) {
        auto b = allocate(want.bytes, "activations");
        if (!b)
            return std::unexpected(b.error());
        *want.buf = std::move(*b);
    }
    m_stepHost.assign(2 * B + 1, 0);

    if (m_tiledAttention) {
        const int pages = m_cacheTokens / kCachePage;
        std::vector<std::int32_t> table(static_cast<std::size_t>(pages));
        for (int p = 0; p < pages; ++p)
            table[std::size_t(p)] = p;
        auto t = allocate(table.size() * 4, "page table");
        if (!t)
            return std::unexpected(t.error());
        m_pageTable = std::move(*t);
        QUIRE_CUDA_TRY(
            cudaMemcpyAsync(m_pageTable.data(), table.data(), table.size() * 4, cudaMemcpyHostToDevice, s),
            "upload");
        m_splitTokens = decodeSplitTokens(1, c.nKvHeads, m_cacheTokens, 0, multiprocessors);
        auto ws = allocate(decodeWorkspaceBytes(1, c.nHeads, c.headDim, m_cacheTokens, 0, m_splitTokens),
                           "attention workspace");
        if (!ws)
            return std::unexpected(ws.error());
        m_workspace = std::move(*ws);
    }
    QUIRE_CUDA_TRY(cudaStreamSynchronize(s), "model upload");
    return {};
}

std::expected<void, Error> LlamaCudaRunner::linear(const Linear& lin, const std::uint16_t* x, void* y, int T,
                                                   GemmOut out)
{
    if (T == 1 && !lin.quant.empty()) {
        for (const Linear::Segment& seg : lin.quant) {
            void* dst = out == GemmOut::F32 ? static_cast<void*>(static_cast<float*>(y) + seg.row0)
                                            : static_cast<void*>(static_cast<std::uint16_t*>(y) + seg.row0);
            QUIRE_CUDA_TRY(launchQuantGemv(seg.type, seg.blocks.data(), seg.rows, lin.k, x, 1, dst,
                                           out == GemmOut::Bf16, stream()),
                           "quantized GEMV");
        }
        return {};
    }
    return m_blas.gemm(x, lin.bf16.data(), y, T, lin.n, lin.k, out, stream());
}

std::expected<void, Error> LlamaCudaRunner::runLayers(int T, bool allRows)
{
    const ModelConfig& c = m_c;
    cudaStream_t s = stream();
    const int qDim = c.qDim(), kvDim = c.kvDim(), qkvDim = qDim + 2 * kvDim, D = c.headDim;
    auto* x = static_cast<float*>(m_x.data());
    auto* xn = static_cast<std::uint16_t*>(m_xn.data());
    auto* qkv = static_cast<std::uint16_t*>(m_qkv.data());
    auto* att = static_cast<std::uint16_t*>(m_att.data());
    auto* delta = static_cast<std::uint16_t*>(m_delta.data());
    auto* gu = static_cast<std::uint16_t*>(m_gu.data());
    auto* h = static_cast<std::uint16_t*>(m_h.data());
    const auto* invFreq = static_cast<const float*>(m_invFreq.data());
    const float scale = 1.0f / std::sqrt(float(D));

    QUIRE_CUDA_TRY(launchEmbeddingGather(m_embed.data(), false, c.vocabSize, c.dim, ids(), T, x, s),
                   "embedding");
    const std::uint16_t* prevDelta = nullptr;
    for (const Layer& L : m_layers) {
        QUIRE_CUDA_TRY(launchRmsNormResidual(x, prevDelta, static_cast<const float*>(L.attnNorm.data()), xn,
                                             T, c.dim, c.rmsEps, s),
                       "rmsnorm");
        QUIRE_TRY(linear(L.qkv, xn, qkv, T, GemmOut::Bf16));
        if (L.hasQkvBias)
            QUIRE_CUDA_TRY(
                launchAddBias(qkv, qkvDim, T, qkvDim, static_cast<const float*>(L.qkvBias.data()), s),
                "bias");
        // The q heads and then the k heads of each row: one rotation over nHeads + nKvHeads heads.
        QUIRE_CUDA_TRY(
            launchRope(qkv, T, c.nHeads + c.nKvHeads, D, qkvDim, positions(), invFreq, m_ropeMode, s),
            "rope");
        auto* kc = static_cast<std::uint16_t*>(L.kCache.data());
        auto* vc = static_cast<std::uint16_t*>(L.vCache.data());
        QUIRE_CUDA_TRY(
            launchKvAppend(qkv + qDim, qkv + qDim + kvDim, qkvDim, kc, vc, kvDim, positions(), T, s),
            "KV append");

        if (m_tiledAttention && T == 1) {
            DecodeAttention a;
            a.q = qkv;
            a.kCache = kc;
            a.vCache = vc;
            a.pageTable = static_cast<const std::int32_t*>(m_pageTable.data());
            a.seqLens = seqLen();
            a.out = att;
            a.batch = 1;
            a.numQHeads = c.nHeads;
            a.numKvHeads = c.nKvHeads;
            a.headDim = D;
            a.pageSize = kCachePage;
            a.maxPagesPerSeq = m_cacheTokens / kCachePage;
            a.maxSeqLen = m_cacheTokens; // not the current length: a captured step serves every position
            a.splitTokens = m_splitTokens;
            a.scale = scale;
            a.workspace = static_cast<float*>(m_workspace.data());
            QUIRE_CUDA_TRY(launchAttentionDecode(a, s), "decode attention");
        } else if (m_tiledAttention) {
            PrefillAttention a;
            a.q = qkv;
            a.k = kc;
            a.v = vc;
            a.o = att;
            a.qStride = qkvDim;
            a.kStride = a.vStride = kvDim;
            a.oStride = qDim;
            a.lq = T;
            a.lkv = m_pos + T;
            a.qPosOffset = m_pos;
            a.numQHeads = c.nHeads;
            a.numKvHeads = c.nKvHeads;
            a.headDim = D;
            a.scale = scale;
            QUIRE_CUDA_TRY(launchAttentionPrefill(a, s), "prefill attention");
        } else {
            NaiveAttention a;
            a.q = qkv;
            a.k = kc;
            a.v = vc;
            a.o = att;
            a.qStride = qkvDim;
            a.kStride = a.vStride = kvDim;
            a.oStride = qDim;
            a.lq = T;
            a.positions = positions();
            a.numQHeads = c.nHeads;
            a.numKvHeads = c.nKvHeads;
            a.headDim = D;
            a.scale = scale;
            QUIRE_CUDA_TRY(launchAttentionNaive(a, s), "attention");
        }

        QUIRE_TRY(linear(L.wo, att, delta, T, GemmOut::Bf16));
        if (L.hasOBias)
            QUIRE_CUDA_TRY(
                launchAddBias(delta, c.dim, T, c.dim, static_cast<const float*>(L.oBias.data()), s), "bias");
        QUIRE_CUDA_TRY(launchRmsNormResidual(x, delta, static_cast<const float*>(L.ffnNorm.data()), xn, T,
                                             c.dim, c.rmsEps, s),
                       "rmsnorm");
        QUIRE_TRY(linear(L.gateUp, xn, gu, T, GemmOut::Bf16));
        QUIRE_CUDA_TRY(
            launchSwiGlu(gu, 2 * c.ffnDim, gu + c.ffnDim, 2 * c.ffnDim, h, c.ffnDim, T, c.ffnDim, s),
            "swiglu");
        QUIRE_TRY(linear(L.down, h, delta, T, GemmOut::Bf16));
        prevDelta = delta;
    }
    const int rows = allRows ? T : 1;
    const std::size_t first = allRows ? 0 : std::size_t(T - 1);
    QUIRE_CUDA_TRY(
        launchRmsNormResidual(x + first * std::size_t(c.dim), prevDelta + first * std::size_t(c.dim),
                              static_cast<const float*>(m_outNorm.data()), xn, rows, c.dim, c.rmsEps, s),
        "rmsnorm");
    return linear(m_output, xn, m_logits.data(), rows, GemmOut::F32);
}

std::expected<void, Error> LlamaCudaRunner::forwardChunk(std::span<const std::int32_t> tokens, float* out,
                                                         bool allLogits)
{
    const int T = int(tokens.size());
    cudaStream_t s = stream();
    // ids, positions and the sequence length after this chunk, in one copy.
    std::copy(tokens.begin(), tokens.end(), m_stepHost.begin());
    for (int t = 0; t < T; ++t)
        m_stepHost[std::size_t(kMaxChunk + t)] = m_pos + t;
    m_stepHost[2 * kMaxChunk] = m_pos + T;
    QUIRE_CUDA_TRY(
        cudaMemcpyAsync(m_step.data(), m_stepHost.data(), m_stepHost.size() * 4, cudaMemcpyHostToDevice, s),
        "step upload");

    const bool allRows = allLogits && out != nullptr;
    if (T == 1 && m_useGraph && m_decodeWarm && !m_graphTried) {
        // Capture one decode step (every launch reads its position from m_step); replay it from now on.
        m_graphTried = true;
        if (cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal) == cudaSuccess) {
            auto ok = runLayers(1, false);
            cudaGraph_t graph = nullptr;
            const cudaError_t e = cudaStreamEndCapture(s, &graph);
            if (ok && e == cudaSuccess && graph) {
                if (cudaGraphInstantiate(&m_graph.exec, graph, 0) != cudaSuccess)
                    m_graph.exec = nullptr;
            }
            if (graph)
                cudaGraphDestroy(graph);
        }
        cudaGetLastError(); // a failed capture leaves the eager path in use
    }
    if (T == 1 && m_graph.exec) {
        if (m_timeSteps)
            QUIRE_TRY(m_stepStart.record(s));
        QUIRE_CUDA_TRY(cudaGraphLaunch(m_graph.exec, s), "decode graph");
        if (m_timeSteps) {
            QUIRE_TRY(m_stepEnd.record(s));
            QUIRE_TRY(m_stepEnd.synchronize());
            if (auto ms = m_stepEnd.elapsedSince(m_stepStart)) {
                m_stepMs += *ms;
                ++m_timedSteps;
            }
        }
    } else {
        QUIRE_TRY(runLayers(T, allRows));
        if (T == 1)
            m_decodeWarm = true;
    }
    if (out) {
        const std::size_t n = (allRows ? std::size_t(T) : 1) * std::size_t(m_c.vocabSize);
        QUIRE_CUDA_TRY(cudaMemcpyAsync(out, m_logits.data(), n * 4, cudaMemcpyDeviceToHost, s),
                       "logits download");
    }
    QUIRE_CUDA_TRY(cudaStreamSynchronize(s), "forward");
    return {};
}

class CudaBackend final : public Backend {
public:
    std::string_view name() const override { return "cuda"; }
    std::expected<std::unique_ptr<Runner>, Error> createRunner(std::shared_ptr<const ModelWeights> weights,
                                                               const RunnerOptions& options) const override
    {
        if (!weights)
            return std::unexpected(Error{ErrorCode::InvalidArgument, "no model weights"});
        if (asLlama4(*weights))
            return makeLlama4CudaRunner(std::move(weights), options);
        return makeLlamaCudaRunner(std::move(weights), options);
    }
};

} // namespace

std::expected<std::unique_ptr<Runner>, Error> makeLlamaCudaRunner(std::shared_ptr<const ModelWeights> weights,
                                                                  const RunnerOptions& options)
{
    if (options.kvDtype && *options.kvDtype != KvDtype::BF16)
        return std::unexpected(
            Error{ErrorCode::Unsupported, "the cuda backend holds this model's KV cache in bf16 "
                                          "only, not " +
                                              std::string(toString(*options.kvDtype))});
    if (deviceCount() == 0)
        return std::unexpected(Error{ErrorCode::Device, "the CUDA backend found no CUDA device"});
    auto info = deviceInfo(0);
    if (!info)
        return std::unexpected(info.error());
    QUIRE_CUDA_TRY(cudaSetDevice(0), "cudaSetDevice");
    std::size_t freeBefore = 0, totalBytes = 0; // before this runner's stream, cuBLAS workspace and weights
    QUIRE_CUDA_TRY(cudaMemGetInfo(&freeBefore, &totalBytes), "cudaMemGetInfo");
    auto stream = Stream::create();
    if (!stream)
        return std::unexpected(stream.error());
    auto blas = Blas::create();
    if (!blas)
        return std::unexpected(blas.error());
    if (options.maxContext <= 0 && weights->config.contextLength <= 0)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "the model names no context length"});
    auto runner = std::make_unique<LlamaCudaRunner>(std::move(weights), std::move(*stream), std::move(*blas));
    if (auto ok =
            runner->init(options.maxContext, options.deviceMemoryBudget, freeBefore, info->multiprocessors);
        !ok)
        return std::unexpected(ok.error());
    return runner;
}

std::shared_ptr<const Backend> cudaBackend()
{
    static const auto backend = std::make_shared<const CudaBackend>();
    return backend;
}

void registerCudaBackend()
{
    registerBackend("cuda", cudaBackend());
}

} // namespace quire::inference::cuda
