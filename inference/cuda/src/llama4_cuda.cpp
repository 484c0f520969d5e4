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

namespace {

constexpr int kMaxPass = 8192;  // tokens per pass over the layers (at most)
constexpr int kLogitRows = 256; // rows of logits computed per LM-head product
constexpr int kPage = 128;      // tokens per fp8 KV page
constexpr int kBf16Page = 64;   // the tiled decode kernel's view of a contiguous bf16 cache

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

Error cudaFailure(cudaError_t e, const std::string& what)
{
    cudaGetLastError();
    return Error{ErrorCode::Device, what + ": " + cudaGetErrorString(e)};
}

#define L4_CUDA_TRY(expr, what)                                                                              \
    do {                                                                                                     \
        if (const cudaError_t l4Err = (expr); l4Err != cudaSuccess)                                          \
            return std::unexpected(cudaFailure(l4Err, what));                                                \
    } while (0)

#define L4_TRY(expr)                                                                                         \
    do {                                                                                                     \
        if (auto l4Result = (expr); !l4Result)                                                               \
            return std::unexpected(std::move(l4Result).error());                                             \
    } while (0)

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

struct Bf16Matrix {
    int n = 0, k = 0;
    DeviceBuffer data;
};

struct Layer {
    bool moe = false, rope = false, chunked = false;
    DeviceBuffer attnNorm, ffnNorm;
    Bf16Matrix qkv, wo;
    Bf16Matrix gateUp, down;                          // shared expert (MoE layers) or the dense MLP
    DeviceBuffer router, expertQ[2], expertScales[2]; // [0] gate|up, [1] down
    MoeLayerWeights moeWeights;
    // KV: bf16 [maxContext][kvDim] (chunked layers, or global ones with a bf16 KV dtype);
    // fp8 pages for global layers.
    DeviceBuffer kCache, vCache, kScales, vScales;
    bool fp8 = false;
};

class Llama4CudaRunner final : public Runner {
public:
    Llama4CudaRunner(std::shared_ptr<const ModelWeights> weights, Stream stream, Blas blas)
        : m_weights(std::move(weights)), m_w(*asLlama4(*m_weights)), m_c(m_w.llama4),
          m_stream(std::move(stream)), m_blas(std::move(blas))
    {
    }

    std::string_view backendName() const override { return "cuda"; }
    int position() const override { return m_pos; }
    int maxContext() const override { return m_maxContext; }
    // The chunked layers' ring holds only the current chunk: going back into an earlier chunk, other than
    // to its start, leaves keys the ring no longer has; the next forward() then says so.
    void truncate(int position) override
    {
        position = std::clamp(position, 0, m_pos);
        // Resumable: a chunk start (the ring starts afresh), or a position inside the chunk the ring holds.
        // Decided against the chunk the ring holds (m_ringChunk), not the one of m_pos: m_pos may sit at the
        // next chunk's start while the ring still holds the previous chunk, and a second truncate after a
        // refused one must be judged the same way.
        if (m_ring < m_maxContext)
            m_ringLost = position % m_ring == 0 || position / m_ring == m_ringChunk ? -1 : position;
        m_pos = position;
    }

    std::expected<void, Error> init(int maxContext, bool fp8Global, int multiprocessors);

    // KV export and import (bf16 caches only: fp8 pages with per-page scales are not exported). Chunked
    // layers hold the chunk of position() - 1 (ring rows from the chunk's start), global layers every
    // position.
    std::expected<KvLayout, Error> kvLayout() const override;
    std::expected<void, Error> readKv(int layer, int begin, int end, std::span<std::byte> k,
                                      std::span<std::byte> v) const override;
    std::expected<void, Error> appendUncomputed(std::span<const std::int32_t> tokens) override;
    std::expected<void, Error> writeKv(int layer, int begin, int end, std::span<const std::byte> k,
                                       std::span<const std::byte> v) override;
    std::expected<void, Error> forward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                       bool allLogits) override;

private:
    cudaStream_t stream() const { return m_stream.get(); }
    std::expected<Bf16Matrix, Error> upload(const std::vector<const WeightMatrix*>& parts);
    std::expected<DeviceBuffer, Error> uploadFloats(const std::vector<float>& v);
    std::expected<void, Error> uploadExperts(const Llama4Layer& src, Layer& dst);
    std::expected<void, Error> gemm(const Bf16Matrix& w, const void* x, void* y, int T,
                                    GemmOut out = GemmOut::Bf16)
    {
        return m_blas.gemm(x, w.data.data(), y, T, w.n, w.k, out, stream());
    }
    std::expected<void, Error> runLayers(int T, bool allRows, float* logitsOut);
    std::expected<void, Error> attention(const Layer& L, int T);
    // Checks a KV copy and gives the cache row of position `begin` in `layer`.
    std::expected<std::size_t, Error> kvRow(int layer, int begin, int end, std::size_t kBytes,
                                            std::size_t vBytes) const;

    std::shared_ptr<const ModelWeights> m_weights;
    const Llama4Weights& m_w;
    const Llama4Config& m_c;
    Stream m_stream;
    Blas m_blas;
    int m_maxContext = 0;
    int m_pos = 0;
    int m_ffnWidth = 0;   // the widest FFN (expert and shared width, or the dense width)
    int m_pass = 0;       // tokens per pass
    int m_ring = 0;       // rows of a chunked layer's cache (the chunk, or the whole context)
    bool m_tiled = false; // head dim 64 or 128: the tiled attention kernels
    int m_splitTokens = 0;
    int m_multiprocessors = 0;
    int m_ringLost = -1;       // a truncation position the ring cannot resume from, or -1
    int m_ringChunk = -1;      // the attention chunk whose keys the ring holds (-1: none yet)
    int m_splitTokensRing = 0; // the tiled decode kernel's split for the ring (the chunk, not the context)

    std::vector<Layer> m_layers;
    DeviceBuffer m_embed, m_outNorm, m_invFreq, m_pageTable;
    Bf16Matrix m_lmHeadMatrix;
    // Activations for up to m_pass tokens, scratch and step inputs.
    DeviceBuffer m_x, m_xn, m_qkv, m_att, m_delta, m_gu, m_h, m_shared, m_ffn, m_logits, m_step, m_moeScratch;
    DeviceBuffer m_gatherK, m_gatherV, m_fp8Workspace, m_decodeWorkspace, m_bf16Table;
    std::vector<std::int32_t> m_stepHost;

    // Step inputs: ids, absolute positions, positions within the chunk ring [m_pass each], then the
    // sequence length and the length within the ring.
    const std::int32_t* ids() const { return static_cast<const std::int32_t*>(m_step.data()); }
    const std::int32_t* positions() const { return ids() + m_pass; }
    const std::int32_t* ringPositions() const { return ids() + 2 * m_pass; }
    const std::int32_t* seqLen() const { return ids() + 3 * m_pass; }
    const std::int32_t* ringLen() const { return ids() + 3 * m_pass + 1; }
    // The absolute position of the ring's row 0 for the current pass.
    int ringStart() const { return m_ring < m_maxContext ? (m_pos / m_ring) * m_ring : 0; }
};

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
        {&m_moeScratch, moeScratchBytes(m_pass, std::max(c.nExperts, 1), c.dim, std::max(c.expertDim, 8))},
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

std::expected<void, Error> Llama4CudaRunner::attention(const Layer& L, int T)
{
    const Llama4Config& c = m_c;
    cudaStream_t s = stream();
    const int qDim = c.qDim(), kvDim = c.kvDim(), qkvDim = qDim + 2 * kvDim;
    auto* qkv = static_cast<std::uint16_t*>(m_qkv.data());
    auto* att = static_cast<std::uint16_t*>(m_att.data());
    const float scale = 1.0f / std::sqrt(float(c.headDim));

    // Keys and values of this pass's queries: (k, v, rows held, position of row 0, chunk rule).
    const std::uint16_t *keys = nullptr, *values = nullptr;
    int base = 0; // absolute position of row 0 of keys/values
    if (L.fp8) {
        Fp8KvCache cache{static_cast<std::uint8_t*>(L.kCache.data()),
                         static_cast<std::uint8_t*>(L.vCache.data()),
                         static_cast<float*>(L.kScales.data()),
                         static_cast<float*>(L.vScales.data()),
                         kPage,
                         c.nKvHeads,
                         c.headDim};
        const auto* table = static_cast<const std::int32_t*>(m_pageTable.data());
        L4_CUDA_TRY(
            launchKvFp8Append(cache, table, m_pos, T, qkv + qDim, qkvDim, qkv + qDim + kvDim, qkvDim, s),
            "fp8 KV append");
        if (T == 1) {
            Fp8DecodeAttention d;
            d.q = qkv; // one row: the q heads come first
            d.cache = cache;
            d.pageTable = table;
            d.seqLens = seqLen();
            d.out = att;
            d.batch = 1;
            d.numQHeads = c.nHeads;
            d.maxPagesPerSeq = m_maxContext / kPage;
            // The grid covers the splits of the keys held now, not of the whole context: with a long context
            // and a short sequence nearly every block would exit at once (no CUDA graph here, so the host
            // knows the length; the workspace is sized for the whole context).
            d.maxSeqLen = m_pos + T;
            d.scale = scale;
            d.workspace = static_cast<float*>(m_fp8Workspace.data());
            L4_CUDA_TRY(launchAttentionDecodeFp8(d, s), "fp8 decode attention");
            return {};
        }
        auto* gk = static_cast<std::uint16_t*>(m_gatherK.data());
        auto* gv = static_cast<std::uint16_t*>(m_gatherV.data());
        L4_CUDA_TRY(launchKvFp8Gather(cache, table, m_pos + T, gk, gv, s), "fp8 KV gather");
        keys = gk;
        values = gv;
    } else {
        // A chunked layer's ring holds the current chunk from row 0 (a pass stays inside one chunk); a
        // global layer's bf16 cache holds every position.
        auto* kc = static_cast<std::uint16_t*>(L.kCache.data());
        auto* vc = static_cast<std::uint16_t*>(L.vCache.data());
        const bool ring = L.chunked && m_ring < m_maxContext;
        L4_CUDA_TRY(launchKvAppend(qkv + qDim, qkv + qDim + kvDim, qkvDim, kc, vc, kvDim,
                                   ring ? ringPositions() : positions(), T, s),
                    "KV append");
        keys = kc;
        values = vc;
        base = ring ? ringStart() : 0;
    }
    // Within [base, m_pos + T): a chunked layer's keys are those of the query's chunk; with a ring every
    // held key is in it, otherwise the kernels apply the chunk rule on absolute positions.
    const bool ringRows = base > 0 || (L.chunked && m_ring < m_maxContext);
    const int chunkRule = L.chunked && !ringRows ? c.chunkSize : 0;
    const int held = m_pos + T - base;
    if (m_tiled && T == 1) {
        DecodeAttention a;
        a.q = qkv;
        a.kCache = keys;
        a.vCache = values;
        a.pageTable = static_cast<const std::int32_t*>(m_bf16Table.data());
        a.seqLens = ringRows ? ringLen() : seqLen();
        a.out = att;
        a.batch = 1;
        a.numQHeads = c.nHeads;
        a.numKvHeads = c.nKvHeads;
        a.headDim = c.headDim;
        a.pageSize = kBf16Page;
        a.maxPagesPerSeq = (m_maxContext + kBf16Page - 1) / kBf16Page;
        a.maxSeqLen = held; // the keys held now (see the fp8 decode above)
        a.chunkSize = chunkRule;
        a.splitTokens = ringRows ? m_splitTokensRing : m_splitTokens;
        a.scale = scale;
        a.workspace = static_cast<float*>(m_decodeWorkspace.data());
        L4_CUDA_TRY(launchAttentionDecode(a, s), "decode attention");
    } else if (m_tiled) {
        PrefillAttention a;
        a.q = qkv;
        a.k = keys;
        a.v = values;
        a.o = att;
        a.qStride = qkvDim;
        a.kStride = a.vStride = kvDim;
        a.oStride = qDim;
        a.lq = T;
        a.lkv = held;
        a.qPosOffset = m_pos - base;
        a.numQHeads = c.nHeads;
        a.numKvHeads = c.nKvHeads;
        a.headDim = c.headDim;
        a.chunkSize = chunkRule;
        a.scale = scale;
        L4_CUDA_TRY(launchAttentionPrefill(a, s), "prefill attention");
    } else {
        NaiveAttention a;
        a.q = qkv;
        a.k = keys;
        a.v = values;
        a.o = att;
        a.qStride = qkvDim;
        a.kStride = a.vStride = kvDim;
        a.oStride = qDim;
        a.lq = T;
        a.positions = ringRows ? ringPositions() : positions();
        a.numQHeads = c.nHeads;
        a.numKvHeads = c.nKvHeads;
        a.headDim = c.headDim;
        a.chunkSize = chunkRule;
        a.scale = scale;
        L4_CUDA_TRY(launchAttentionNaive(a, s), "attention");
    }
    return {};
}

std::expected<void, Error> Llama4CudaRunner::runLayers(int T, bool allRows, float* logitsOut)
{
    const Llama4Config& c = m_c;
    cudaStream_t s = stream();
    const int qDim = c.qDim(), kvDim = c.kvDim(), qkvDim = qDim + 2 * kvDim, D = c.dim;
    auto* x = static_cast<float*>(m_x.data());
    auto* xn = static_cast<std::uint16_t*>(m_xn.data());
    auto* qkv = static_cast<std::uint16_t*>(m_qkv.data());
    auto* delta = static_cast<std::uint16_t*>(m_delta.data());
    auto* gu = static_cast<std::uint16_t*>(m_gu.data());
    auto* h = static_cast<std::uint16_t*>(m_h.data());
    auto* shared = static_cast<std::uint16_t*>(m_shared.data());
    auto* ffn = static_cast<std::uint16_t*>(m_ffn.data());

    L4_CUDA_TRY(launchEmbeddingGather(m_embed.data(), true, c.vocabSize, D, ids(), T, x, s), "embedding");
    const std::uint16_t* prevDelta = nullptr;
    for (const Layer& L : m_layers) {
        L4_CUDA_TRY(launchRmsNormResidual(x, prevDelta, static_cast<const float*>(L.attnNorm.data()), xn, T,
                                          D, c.rmsEps, s),
                    "rmsnorm");
        L4_TRY(gemm(L.qkv, xn, qkv, T));
        if (L.rope) { // RoPE first, then the QK norm (spec 6.2), over the q and the k heads
            L4_CUDA_TRY(launchRope(qkv, T, c.nHeads + c.nKvHeads, c.headDim, qkvDim, positions(),
                                   static_cast<const float*>(m_invFreq.data()), RopeMode::InterleavedPairs,
                                   s),
                        "rope");
            if (c.qkNorm)
                L4_CUDA_TRY(launchHeadRmsNorm(qkv, T, c.nHeads + c.nKvHeads, c.headDim, qkvDim, c.rmsEps, s),
                            "QK norm");
        } else if (c.temperatureTuning) {
            L4_CUDA_TRY(launchQueryTemperature(qkv, T, c.nHeads, c.headDim, qkvDim, positions(), c.attnScale,
                                               c.floorScale, s),
                        "temperature");
        }
        L4_TRY(attention(L, T));
        L4_TRY(gemm(L.wo, m_att.data(), delta, T));
        L4_CUDA_TRY(launchRmsNormResidual(x, delta, static_cast<const float*>(L.ffnNorm.data()), xn, T, D,
                                          c.rmsEps, s),
                    "rmsnorm");
        const int width = L.gateUp.n / 2;
        L4_TRY(gemm(L.gateUp, xn, gu, T));
        L4_CUDA_TRY(launchSwiGlu(gu, 2 * width, gu + width, 2 * width, h, width, T, width, s), "swiglu");
        if (L.moe) {
            L4_TRY(gemm(L.down, h, shared, T));
            const auto scratch = moeScratchAt(m_moeScratch.data(), m_pass, c.nExperts, D, c.expertDim);
            L4_CUDA_TRY(launchMoeRouted(L.moeWeights, xn, D, T, shared, ffn, nullptr, scratch, s), "MoE");
            prevDelta = ffn;
        } else {
            L4_TRY(gemm(L.down, h, delta, T));
            prevDelta = delta;
        }
    }
    if (!logitsOut)
        return {};
    // The LM head over the last row (or every row), kLogitRows rows per product, each block downloaded.
    const int rows = allRows ? T : 1;
    const std::size_t first = allRows ? 0 : std::size_t(T - 1), V = std::size_t(c.vocabSize);
    L4_CUDA_TRY(launchRmsNormResidual(x + first * std::size_t(D), prevDelta + first * std::size_t(D),
                                      static_cast<const float*>(m_outNorm.data()), xn, rows, D, c.rmsEps, s),
                "rmsnorm");
    for (int r0 = 0; r0 < rows; r0 += kLogitRows) {
        const int n = std::min(kLogitRows, rows - r0);
        L4_TRY(gemm(m_lmHeadMatrix, xn + std::size_t(r0) * std::size_t(D), m_logits.data(), n, GemmOut::F32));
        L4_CUDA_TRY(cudaMemcpyAsync(logitsOut + std::size_t(r0) * V, m_logits.data(), std::size_t(n) * V * 4,
                                    cudaMemcpyDeviceToHost, s),
                    "logits download");
    }
    return {};
}

std::expected<KvLayout, Error> Llama4CudaRunner::kvLayout() const
{
    if (std::any_of(m_layers.begin(), m_layers.end(), [](const Layer& L) { return L.fp8; }))
        return std::unexpected(
            Error{ErrorCode::Unsupported,
                  "the cuda backend does not export fp8 KV pages (per-page scales) of the global "
                  "layers; create the runner with the bf16 KV dtype to export or import KV"});
    KvLayout l;
    l.dtype = KvDtype::BF16;
    l.nLayers = m_c.nLayers;
    l.nKvHeads = m_c.nKvHeads;
    l.headDim = m_c.headDim;
    if (m_c.chunkSize > 0 && m_c.chunkedLayerCount() > 0) {
        l.chunkSize = m_c.chunkSize;
        l.chunked = m_c.chunked;
    }
    return l;
}

std::expected<std::size_t, Error> Llama4CudaRunner::kvRow(int layer, int begin, int end, std::size_t kBytes,
                                                          std::size_t vBytes) const
{
    if (auto layout = kvLayout(); !layout)
        return std::unexpected(layout.error());
    if (m_ringLost >= 0)
        return std::unexpected(Error{ErrorCode::InvalidArgument,
                                     "KV copy: the context was cut back inside an "
                                     "earlier attention chunk whose keys are gone"});
    const std::size_t row = std::size_t(m_c.kvDim()) * 2;
    if (auto ok = checkKvCopy(layer, m_c.nLayers, begin, end, m_pos, kBytes, vBytes, row); !ok)
        return std::unexpected(ok.error());
    const Layer& L = m_layers[std::size_t(layer)];
    if (!L.chunked || end == begin)
        return std::size_t(begin);
    const int chunkStart = (m_pos - 1) / m_c.chunkSize * m_c.chunkSize;
    if (begin < chunkStart)
        return std::unexpected(Error{ErrorCode::InvalidArgument,
                                     "KV copy: chunked layer " + std::to_string(layer) +
                                         " holds only positions from " + std::to_string(chunkStart)});
    return std::size_t(m_ring < m_maxContext ? begin - chunkStart : begin);
}

std::expected<void, Error> Llama4CudaRunner::readKv(int layer, int begin, int end, std::span<std::byte> k,
                                                    std::span<std::byte> v) const
{
    const auto row = kvRow(layer, begin, end, k.size(), v.size());
    if (!row)
        return std::unexpected(row.error());
    const Layer& L = m_layers[std::size_t(layer)];
    const std::size_t at = *row * std::size_t(m_c.kvDim()) * 2;
    L4_TRY(copyKv(k.data(), static_cast<const std::byte*>(L.kCache.data()) + at, k.size(),
                  cudaMemcpyDeviceToHost, stream()));
    return copyKv(v.data(), static_cast<const std::byte*>(L.vCache.data()) + at, v.size(),
                  cudaMemcpyDeviceToHost, stream());
}

std::expected<void, Error> Llama4CudaRunner::appendUncomputed(std::span<const std::int32_t> tokens)
{
    if (auto layout = kvLayout(); !layout)
        return std::unexpected(layout.error());
    if (m_ringLost >= 0)
        return std::unexpected(Error{ErrorCode::InvalidArgument,
                                     "KV import: the context was cut back inside an earlier attention chunk; "
                                     "truncate to " +
                                         std::to_string((m_pos / m_ring) * m_ring) + " first"});
    if (auto ok = checkAppend(tokens, m_pos, m_maxContext, m_c.vocabSize); !ok)
        return ok;
    m_pos += int(tokens.size());
    // The caller writes the chunked layers' keys of the last chunk: the ring holds that chunk from now on.
    if (m_ring < m_maxContext && m_pos > 0)
        m_ringChunk = (m_pos - 1) / m_ring;
    return {};
}

std::expected<void, Error> Llama4CudaRunner::writeKv(int layer, int begin, int end,
                                                     std::span<const std::byte> k,
                                                     std::span<const std::byte> v)
{
    const auto row = kvRow(layer, begin, end, k.size(), v.size());
    if (!row)
        return std::unexpected(row.error());
    Layer& L = m_layers[std::size_t(layer)];
    const std::size_t at = *row * std::size_t(m_c.kvDim()) * 2;
    L4_TRY(copyKv(static_cast<std::byte*>(L.kCache.data()) + at, k.data(), k.size(), cudaMemcpyHostToDevice,
                  stream()));
    return copyKv(static_cast<std::byte*>(L.vCache.data()) + at, v.data(), v.size(), cudaMemcpyHostToDevice,
                  stream());
}

std::expected<void, Error> Llama4CudaRunner::forward(std::span<const std::int32_t> tokens,
                                                     std::span<float> logits, bool allLogits)
{
    const int total = int(tokens.size());
    const std::size_t V = std::size_t(m_c.vocabSize);
    if (total == 0)
        return {};
    if (m_pos + total > m_maxContext)
        return std::unexpected(
            Error{ErrorCode::OutOfMemory, "the context would hold " + std::to_string(m_pos + total) +
                                              " tokens; the KV cache holds " + std::to_string(m_maxContext)});
    if (m_ringLost >= 0)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument,
                  "the context was cut back to token " + std::to_string(m_pos) +
                      ", inside an earlier attention chunk whose keys are gone; truncate to " +
                      std::to_string((m_pos / m_ring) * m_ring) + " and feed the rest again"});
    // The embedding kernel would give a zero row for an id outside the table: refuse it, as the dense runner
    // does.
    if (auto ok = checkAppend(tokens, m_pos, m_maxContext, m_c.vocabSize); !ok)
        return ok;
    if (!logits.empty() && logits.size() < (allLogits ? std::size_t(total) : 1) * V)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "the logits buffer is too small"});
    cudaStream_t s = stream();
    const bool allRows = allLogits && !logits.empty();
    for (int done = 0; done < total;) {
        // A pass stays inside one attention chunk when the chunked layers keep a ring.
        int T = std::min(m_pass, total - done);
        if (m_ring < m_maxContext)
            T = std::min(T, m_ring - m_pos % m_ring);
        const int start = ringStart();
        for (int t = 0; t < T; ++t) {
            m_stepHost[std::size_t(t)] = tokens[std::size_t(done + t)];
            m_stepHost[std::size_t(m_pass + t)] = m_pos + t;
            m_stepHost[std::size_t(2 * m_pass + t)] = m_pos + t - start;
        }
        m_stepHost[std::size_t(3 * m_pass)] = m_pos + T;
        m_stepHost[std::size_t(3 * m_pass + 1)] = m_pos + T - start;
        L4_CUDA_TRY(cudaMemcpyAsync(m_step.data(), m_stepHost.data(), m_stepHost.size() * 4,
                                    cudaMemcpyHostToDevice, s),
                    "step upload");
        const bool last = done + T == total;
        float* out = logits.empty() || !(allRows || last)
                         ? nullptr
                         : logits.data() + (allRows ? std::size_t(done) * V : 0);
        L4_TRY(runLayers(T, allRows, out));
        L4_CUDA_TRY(cudaStreamSynchronize(s), "forward");
        if (m_ring < m_maxContext)
            m_ringChunk = (m_pos + T - 1) / m_ring;
        m_pos += T;
        done += T;
    }
    return {};
}

} // namespace

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
