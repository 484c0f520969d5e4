// The dense Llama runner's forward pass on the GPU (llama_cuda_runner.h): the products, the layers, and a
// chunk of tokens through them.
#include "llama_cuda_runner.h"

namespace quire::inference::cuda::llamacuda {

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

} // namespace quire::inference::cuda::llamacuda
