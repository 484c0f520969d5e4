// Loading the dense Llama model onto the GPU (LlamaCudaRunner::init), the runner's factory and the cuda
// backend, which hands Llama 4 weights to llama4_cuda.cpp. The runner: llama_cuda_runner.h.
#include "llama_cuda.h"

#include "llama4_cuda.h"
#include "llama_cuda_runner.h"

namespace quire::inference::cuda {

namespace llamacuda {

namespace {

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

} // namespace

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

} // namespace llamacuda

using llamacuda::cudaFailure;
using llamacuda::LlamaCudaRunner;

namespace {

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
