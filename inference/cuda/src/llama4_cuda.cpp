// The Llama 4 text forward pass on the GPU (llama4-architecture.md; private to the CUDA backend).
//
// Weights on load: attention, the shared expert, dense MLP layers, the embedding and the LM head as bf16
// (cuBLASLt products); the routed experts quantized on the device to int4 (group 128) from bf16 copies of
// whatever the CPU loader holds (an int4 matrix of the CPU format comes back with the same codes and its
// group scales within bf16 rounding, 2^-9 relative, since the staging copy is bf16); the router f32.
//
// Per layer, for T tokens at positions pos..pos+T-1 (x: the fp32 residual stream [T][dim]):
//   xn = rmsnorm(x += delta) * attn_norm;  qkv = xn . [Wq | Wk | Wv]^T
//   RoPE layers: interleaved RoPE on q and k, then the QK norm; NoPE layers: q *= tau(position)
//   chunked layers: k, v into a bf16 ring of one attention chunk (a pass never crosses a chunk boundary,
//     so the ring's row 0 is the chunk's first token); attention over the query's chunk
//   global layers: k, v appended to fp8 e4m3 pages with per-page scales (or a bf16 cache when
//     RunnerOptions::kvDtype is bf16); decode attends over the pages (split-K), prefill over the pages
//     gathered back to bf16
//   delta = att . Wo^T;  xn = rmsnorm(x += delta) * ffn_norm
//   MoE layers: shared = swiglu(xn . [Wg | Wu]^T) . Wd^T; delta = routed experts (top-1 sigmoid, input
//     scaled, grouped int4 GEMMs or GEMVs) + shared.  Dense layers: delta = swiglu(...) . Wdown^T
// then logits = rmsnorm(x += delta) * norm . Wlm^T (fp32, in blocks of rows). Passes take up to 8192
// tokens (the attention chunk of Scout; fewer when the context is short). Attention: the tiled prefill
// and decode kernels for head dims 64 and 128, the general kernel otherwise; the fp8 decode kernel for
// global layers. Not here yet: CUDA graphs for decode, fp8 attention/LM-head weights, host KV pages.
#include "llama4_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "kv_copy.h"
#include "llama4_cuda_runner.h"
#include "llama4_formats.h" // l4::decodeRow (inference/src)
#include "quire/inference/cuda/bf16.h"
#include "quire/inference/cuda/blas.h"
#include "quire/inference/cuda/device.h"
#include "quire/inference/cuda/kernels/attention_decode.cuh"
#include "quire/inference/cuda/kernels/attention_naive.cuh"
#include "quire/inference/cuda/kernels/attention_prefill.cuh"
#include "quire/inference/cuda/kernels/embedding.cuh"
#include "quire/inference/cuda/kernels/int4.cuh"
#include "quire/inference/cuda/kernels/kv_fp8.cuh"
#include "quire/inference/cuda/kernels/llama4_ops.cuh"
#include "quire/inference/cuda/kernels/model_ops.cuh"
#include "quire/inference/cuda/kernels/moe.cuh"
#include "quire/inference/cuda/kernels/rmsnorm.cuh"
#include "quire/inference/cuda/kernels/rope.cuh"
#include "quire/inference/cuda/kernels/swiglu.cuh"
#include "quire/inference/cuda/stream.h"
#include "quire/inference/device_budget.h"
#include "quire/inference/llama4.h"
#include "quire/inference/llama4_memory_plan.h"

namespace quire::inference::cuda {

namespace l4cuda {

Error cudaFailure(cudaError_t e, const std::string& what)
{
    cudaGetLastError();
    return Error{ErrorCode::Device, what + ": " + cudaGetErrorString(e)};
}

} // namespace l4cuda

namespace {

using namespace l4cuda;

// Whether the global layers keep fp8 pages: the default (no dtype) and Fp8E4M3 when the fp8 kernels serve
// the head shape (the default falls back to bf16 otherwise, an explicit fp8 is refused), BF16 never; the
// chunked layers' ring is bf16 either way. Any other dtype is refused by name.
std::expected<bool, Error> fp8GlobalKv(const Llama4Config& c, std::optional<KvDtype> dtype)
{
    const bool served = (c.headDim == 32 || c.headDim == 64 || c.headDim == 128) && c.nKvHeads > 0 &&
                        c.nHeads / c.nKvHeads <= kFp8DecodeMaxGroup;
    if (!dtype)
        return served;
    switch (*dtype) {
    case KvDtype::BF16:
        return false;
    case KvDtype::Fp8E4M3:
        if (!served)
            return std::unexpected(
                Error{ErrorCode::Unsupported,
                      "the cuda backend's fp8 KV kernels take head dims 32, 64 or 128 and up to " +
                          std::to_string(kFp8DecodeMaxGroup) +
                          " query heads per KV head; use the bf16 KV cache for this model"});
        return true;
    default:
        return std::unexpected(
            Error{ErrorCode::Unsupported, "the cuda backend holds a Llama 4 KV cache in bf16 (and "
                                          "fp8 for the global layers), not " +
                                              std::string(toString(*dtype))});
    }
}

std::expected<DeviceBuffer, Error> deviceBytes(std::size_t bytes, const char* what)
{
    auto b = DeviceBuffer::allocate(std::max<std::size_t>(bytes, 256));
    if (!b)
        return std::unexpected(Error{b.error().code, std::string(what) + ": " + b.error().message});
    return b;
}

// Rows of one or more matrices (same column count) stacked, decoded to float and rounded to bf16.
std::vector<std::uint16_t> stackBf16(const std::vector<const WeightMatrix*>& parts)
{
    std::size_t rows = 0;
    for (const WeightMatrix* p : parts)
        rows += std::size_t(p->rows);
    const std::size_t cols = std::size_t(parts.front()->cols);
    std::vector<std::uint16_t> out(rows * cols);
    std::vector<float> row(cols);
    std::size_t r0 = 0;
    for (const WeightMatrix* p : parts)
        for (std::int64_t r = 0; r < p->rows; ++r, ++r0) {
            l4::decodeRow(*p, r, row.data());
            for (std::size_t c = 0; c < cols; ++c)
                out[r0 * cols + c] = floatToBf16(row[c]);
        }
    return out;
}

} // namespace

namespace l4cuda {

std::expected<Bf16Matrix, Error> Llama4CudaRunner::upload(const std::vector<const WeightMatrix*>& parts)
{
    for (const WeightMatrix* p : parts)
        if (p->empty() || p->cols != parts.front()->cols)
            return std::unexpected(
                Error{ErrorCode::Format, "weight " + p->name + " is missing or misshapen"});
    Bf16Matrix m;
    const auto host = stackBf16(parts);
    m.k = int(parts.front()->cols);
    m.n = int(host.size() / std::size_t(m.k));
    if (m.n % 8 != 0 || m.k % 8 != 0)
        return std::unexpected(Error{ErrorCode::Unsupported, "the CUDA backend needs weight shapes that are "
                                                             "multiples of 8 (" +
                                                                 parts.front()->name + ")"});
    auto b = deviceBytes(host.size() * 2, "weights");
    if (!b)
        return std::unexpected(b.error());
    m.data = std::move(*b);
    L4_CUDA_TRY(
        cudaMemcpyAsync(m.data.data(), host.data(), host.size() * 2, cudaMemcpyHostToDevice, stream()),
        "weight upload");
    L4_CUDA_TRY(cudaStreamSynchronize(stream()), "weight upload"); // `host` dies here
    return m;
}

std::expected<DeviceBuffer, Error> Llama4CudaRunner::uploadFloats(const std::vector<float>& v)
{
    auto b = deviceBytes(v.size() * 4, "weights");
    if (!b)
        return std::unexpected(b.error());
    // On the runner's stream (non-blocking: a plain cudaMemcpy on the legacy stream may return before its DMA
    // lands, and nothing orders it with this stream's kernels), then waited for: `v` may be a temporary.
    L4_CUDA_TRY(cudaMemcpyAsync(b->data(), v.data(), v.size() * 4, cudaMemcpyHostToDevice, stream()),
                "upload");
    L4_CUDA_TRY(cudaStreamSynchronize(stream()), "upload");
    return b;
}

// Every expert's gate|up ([2I][dim]) and down ([dim][I]) through a bf16 staging buffer into int4 stacks.
std::expected<void, Error> Llama4CudaRunner::uploadExperts(const Llama4Layer& src, Layer& dst)
{
    const int E = m_c.nExperts, D = m_c.dim, I = m_c.expertDim, G = 128;
    const int n[2] = {2 * I, D}, k[2] = {D, I};
    for (int part = 0; part < 2; ++part) {
        auto q = deviceBytes(int4QBytes(n[part], k[part]) * std::size_t(E), "expert weights");
        auto s = deviceBytes(int4ScaleCount(n[part], k[part], G) * 4 * std::size_t(E), "expert scales");
        auto staging = deviceBytes(std::size_t(n[part]) * std::size_t(k[part]) * 2, "staging");
        if (!q || !s || !staging)
            return std::unexpected(!q ? q.error() : !s ? s.error() : staging.error());
        for (int e = 0; e < E; ++e) {
            const auto host =
                part == 0 ? stackBf16({&src.expertGate[std::size_t(e)], &src.expertUp[std::size_t(e)]})
                          : stackBf16({&src.expertDown[std::size_t(e)]});
            if (host.size() != std::size_t(n[part]) * std::size_t(k[part]))
                return std::unexpected(Error{ErrorCode::Format, "expert weights are misshapen"});
            // The quantize kernel below reads `staging` on the runner's (non-blocking) stream: the copy goes
            // on that stream too, so the kernel is ordered after it.
            L4_CUDA_TRY(cudaMemcpyAsync(staging->data(), host.data(), host.size() * 2, cudaMemcpyHostToDevice,
                                        stream()),
                        "upload");
            L4_CUDA_TRY(
                launchInt4Quantize(
                    static_cast<const std::uint16_t*>(staging->data()), k[part], false, n[part], k[part], G,
                    static_cast<std::uint8_t*>(q->data()) + int4QBytes(n[part], k[part]) * e,
                    static_cast<float*>(s->data()) + int4ScaleCount(n[part], k[part], G) * e, stream()),
                "int4 quantization");
            L4_CUDA_TRY(cudaStreamSynchronize(stream()), "int4 quantization");
        }
        Int4Weights& w = part == 0 ? dst.moeWeights.gateUp : dst.moeWeights.down;
        w = {static_cast<const std::uint8_t*>(q->data()),
             static_cast<const float*>(s->data()),
             n[part],
             k[part],
             G,
             static_cast<long long>(int4QBytes(n[part], k[part])),
             static_cast<long long>(int4ScaleCount(n[part], k[part], G))};
        dst.expertQ[part] = std::move(*q);
        dst.expertScales[part] = std::move(*s);
    }
    auto r = uploadFloats(src.router);
    if (!r)
        return std::unexpected(r.error());
    dst.router = std::move(*r);
    dst.moeWeights.router = static_cast<const float*>(dst.router.data());
    dst.moeWeights.experts = E;
    dst.moeWeights.dim = D;
    dst.moeWeights.expertDim = I;
    return {};
}

std::expected<void, Error> Llama4CudaRunner::init(int maxContext, bool fp8Global, int multiprocessors)
{
    m_multiprocessors = multiprocessors;
    const Llama4Config& c = m_c;
    if (c.expertsPerToken != 1 && std::find(c.moe.begin(), c.moe.end(), 1) != c.moe.end())
        return std::unexpected(
            Error{ErrorCode::Unsupported, "the CUDA backend routes MoE layers top-1 only (this "
                                          "model takes " +
                                              std::to_string(c.expertsPerToken) + ")"});
    if (c.dim % 64 != 0 || c.expertDim % 64 != 0 || c.headDim % 2 != 0 || c.headDim > kNaiveMaxHeadDim)
        return std::unexpected(Error{ErrorCode::Unsupported,
                                     "the CUDA backend needs hidden and expert widths that "
                                     "are multiples of 64"});
    m_maxContext = ((maxContext + kPage - 1) / kPage) * kPage;
    const int kvDim = c.kvDim(), qDim = c.qDim();
    // The widest FFN a layer runs here: the shared expert's width (MoE layers) or the dense MLP's (dense
    // layers). Not the dense width of a model without dense layers: Scout's config names 16384 but never
    // uses it, and 3 x 8192 extra bf16 values per token of an 8192-token pass are 400 MB.
    const bool anyMoe = std::find(c.moe.begin(), c.moe.end(), 1) != c.moe.end();
    const bool anyDense = std::find(c.moe.begin(), c.moe.end(), 0) != c.moe.end();
    m_ffnWidth = std::max(anyMoe ? c.expertDim : 0, anyDense ? c.denseDim : 0);
    m_pass = std::min(kMaxPass, m_maxContext);
    m_ring = c.chunkSize > 0 && c.chunkSize < m_maxContext ? c.chunkSize : m_maxContext;
    m_tiled = c.headDim == 64 || c.headDim == 128;

    auto embed = upload({&m_w.embedding});
    if (!embed)
        return std::unexpected(embed.error());
    m_embed = std::move(embed->data);
    auto head = upload({m_w.lmHead.empty() ? &m_w.embedding : &m_w.lmHead});
    if (!head)
        return std::unexpected(head.error());
    m_lmHeadMatrix = std::move(*head);
    auto outNorm = uploadFloats(m_w.outputNorm);
    auto invFreq = uploadFloats(m_w.ropeFrequencies);
    if (!outNorm || !invFreq)
        return std::unexpected(!outNorm ? outNorm.error() : invFreq.error());
    m_outNorm = std::move(*outNorm);
    m_invFreq = std::move(*invFreq);

    for (int l = 0; l < c.nLayers; ++l) {
        const Llama4Layer& src = m_w.blocks[std::size_t(l)];
        Layer L;
        L.moe = c.moe[std::size_t(l)] != 0;
        L.rope = c.useRope[std::size_t(l)] != 0;
        L.chunked = c.chunked[std::size_t(l)] != 0 && c.chunkSize > 0;
        auto an = uploadFloats(src.attnNorm);
        auto fn = uploadFloats(src.ffnNorm);
        auto qkv = upload({&src.wq, &src.wk, &src.wv});
        auto wo = upload({&src.wo});
        if (!an || !fn || !qkv || !wo)
            return std::unexpected(!an ? an.error() : !fn ? fn.error() : !qkv ? qkv.error() : wo.error());
        L.attnNorm = std::move(*an);
        L.ffnNorm = std::move(*fn);
        L.qkv = std::move(*qkv);
        L.wo = std::move(*wo);
        auto gateUp = L.moe ? upload({&src.sharedGate, &src.sharedUp}) : upload({&src.gate, &src.up});
        auto down = L.moe ? upload({&src.sharedDown}) : upload({&src.down});
        if (!gateUp || !down)
            return std::unexpected(!gateUp ? gateUp.error() : down.error());
        L.gateUp = std::move(*gateUp);
        L.down = std::move(*down);
        if (L.moe)
            L4_TRY(uploadExperts(src, L));

        L.fp8 = !L.chunked && fp8Global;
        if (L.fp8) {
            const std::size_t pages = std::size_t(m_maxContext / kPage);
            auto kc = deviceBytes(pages * kPage * std::size_t(kvDim), "KV cache");
            auto vc = deviceBytes(pages * kPage * std::size_t(kvDim), "KV cache");
            auto ks = deviceBytes(pages * std::size_t(c.nKvHeads) * 4, "KV scales");
            auto vs = deviceBytes(pages * std::size_t(c.nKvHeads) * 4, "KV scales");
            if (!kc || !vc || !ks || !vs)
                return std::unexpected(Error{ErrorCode::OutOfMemory, "KV cache: out of device memory"});
            L.kCache = std::move(*kc);
            L.vCache = std::move(*vc);
            L.kScales = std::move(*ks);
            L.vScales = std::move(*vs);
        } else {
            const std::size_t rows = std::size_t(L.chunked ? m_ring : m_maxContext);
            auto kc = deviceBytes(rows * std::size_t(kvDim) * 2, "KV cache");
            auto vc = deviceBytes(rows * std::size_t(kvDim) * 2, "KV cache");
            if (!kc || !vc)
                return std::unexpected(!kc ? kc.error() : vc.error());
            L.kCache = std::move(*kc);
            L.vCache = std::move(*vc);
        }
        m_layers.push_back(std::move(L));
    }

    const bool anyFp8 = std::any_of(m_layers.begin(), m_layers.end(), [](const Layer& L) { return L.fp8; });
    const std::size_t B = std::size_t(m_pass), Dm = std::size_t(c.dim);
    struct Want {
        DeviceBuffer* buf;
        std::size_t bytes;
    };
    const Want wants[] = {
        {&m_x, B * Dm * 4},
        {&m_xn, B * Dm * 2},
        {&m_qkv, B * std::size_t(qDim + 2 * kvDim) * 2},
        {&m_att, B * std::size_t(qDim) * 2},
        {&m_delta, B * Dm * 2},
        {&m_gu, B * std::size_t(2 * m_ffnWidth) * 2},
        {&m_h, B * std::size_t(m_ffnWidth) * 2},
        {&m_shared, B * Dm * 2},
        {&m_ffn, B * Dm * 2},
        {&m_logits, std::size_t(kLogitRows) * std::size_t(c.vocabSize) * 4},
        {&m_step, (3 * B + 2) * 4},
        {&m_moeScratch, moeScratchBytes(moeScratchRows(), std::max(c.nExperts, 1), c.dim, std::max(c.expertDim, 8))},
        {&m_moeWide, anyMoe && m_pass >= kMoeWideTokens ? moeWideWeightBytes(c.dim, c.expertDim) : 0},
        // Only with fp8 pages: prefill reads a global layer's keys and values through this bf16 copy, and
        // decode keeps its split partials here (the bf16 caches need neither).
        {&m_gatherK, anyFp8 ? std::size_t(m_maxContext) * std::size_t(kvDim) * 2 : 0},
        {&m_gatherV, anyFp8 ? std::size_t(m_maxContext) * std::size_t(kvDim) * 2 : 0},
        {&m_fp8Workspace, anyFp8 ? fp8DecodeWorkspaceBytes(1, c.nHeads, c.headDim, m_maxContext) : 0},
    };
    for (const Want& want : wants) {
        auto b = deviceBytes(want.bytes, "activations");
        if (!b)
            return std::unexpected(b.error());
        *want.buf = std::move(*b);
    }
    m_stepHost.assign(3 * B + 2, 0);
    if (anyMoe && m_pass >= kMoeWideTokens) {
        std::int32_t* counts = nullptr;
        L4_CUDA_TRY(cudaMallocHost(&counts, std::size_t(std::max(c.nExperts, 1)) * 4), "pinned counts");
        m_moeCountsHost.reset(counts);
    }
    // Identity page tables: the fp8 pools, and the tiled decode kernel's view of a contiguous bf16 cache.
    for (const auto& [buf, pages] : {std::pair{&m_pageTable, m_maxContext / kPage},
                                     std::pair{&m_bf16Table, (m_maxContext + kBf16Page - 1) / kBf16Page}}) {
        std::vector<std::int32_t> table(std::size_t(std::max(pages, 1)));
        for (std::size_t p = 0; p < table.size(); ++p)
            table[p] = std::int32_t(p);
        auto t = deviceBytes(table.size() * 4, "page table");
        if (!t)
            return std::unexpected(t.error());
        *buf = std::move(*t);
        L4_CUDA_TRY(
            cudaMemcpyAsync(buf->data(), table.data(), table.size() * 4, cudaMemcpyHostToDevice, stream()),
            "upload");
        L4_CUDA_TRY(cudaStreamSynchronize(stream()), "upload"); // `table` dies here
    }
    if (m_tiled) {
        // Splits sized for the span each layer reads: the whole context (global layers), or the ring (chunked
        // layers: split for the context, a ring of 8192 would make one block per KV head).
        m_splitTokens = decodeSplitTokens(1, c.nKvHeads, m_maxContext, 0, m_multiprocessors);
        m_splitTokensRing = decodeSplitTokens(1, c.nKvHeads, m_ring, 0, m_multiprocessors);
        auto ws =
            deviceBytes(std::max(decodeWorkspaceBytes(1, c.nHeads, c.headDim, m_maxContext, 0, m_splitTokens),
                                 decodeWorkspaceBytes(1, c.nHeads, c.headDim, m_ring, 0, m_splitTokensRing)),
                        "attention workspace");
        if (!ws)
            return std::unexpected(ws.error());
        m_decodeWorkspace = std::move(*ws);
    }
    L4_CUDA_TRY(cudaStreamSynchronize(stream()), "model upload");
    return {};
}

} // namespace l4cuda

using namespace l4cuda;

std::expected<std::unique_ptr<Runner>, Error>
makeLlama4CudaRunner(std::shared_ptr<const ModelWeights> weights, const RunnerOptions& options)
{
    if (!weights || !asLlama4(*weights))
        return std::unexpected(Error{ErrorCode::InvalidArgument, "not a Llama 4 model"});
    if (deviceCount() == 0)
        return std::unexpected(Error{ErrorCode::Device, "the CUDA backend found no CUDA device"});
    L4_CUDA_TRY(cudaSetDevice(0), "cudaSetDevice");
    auto stream = Stream::create();
    if (!stream)
        return std::unexpected(stream.error());
    auto blas = Blas::create();
    if (!blas)
        return std::unexpected(blas.error());
    // The memory plan of what this runner allocates (llama4_memory_plan.h) for the device's free memory:
    // the default context is the longest that fits, and a longer request is refused with the numbers
    // before anything is uploaded.
    const Llama4Config& config = asLlama4(*weights)->llama4;
    std::size_t freeBytes = 0, totalBytes = 0;
    L4_CUDA_TRY(cudaMemGetInfo(&freeBytes, &totalBytes), "cudaMemGetInfo");
    Llama4MemoryPlanOptions planOptions;
    const auto fp8Global = fp8GlobalKv(config, options.kvDtype);
    if (!fp8Global)
        return std::unexpected(fp8Global.error());
    // A budget (RunnerOptions::deviceMemoryBudget) stands for the free memory when it is smaller.
    planOptions.deviceFreeBytes = budgetedFreeBytes(freeBytes, options.deviceMemoryBudget);
    planOptions.globalKvBytes = *fp8Global ? 1 : 2;
    const Llama4MemoryPlan plan = planLlama4Memory(config, planOptions);
    const std::int64_t fits = config.contextLength > 0
                                  ? std::min<std::int64_t>(plan.maxContextGpu, config.contextLength)
                                  : plan.maxContextGpu;
    const std::int64_t wanted =
        options.maxContext > 0 ? options.maxContext : std::min<std::int64_t>(fits, 1 << 30);
    if (auto ok = checkLlama4Context(plan, std::max<std::int64_t>(wanted, 1)); !ok)
        return std::unexpected(ok.error());
    const int maxContext = int(wanted);
    if (maxContext <= 0)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "the model names no context length"});
    auto info = deviceInfo(0);
    if (!info)
        return std::unexpected(info.error());
    auto runner =
        std::make_unique<Llama4CudaRunner>(std::move(weights), std::move(*stream), std::move(*blas));
    if (auto ok = runner->init(maxContext, *fp8Global, info->multiprocessors); !ok)
        return std::unexpected(ok.error());
    return runner;
}

} // namespace quire::inference::cuda
