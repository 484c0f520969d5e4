// The dense Llama runner of the CUDA backend (see quire/inference/cuda/backend.h): its declaration,
// shared by llama_cuda.cpp (loading, the factory, the backend) and llama_cuda_forward.cpp (the forward
// pass).
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
#pragma once

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

namespace quire::inference::cuda::llamacuda {

constexpr int kMaxChunk = 256; // tokens per forward pass over the layers (bounds the activations)
constexpr int kCachePage = 64; // the decode kernel's view of the contiguous cache: identity pages

inline Error cudaFailure(cudaError_t e, const std::string& what)
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

} // namespace quire::inference::cuda::llamacuda
