// The Llama 4 CUDA runner's forward pass (attention, the layers, the LM head) and its KV export/import;
// the runner, its loading and the factory: llama4_cuda.cpp.

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "kv_copy.h"
#include "llama4_cuda_runner.h"
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
#include "quire/inference/llama4.h"

namespace quire::inference::cuda::l4cuda {

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
            const auto scratch = moeScratchAt(m_moeScratch.data(), moeScratchRows(), c.nExperts, D, c.expertDim);
            if (T >= kMoeWideTokens && m_moeCountsHost) {
                const MoeWideBuffers wide{static_cast<std::uint16_t*>(m_moeWide.data()), m_moeCountsHost.get()};
                L4_TRY(moeRoutedWide(L.moeWeights, xn, D, T, shared, ffn, nullptr, scratch, wide, m_blas, s));
            } else {
                L4_CUDA_TRY(launchMoeRouted(L.moeWeights, xn, D, T, shared, ffn, nullptr, scratch, s), "MoE");
            }
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
    return llama4KvLayout(m_c, KvDtype::BF16);
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

} // namespace quire::inference::cuda::l4cuda
