// The Llama 4 CUDA runner's declaration, shared by llama4_cuda.cpp (loading, the memory plan, the factory)
// and llama4_cuda_forward.cpp (the forward pass and KV export). Private to the CUDA backend; see
// llama4_cuda.cpp for what the runner computes.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quire/inference/backend.h"
#include "quire/inference/cuda/blas.h"
#include "quire/inference/cuda/device.h"
#include "quire/inference/cuda/kernels/moe.cuh"
#include "quire/inference/cuda/moe_wide.h"
#include "quire/inference/cuda/stream.h"
#include "quire/inference/llama4.h"

namespace quire::inference::cuda::l4cuda {

constexpr int kMaxPass = 8192;  // tokens per pass over the layers (at most)
constexpr int kLogitRows = 256; // rows of logits computed per LM-head product
constexpr int kPage = 128;      // tokens per fp8 KV page
constexpr int kBf16Page = 64;   // the tiled decode kernel's view of a contiguous bf16 cache

// A Device error naming `what` (clears CUDA's sticky last error).
Error cudaFailure(cudaError_t e, const std::string& what);

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
    // Wide MoE passes (moe_wide.h): one expert expanded to bf16, and the per-expert row counts (pinned).
    struct PinnedFree {
        void operator()(std::int32_t* p) const { cudaFreeHost(p); }
    };
    DeviceBuffer m_moeWide;
    std::unique_ptr<std::int32_t, PinnedFree> m_moeCountsHost;
    int moeScratchRows() const { return m_pass + kMoeWideRowQuantum; }
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

} // namespace quire::inference::cuda::l4cuda
