// BENCH scout_prefill_8k, scout_prefill_64k, scout_decode_8k, scout_decode_128k: Llama 4 Scout's layer
// stack at its real shapes with random weights generated on the device, held as the CUDA runner holds
// Scout's: routed experts int4 (group 128), attention projections, the shared expert and the LM head bf16,
// the router f32; chunked RoPE layers
// keep a bf16 ring of one 8192-token chunk, global NoPE layers an fp8 e4m3 paged KV with per-page scales.
//
// By default 8 of the 48 layers are built (6 chunked, 2 global: Scout's 3:1 schedule) and the layer time is
// scaled linearly to 48 (the output says so); `bench_scout --layers 48` builds the whole stack (about
// 76 GB). What one layer runs: RMSNorm (+ residual), the fused QKV product (cuBLAS), interleaved RoPE
// (chunked layers), the KV write (ring copy or fp8 append), attention (flash prefill over the chunk, or over
// every earlier token gathered from the fp8 pages for global layers; split-K decode over the ring or the
// fp8 pages), the output product, RMSNorm, the shared expert (cuBLAS), routing, the routed experts (int4
// GEMVs in decode; for an 8K chunk, each expert expanded to bf16 and multiplied by cuBLAS, moe_wide.h) and
// the combination. Not run: the QK norm and the NoPE temperature scale
// (elementwise, well under 1% of a layer), the embedding lookup. Prefill ends with the LM head of the last
// token, decode with the LM head of its token.
//
// Baselines measured in the same run: prefill's ratio is MFU, useful FLOPs (projections, experts, router,
// causal attention pairs) per second over the best bf16 cuBLAS 8192^3 GEMM; decode's ratio is the fraction
// of the bandwidth bound, the bytes a step must read (active weights: attention, one routed expert, the
// shared expert, the router, the LM head; the visible KV) over a device-to-device cudaMemcpy's rate.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "quire/inference/cuda/blas.h"
#include "quire/inference/cuda/kernels/attention_decode.cuh"
#include "quire/inference/cuda/kernels/attention_prefill.cuh"
#include "quire/inference/cuda/kernels/int4.cuh"
#include "quire/inference/cuda/kernels/kv_fp8.cuh"
#include "quire/inference/cuda/kernels/model_ops.cuh"
#include "quire/inference/cuda/kernels/moe.cuh"
#include "quire/inference/cuda/kernels/rmsnorm.cuh"
#include "quire/inference/cuda/kernels/rope.cuh"
#include "quire/inference/cuda/kernels/swiglu.cuh"
#include "quire/inference/cuda/moe_wide.h"
#include "quire/inference/cuda/stream.h"
#include "quire/inference/llama4.h"
#include "quire/inference/llama4_memory_plan.h"

using namespace quire::gpubench;
namespace qc = quire::inference::cuda;
namespace inf = quire::inference;

namespace {

constexpr int D = 5120, H = 40, G = 8, HD = 128, QKV = (H + 2 * G) * HD, I = 8192, E = 16, V = 202048;
constexpr int kChunk = 8192, kPage = 128, kRingPages = kChunk / kPage;
constexpr int kMaxContext = 131072;
constexpr int kScratchRows = kChunk + qc::kMoeWideRowQuantum;
constexpr float kEps = 1e-5f;

// Device memory freed at exit.
template <class T> T* deviceAlloc(std::size_t count)
{
    void* p = nullptr;
    check(cudaMalloc(&p, count * sizeof(T) + 256), "cudaMalloc");
    return static_cast<T*>(p);
}

// Random bf16 in [-1, 1) (bench_util's generator), used as the source of every weight: bytes for int4
// codes, values for bf16 matrices. 64 MB.
struct RandomSource {
    DeviceBf16 values{std::size_t(32) << 20, 7};
    const std::uint8_t* bytes() const { return reinterpret_cast<const std::uint8_t*>(values.ptr); }
    std::size_t byteCount() const { return values.n * 2; }
};

void fillFrom(const RandomSource& src, void* dst, std::size_t bytes, std::size_t salt)
{
    for (std::size_t done = 0; done < bytes;) {
        const std::size_t off = (salt * 4099 + done) % (src.byteCount() / 2) & ~std::size_t(15);
        const std::size_t n = std::min(bytes - done, src.byteCount() - off);
        check(cudaMemcpy(static_cast<char*>(dst) + done, src.bytes() + off, n, cudaMemcpyDeviceToDevice),
              "fill");
        done += n;
    }
}

qc::Int4Weights int4Stack(const RandomSource& src, int n, int k, int experts, std::size_t salt)
{
    qc::Int4Weights w;
    w.n = n;
    w.k = k;
    w.groupSize = 128;
    w.qExpertBytes = static_cast<long long>(qc::int4QBytes(n, k));
    w.scaleExpertFloats = static_cast<long long>(qc::int4ScaleCount(n, k, 128));
    auto* q = deviceAlloc<std::uint8_t>(qc::int4QBytes(n, k) * experts);
    auto* s = deviceAlloc<float>(qc::int4ScaleCount(n, k, 128) * experts);
    fillFrom(src, q, qc::int4QBytes(n, k) * experts, salt);
    // Scales near |w|max / 7 of weights with standard deviation 1/sqrt(k): outputs keep their scale.
    std::vector<float> host(qc::int4ScaleCount(n, k, 128) * experts);
    std::mt19937 rng(static_cast<unsigned>(salt));
    std::uniform_real_distribution<float> u(0.5f, 1.5f);
    for (auto& x : host)
        x = u(rng) * 2.5f / (7.0f * std::sqrt(static_cast<float>(k)));
    check(cudaMemcpy(s, host.data(), host.size() * 4, cudaMemcpyHostToDevice), "scales");
    w.q = q;
    w.scales = s;
    return w;
}

struct Layer {
    bool chunked = true;
    float* attnNorm = nullptr; // [D] f32
    float* ffnNorm = nullptr;
    std::uint16_t* wqkv = nullptr;         // [QKV][D] bf16
    std::uint16_t* wo = nullptr;           // [D][H*HD]
    std::uint16_t* sharedGateUp = nullptr; // [2I][D] bf16, as the runner keeps the shared expert
    std::uint16_t* sharedDown = nullptr;   // [D][I]
    qc::MoeLayerWeights moe;
    // KV: chunked layers a bf16 ring [kRingPages][kPage][G][HD]; global layers fp8 pages for kMaxContext.
    std::uint16_t *ringK = nullptr, *ringV = nullptr;
    qc::Fp8KvCache fp8;
};

struct Model {
    std::vector<Layer> layers;
    std::uint16_t* lmHead = nullptr; // [V][D] bf16
    float* finalNorm = nullptr;
    float* ropeFreq = nullptr;           // [HD/2]
    std::int32_t* globalTable = nullptr; // identity page table of the fp8 pools
    std::int32_t* ringTable = nullptr;   // absolute page -> ring page
};

float* constVector(int n, float value)
{
    std::vector<float> host(static_cast<std::size_t>(n), value);
    auto* p = deviceAlloc<float>(host.size());
    check(cudaMemcpy(p, host.data(), host.size() * 4, cudaMemcpyHostToDevice), "upload");
    return p;
}

Model buildModel(int layerCount, const std::vector<float>& ropeFreq)
{
    RandomSource src;
    Model m;
    for (int l = 0; l < layerCount; ++l) {
        Layer L;
        L.chunked = (l + 1) % 4 != 0;
        L.attnNorm = constVector(D, 1.0f);
        L.ffnNorm = constVector(D, 1.0f);
        L.wqkv = deviceAlloc<std::uint16_t>(std::size_t(QKV) * D);
        L.wo = deviceAlloc<std::uint16_t>(std::size_t(D) * H * HD);
        fillFrom(src, L.wqkv, std::size_t(QKV) * D * 2, 100 * l + 1);
        fillFrom(src, L.wo, std::size_t(D) * H * HD * 2, 100 * l + 2);
        L.sharedGateUp = deviceAlloc<std::uint16_t>(std::size_t(2 * I) * D);
        L.sharedDown = deviceAlloc<std::uint16_t>(std::size_t(D) * I);
        fillFrom(src, L.sharedGateUp, std::size_t(2 * I) * D * 2, 100 * l + 3);
        fillFrom(src, L.sharedDown, std::size_t(D) * I * 2, 100 * l + 4);
        L.moe.gateUp = int4Stack(src, 2 * I, D, E, 100 * l + 5);
        L.moe.down = int4Stack(src, D, I, E, 100 * l + 6);
        std::vector<float> router(std::size_t(E) * D);
        std::mt19937 rng(static_cast<unsigned>(l));
        std::normal_distribution<float> nd(0.0f, 1.0f / std::sqrt(static_cast<float>(D)));
        for (auto& x : router)
            x = nd(rng);
        auto* r = deviceAlloc<float>(router.size());
        check(cudaMemcpy(r, router.data(), router.size() * 4, cudaMemcpyHostToDevice), "router");
        L.moe.router = r;
        L.moe.experts = E;
        L.moe.dim = D;
        L.moe.expertDim = I;
        if (L.chunked) {
            const std::size_t ring = std::size_t(kChunk) * G * HD;
            L.ringK = deviceAlloc<std::uint16_t>(ring);
            L.ringV = deviceAlloc<std::uint16_t>(ring);
            fillFrom(src, L.ringK, ring * 2, 100 * l + 7);
            fillFrom(src, L.ringV, ring * 2, 100 * l + 8);
        } else {
            const std::size_t pages = kMaxContext / kPage;
            L.fp8 = {deviceAlloc<std::uint8_t>(pages * kPage * G * HD),
                     deviceAlloc<std::uint8_t>(pages * kPage * G * HD),
                     deviceAlloc<float>(pages * G),
                     deviceAlloc<float>(pages * G),
                     kPage,
                     G,
                     HD};
        }
        m.layers.push_back(L);
    }
    m.lmHead = deviceAlloc<std::uint16_t>(std::size_t(V) * D);
    fillFrom(src, m.lmHead, std::size_t(V) * D * 2, 99);
    m.finalNorm = constVector(D, 1.0f);
    m.ropeFreq = deviceAlloc<float>(ropeFreq.size());
    check(cudaMemcpy(m.ropeFreq, ropeFreq.data(), ropeFreq.size() * 4, cudaMemcpyHostToDevice), "rope");
    std::vector<std::int32_t> identity(kMaxContext / kPage + 1), ring(identity.size());
    for (std::size_t i = 0; i < identity.size(); ++i) {
        identity[i] = static_cast<std::int32_t>(std::min(i, identity.size() - 2));
        ring[i] = static_cast<std::int32_t>(i % kRingPages);
    }
    m.globalTable = deviceAlloc<std::int32_t>(identity.size());
    m.ringTable = deviceAlloc<std::int32_t>(ring.size());
    check(cudaMemcpy(m.globalTable, identity.data(), identity.size() * 4, cudaMemcpyHostToDevice), "table");
    check(cudaMemcpy(m.ringTable, ring.data(), ring.size() * 4, cudaMemcpyHostToDevice), "table");
    return m;
}

// Activations and scratch for up to kChunk tokens.
struct Work {
    float* residual = nullptr;                  // [T][D] f32
    std::uint16_t* x = nullptr;                 // [T][D] normed
    std::uint16_t* qkv = nullptr;               // [T][QKV]
    std::uint16_t* att = nullptr;               // [T][H*HD]
    std::uint16_t* proj = nullptr;              // [T][D] attention output projection
    std::uint16_t* su = nullptr;                // [T][2I] shared gate|up
    std::uint16_t* sa = nullptr;                // [T][I]
    std::uint16_t* sout = nullptr;              // [T][D]
    std::uint16_t* ffn = nullptr;               // [T][D]
    std::uint16_t *gk = nullptr, *gv = nullptr; // [kMaxContext][G][HD] gathered global KV
    std::int32_t* positions = nullptr;          // [T]
    std::int32_t* ringPositions = nullptr;      // [T]: position % chunk, the row in a chunked layer's ring
    std::int32_t* seqLen = nullptr;             // [1]
    float* logits = nullptr;                    // [V]
    void* moeScratch = nullptr;
    qc::MoeWideBuffers wide;
    float* decodeWs = nullptr;
    float* fp8Ws = nullptr;
};

Work makeWork()
{
    Work w;
    const std::size_t T = kChunk;
    w.residual = deviceAlloc<float>(T * D);
    std::vector<float> host(T * D);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (auto& v : host)
        v = nd(rng);
    check(cudaMemcpy(w.residual, host.data(), host.size() * 4, cudaMemcpyHostToDevice), "residual");
    w.x = deviceAlloc<std::uint16_t>(T * D);
    w.qkv = deviceAlloc<std::uint16_t>(T * QKV);
    w.att = deviceAlloc<std::uint16_t>(T * H * HD);
    w.proj = deviceAlloc<std::uint16_t>(T * D);
    w.su = deviceAlloc<std::uint16_t>(T * 2 * I);
    w.sa = deviceAlloc<std::uint16_t>(T * I);
    w.sout = deviceAlloc<std::uint16_t>(T * D);
    w.ffn = deviceAlloc<std::uint16_t>(T * D);
    w.gk = deviceAlloc<std::uint16_t>(std::size_t(kMaxContext) * G * HD);
    w.gv = deviceAlloc<std::uint16_t>(std::size_t(kMaxContext) * G * HD);
    w.positions = deviceAlloc<std::int32_t>(T);
    w.ringPositions = deviceAlloc<std::int32_t>(T);
    w.seqLen = deviceAlloc<std::int32_t>(1);
    w.logits = deviceAlloc<float>(V);
    w.moeScratch = deviceAlloc<std::uint8_t>(qc::moeScratchBytes(kScratchRows, E, D, I));
    w.wide.weights = deviceAlloc<std::uint16_t>(qc::moeWideWeightBytes(D, I) / 2);
    check(cudaMallocHost(&w.wide.hostCounts, E * 4), "pinned counts");
    w.decodeWs = reinterpret_cast<float*>(deviceAlloc<std::uint8_t>(
        qc::decodeWorkspaceBytes(1, H, HD, kMaxContext, kChunk, qc::kDecodeTile * qc::kDecodeWarps)));
    w.fp8Ws = reinterpret_cast<float*>(
        deviceAlloc<std::uint8_t>(qc::fp8DecodeWorkspaceBytes(1, H, HD, kMaxContext)));
    return w;
}

// The copies run on the legacy stream while the benchmark's kernels run on a non-blocking one: nothing
// orders them, so wait for every stream before (no kernel still reads the old positions) and after (a
// pageable cudaMemcpy may return before its DMA has landed).
void setPositions(const Work& w, int p0, int tokens)
{
    check(cudaDeviceSynchronize(), "positions");
    std::vector<std::int32_t> pos(static_cast<std::size_t>(tokens)), ring(pos.size());
    for (int i = 0; i < tokens; ++i) {
        pos[static_cast<std::size_t>(i)] = p0 + i;
        ring[static_cast<std::size_t>(i)] = (p0 + i) % kChunk;
    }
    check(cudaMemcpy(w.positions, pos.data(), pos.size() * 4, cudaMemcpyHostToDevice), "positions");
    check(cudaMemcpy(w.ringPositions, ring.data(), ring.size() * 4, cudaMemcpyHostToDevice), "positions");
    const std::int32_t len = p0 + tokens;
    check(cudaMemcpy(w.seqLen, &len, 4, cudaMemcpyHostToDevice), "seqLen");
    check(cudaDeviceSynchronize(), "positions");
}

// --breakdown: an event after each stage of a layer, the time between consecutive events summed by stage.
struct StageTimes {
    bool on = false;
    cudaStream_t stream = nullptr;
    std::vector<cudaEvent_t> events;
    std::vector<const char*> names;
    std::size_t used = 0;

    void start()
    {
        used = 0;
        names.clear();
        mark(nullptr);
    }
    void mark(const char* name)
    {
        if (!on)
            return;
        if (used == events.size()) {
            cudaEvent_t e;
            check(cudaEventCreate(&e), "event");
            events.push_back(e);
        }
        check(cudaEventRecord(events[used++], stream), "record");
        names.push_back(name);
    }
    // Stage name -> milliseconds, in order of first appearance.
    std::vector<std::pair<std::string, double>> totals()
    {
        check(cudaStreamSynchronize(stream), "stages");
        std::vector<std::pair<std::string, double>> out;
        for (std::size_t i = 1; i < used; ++i) {
            float ms = 0;
            check(cudaEventElapsedTime(&ms, events[i - 1], events[i]), "elapsed");
            auto it =
                std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == names[i]; });
            if (it == out.end())
                out.emplace_back(names[i], ms);
            else
                it->second += ms;
        }
        return out;
    }
};

struct Runner {
    Model& m;
    Work& w;
    qc::Blas& blas;
    cudaStream_t stream;
    int sms;
    StageTimes stages{};

    void mark(const char* name) { stages.mark(name); }

    void gemm(const void* x, const void* wt, void* y, int t, int n, int k)
    {
        if (!blas.gemm(x, wt, y, t, n, k, qc::GemmOut::Bf16, stream))
            check(cudaErrorUnknown, "Blas::gemm");
    }

    // Tokens p0..p0+T-1 of one sequence (T = 1: a decode step at position p0).
    void layer(const Layer& L, int p0, int T, const std::uint16_t* delta)
    {
        check(qc::launchRmsNormResidual(w.residual, delta, L.attnNorm, w.x, T, D, kEps, stream), "rmsnorm");
        mark("norm");
        gemm(w.x, L.wqkv, w.qkv, T, QKV, D);
        mark("qkv proj");
        std::uint16_t* q = w.qkv;
        std::uint16_t* k = w.qkv + H * HD;
        std::uint16_t* v = w.qkv + (H + G) * HD;
        if (L.chunked)
            check(qc::launchRope(w.qkv, T, H + G, HD, QKV, w.positions, m.ropeFreq,
                                 qc::RopeMode::InterleavedPairs, stream),
                  "rope");
        mark("rope");
        const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
        if (L.chunked) {
            // Ring slots: position % chunk (pages of the ring are consecutive).
            if (T == 1) {
                check(qc::launchKvAppend(k, v, QKV, L.ringK, L.ringV, G * HD, w.ringPositions, 1, stream),
                      "ring");
            } else {
                check(cudaMemcpy2DAsync(L.ringK, G * HD * 2, k, QKV * 2, G * HD * 2, T,
                                        cudaMemcpyDeviceToDevice, stream),
                      "ring k");
                check(cudaMemcpy2DAsync(L.ringV, G * HD * 2, v, QKV * 2, G * HD * 2, T,
                                        cudaMemcpyDeviceToDevice, stream),
                      "ring v");
            }
        } else {
            check(qc::launchKvFp8Append(L.fp8, m.globalTable, p0, T, k, QKV, v, QKV, stream), "fp8 append");
        }
        mark(L.chunked ? "kv write (ring)" : "kv write (fp8)");
        if (T == 1) {
            if (L.chunked) {
                qc::DecodeAttention a;
                a.q = q;
                a.kCache = L.ringK;
                a.vCache = L.ringV;
                a.pageTable = m.ringTable;
                a.seqLens = w.seqLen;
                a.out = w.att;
                a.batch = 1;
                a.numQHeads = H;
                a.numKvHeads = G;
                a.headDim = HD;
                a.pageSize = kPage;
                a.maxPagesPerSeq = kMaxContext / kPage + 1;
                a.maxSeqLen = p0 + 1;
                a.chunkSize = kChunk;
                a.splitTokens = qc::decodeSplitTokens(1, G, p0 + 1, kChunk, sms);
                a.scale = scale;
                a.workspace = w.decodeWs;
                check(qc::launchAttentionDecode(a, stream), "decode attention");
                mark("attention (ring)");
            } else {
                qc::Fp8DecodeAttention a;
                a.q = q;
                a.cache = L.fp8;
                a.pageTable = m.globalTable;
                a.seqLens = w.seqLen;
                a.out = w.att;
                a.batch = 1;
                a.numQHeads = H;
                a.maxPagesPerSeq = kMaxContext / kPage + 1;
                a.maxSeqLen = p0 + 1;
                a.scale = scale;
                a.workspace = w.fp8Ws;
                check(qc::launchAttentionDecodeFp8(a, stream), "fp8 decode attention");
                mark("attention (fp8)");
            }
        } else {
            qc::PrefillAttention a;
            a.q = q;
            a.o = w.att;
            a.qStride = QKV;
            a.oStride = H * HD;
            a.lq = T;
            a.numQHeads = H;
            a.numKvHeads = G;
            a.headDim = HD;
            a.scale = scale;
            if (L.chunked) { // chunk-aligned: the chunk's own keys, causal
                a.k = k;
                a.v = v;
                a.kStride = a.vStride = QKV;
                a.lkv = T;
            } else { // every earlier token, from the fp8 pages
                check(qc::launchKvFp8Gather(L.fp8, m.globalTable, p0 + T, w.gk, w.gv, stream), "gather");
                mark("fp8 gather");
                a.k = w.gk;
                a.v = w.gv;
                a.kStride = a.vStride = G * HD;
                a.lkv = p0 + T;
                a.qPosOffset = p0;
            }
            check(qc::launchAttentionPrefill(a, stream), "prefill attention");
            mark(L.chunked ? "attention (chunk)" : "attention (global)");
        }
        gemm(w.att, L.wo, w.proj, T, D, H * HD);
        mark("o proj");
        check(qc::launchRmsNormResidual(w.residual, w.proj, L.ffnNorm, w.x, T, D, kEps, stream), "rmsnorm");
        mark("norm");
        // Shared expert (bf16, cuBLAS), then the routed experts combined with it: the int4 GEMVs in decode,
        // the cuBLAS path for wide passes, the int4 GEMM between.
        gemm(w.x, L.sharedGateUp, w.su, T, 2 * I, D);
        mark("shared gate/up");
        check(qc::launchSwiGlu(w.su, 2 * I, w.su + I, 2 * I, w.sa, I, T, I, stream), "swiglu");
        mark("swiglu");
        gemm(w.sa, L.sharedDown, w.sout, T, D, I);
        mark("shared down");
        const auto scratch = qc::moeScratchAt(w.moeScratch, kScratchRows, E, D, I);
        if (T >= qc::kMoeWideTokens) {
            if (!qc::moeRoutedWide(L.moe, w.x, D, T, w.sout, w.ffn, nullptr, scratch, w.wide, blas, stream))
                check(cudaErrorUnknown, "moe (wide)");
        } else {
            check(qc::launchMoeRouted(L.moe, w.x, D, T, w.sout, w.ffn, nullptr, scratch, stream), "moe");
        }
        mark("routed experts");
    }

    // The stack over tokens p0..p0+T-1, then the LM head of the last token.
    void forward(int p0, int T)
    {
        const std::uint16_t* delta = nullptr;
        for (const Layer& L : m.layers) {
            layer(L, p0, T, delta);
            delta = w.ffn;
        }
        head(T, delta);
    }

    void head(int T, const std::uint16_t* delta)
    {
        check(qc::launchRmsNormResidual(w.residual, delta, m.finalNorm, w.x, T, D, kEps, stream),
              "final norm");
        if (!blas.gemm(w.x + static_cast<std::size_t>(T - 1) * D, m.lmHead, w.logits, 1, V, D,
                       qc::GemmOut::F32, stream))
            check(cudaErrorUnknown, "lm head");
    }
};

double copyBandwidthGBs(cudaStream_t stream)
{
    const std::size_t bytes = std::size_t(1) << 30;
    void *a = nullptr, *b = nullptr;
    check(cudaMalloc(&a, bytes), "cudaMalloc");
    check(cudaMalloc(&b, bytes), "cudaMalloc");
    const float ms =
        medianMs([&] { check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream), "copy"); }, 2,
                 10, stream);
    cudaFree(a);
    cudaFree(b);
    return 2.0 * static_cast<double>(bytes) / (ms * 1e-3) / 1e9; // read + written
}

// Useful FLOPs of one token in one layer (projections, experts, router), and of attention pairs.
constexpr double kLayerFlopsPerToken = 2.0 * D * (QKV + H * HD) + 2.0 * 2 * 3.0 * D * I + 2.0 * D * E;
double attentionFlops(double pairs)
{
    return 4.0 * HD * H * pairs;
}

// Bytes a decode step reads in one layer besides its KV: attention weights and the shared expert (bf16),
// one routed expert (int4 + scales), the router.
double layerWeightBytes()
{
    const double int4Expert =
        static_cast<double>(qc::int4QBytes(2 * I, D) + qc::int4QBytes(D, I)) +
        4.0 * static_cast<double>(qc::int4ScaleCount(2 * I, D, 128) + qc::int4ScaleCount(D, I, 128));
    return 2.0 * D * (QKV + H * HD) + 2.0 * 3.0 * D * I + int4Expert + 4.0 * E * D;
}

std::string readFile(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace

int main(int argc, char** argv)
{
    requireDevice();
    int layerCount = 8;
    bool breakdown = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--layers") == 0 && i + 1 < argc)
            layerCount = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--breakdown") == 0)
            breakdown = true;
    }
    if (layerCount <= 0 || layerCount % 4 != 0 || layerCount > 48) {
        std::fprintf(stderr, "--layers must be a multiple of 4 up to 48\n");
        return 2;
    }
    constexpr int kLayers = 48, kChunkedLayers = 36, kGlobalLayers = 12;
    const double scaleUp = static_cast<double>(kLayers) / layerCount;
    const std::string layersNote = layerCount == kLayers ? std::string("all 48 layers")
                                                          : std::to_string(layerCount) + " of 48 layers, scaled";

    const auto config = inf::parseLlama4Config(
        readFile(std::string(QUIRE_TEST_DATA_DIR) + "/llama4/scout_config/config.json"));
    if (!config) {
        std::fprintf(stderr, "Scout config: %s\n", config.error().message.c_str());
        return 1;
    }
    auto stream = qc::Stream::create();
    auto blas = qc::Blas::create();
    if (!stream || !blas) {
        std::fprintf(stderr, "cannot create a stream or a cuBLASLt handle\n");
        return 1;
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "properties");
    const cudaStream_t s = stream->get();

    // Baselines first (they allocate and free their own buffers).
    double peak = 0;
    {
        DeviceBf16 x(std::size_t(8192) * 8192, 1), wt(std::size_t(8192) * 8192, 2),
            y(std::size_t(8192) * 8192, 3);
        peak = bestCublasGemm(8192, 8192, 8192, x.ptr, wt.ptr, y.ptr, s).tflops;
    }
    const double copyGBs = copyBandwidthGBs(s);
    std::printf("# measured: bf16 peak %.1f TFLOP/s (best cuBLAS 8192^3), copy %.0f GB/s (read + written)\n",
                peak, copyGBs);

    std::size_t free0 = 0, total = 0;
    check(cudaMemGetInfo(&free0, &total), "cudaMemGetInfo");
    Model model = buildModel(layerCount, inf::llama4RopeFrequencies(*config));
    Work work = makeWork();
    std::size_t free1 = 0;
    check(cudaMemGetInfo(&free1, &total), "cudaMemGetInfo");
    Runner run{model, work, *blas, s, prop.multiProcessorCount};
    run.stages.stream = s;
    // One more pass of `stack` with an event after each stage: where the time goes, over the built layers.
    const auto showStages = [&](const char* what, const std::function<void()>& stack) {
        if (!breakdown)
            return;
        run.stages.on = true;
        run.stages.start();
        stack();
        const auto t = run.stages.totals();
        run.stages.on = false;
        double sum = 0;
        for (const auto& [name, ms] : t)
            sum += ms;
        std::printf("# stages of %s over %d layers: %.3f ms\n", what, layerCount, sum);
        for (const auto& [name, ms] : t)
            std::printf("#   %-20s %9.3f ms %5.1f%%\n", name.c_str(), ms, 100.0 * ms / sum);
    };
    const auto stack = [&](int p0, int T) {
        return [&run, &model, &work, p0, T] {
            const std::uint16_t* delta = nullptr;
            for (const Layer& L : model.layers) {
                run.layer(L, p0, T, delta);
                delta = work.ffn;
            }
        };
    };
    std::printf(
        "# %d of 48 layers built (%d chunked, %d global), times scaled linearly to 48 layers (x%.1f); "
        "memory in use %.1f GiB of %.1f GiB\n",
        layerCount, layerCount * 3 / 4, layerCount / 4, scaleUp, double(free0 - free1) / (1 << 30),
        double(total) / (1 << 30));
    {
        inf::Llama4MemoryPlanOptions o;
        o.deviceFreeBytes = free0;
        const auto plan = inf::planLlama4Memory(*config, o);
        std::printf(
            "# memory plan of the full model on this device (weights %.1f GiB): max context %lld tokens\n",
            double(plan.weightBytes) / (1 << 30), static_cast<long long>(plan.maxContextGpu));
    }

    // The LM head alone, so that only the layers are scaled.
    setPositions(work, 0, 1);
    const float headMs = medianMs([&] { run.head(1, nullptr); }, 2, 10, s);

    // Prefill of one 8K chunk at position 0.
    setPositions(work, 0, kChunk);
    const float layersMs8k = medianMs(
        [&] {
            const std::uint16_t* delta = nullptr;
            for (const Layer& L : model.layers) {
                run.layer(L, 0, kChunk, delta);
                delta = work.ffn;
            }
        },
        1, 3, s);
    const double prefill8kMs = layersMs8k * scaleUp + headMs;
    const double pairsChunk = double(kChunk) * (kChunk + 1) / 2.0;
    const double flops8k = kLayers * kLayerFlopsPerToken * kChunk + kLayers * attentionFlops(pairsChunk);
    const double tps8k = kChunk / (prefill8kMs * 1e-3);
    const double peakTps8k = kChunk / (flops8k / (peak * 1e12));
    std::printf("# prefill 8K: %.1f ms (layers %.1f ms measured, head %.2f ms), %.1f TFLOP/s\n", prefill8kMs,
                layersMs8k, headMs, flops8k / (prefill8kMs * 1e-3) / 1e12);
    std::printf(
        "BENCH scout_prefill_8k ours=%.0f tokens/s baseline=%.0f tokens/s (at the measured bf16 peak %.0f "
        "TFLOP/s; %s) ratio=%.3f\n",
        tps8k, peakTps8k, peak, layersNote.c_str(), tps8k / peakTps8k);
    showStages("an 8K chunk at position 0", stack(0, kChunk));

    // A 64K prompt: eight chunks, the global layers attending over everything before.
    const int prompt = 65536;
    cudaEvent_t a, b;
    check(cudaEventCreate(&a), "event");
    check(cudaEventCreate(&b), "event");
    float layersMs64k = 0;
    double flops64k = 0;
    for (int p0 = 0; p0 < prompt; p0 += kChunk) {
        setPositions(work, p0, kChunk);
        check(cudaEventRecord(a, s), "record");
        const std::uint16_t* delta = nullptr;
        for (const Layer& L : model.layers) {
            run.layer(L, p0, kChunk, delta);
            delta = work.ffn;
        }
        check(cudaEventRecord(b, s), "record");
        check(cudaEventSynchronize(b), "sync");
        float ms = 0;
        check(cudaEventElapsedTime(&ms, a, b), "elapsed");
        layersMs64k += ms;
        flops64k += kLayers * kLayerFlopsPerToken * kChunk + kChunkedLayers * attentionFlops(pairsChunk) +
                    kGlobalLayers * attentionFlops(double(kChunk) * p0 + pairsChunk);
    }
    const double prefill64kMs = layersMs64k * scaleUp + headMs;
    const double tps64k = prompt / (prefill64kMs * 1e-3);
    const double peakTps64k = prompt / (flops64k / (peak * 1e12));
    std::printf("# prefill 64K: %.0f ms, %.1f TFLOP/s\n", prefill64kMs,
                flops64k / (prefill64kMs * 1e-3) / 1e12);
    std::printf(
        "BENCH scout_prefill_64k ours=%.0f tokens/s baseline=%.0f tokens/s (at the measured bf16 peak %.0f "
        "TFLOP/s; %s) ratio=%.3f\n",
        tps64k, peakTps64k, peak, layersNote.c_str(), tps64k / peakTps64k);
    showStages("the 64K prompt's last chunk", stack(prompt - kChunk, kChunk));

    // Decode at 8K and 128K of context: fill the global layers' fp8 pages up to the context (the ring is
    // already full of random keys), then time steps at the last position (a full chunk visible).
    for (const int context : {8192, kMaxContext}) {
        for (int p0 = 0; p0 + kChunk <= context; p0 += kChunk)
            for (const Layer& L : model.layers)
                if (!L.chunked)
                    check(qc::launchKvFp8Append(L.fp8, model.globalTable, p0, kChunk, work.qkv + H * HD, QKV,
                                                work.qkv + (H + G) * HD, QKV, s),
                          "fill");
        const int pos = context - 1;
        setPositions(work, pos, 1);
        const float layersMs = medianMs(
            [&] {
                const std::uint16_t* delta = nullptr;
                for (const Layer& L : model.layers) {
                    run.layer(L, pos, 1, delta);
                    delta = work.ffn;
                }
            },
            2, 10, s);
        const double stepMs = layersMs * scaleUp + headMs;
        const double kvBytes = kChunkedLayers * double(kChunk) * G * HD * 2 * 2 +
                               kGlobalLayers * double(context) * (G * HD * 2 + 2.0 * G * 4 / kPage);
        const double bytes = kLayers * layerWeightBytes() + kvBytes + 2.0 * V * D;
        const double tps = 1e3 / stepMs;
        const double boundTps = copyGBs * 1e9 / bytes;
        std::printf("# decode at %d: %.2f ms per token (layers %.2f ms measured), %.2f GB read per token, "
                    "%.0f GB/s\n",
                    context, stepMs, layersMs, bytes / 1e9, bytes / (stepMs * 1e-3) / 1e9);
        std::printf(
            "BENCH scout_decode_%s ours=%.1f tokens/s baseline=%.1f tokens/s (bandwidth bound: %.1f GB per "
            "token at the measured copy rate %.0f GB/s; %s) ratio=%.3f\n",
            context == 8192 ? "8k" : "128k", tps, boundTps, bytes / 1e9, copyGBs, layersNote.c_str(), tps / boundTps);
        showStages(context == 8192 ? "a decode step at 8K" : "a decode step at 128K", stack(pos, 1));
        if (breakdown && context == 8192) { // the routed experts of one decode step, part by part
            const Layer& L = model.layers[0];
            const auto sc = qc::moeScratchAt(work.moeScratch, kScratchRows, E, D, I);
            const float routeMs = medianMs(
                [&] {
                    check(qc::launchMoeRoute(work.x, D, 1, L.moe.router, E, D, sc.logits, sc.expertIds,
                                             sc.scores, sc.slots, sc.counts, s),
                          "route");
                },
                2, 20, s);
            const float guMs = medianMs(
                [&] {
                    check(qc::launchInt4Gemv(L.moe.gateUp, sc.xe, D, 1, sc.expertIds, sc.gu, 2 * I, true, s),
                          "gemv");
                },
                2, 20, s);
            const float downMs = medianMs(
                [&] {
                    check(qc::launchInt4Gemv(L.moe.down, sc.act, I, 1, sc.expertIds, sc.y, D, true, s),
                          "gemv");
                },
                2, 20, s);
            const double guBytes = double(qc::int4QBytes(2 * I, D)) + 4.0 * qc::int4ScaleCount(2 * I, D, 128);
            const double downBytes = double(qc::int4QBytes(D, I)) + 4.0 * qc::int4ScaleCount(D, I, 128);
            std::printf(
                "# routed experts, one decode step alone: route %.1f us, gate/up GEMV %.1f us (%.0f GB/s), "
                "down GEMV %.1f us (%.0f GB/s)\n",
                routeMs * 1e3, guMs * 1e3, guBytes / (guMs * 1e-3) / 1e9, downMs * 1e3,
                downBytes / (downMs * 1e-3) / 1e9);
        }
        if (breakdown) { // the same step as one CUDA graph: how much of the eager time is launching
            cudaGraph_t graph;
            cudaGraphExec_t exec;
            check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "capture");
            stack(pos, 1)();
            check(cudaStreamEndCapture(s, &graph), "capture");
            check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
            const float graphMs = medianMs([&] { check(cudaGraphLaunch(exec, s), "launch"); }, 2, 10, s);
            std::printf("# decode step as a CUDA graph: layers %.3f ms (eager %.3f ms)\n", graphMs, layersMs);
            cudaGraphExecDestroy(exec);
            cudaGraphDestroy(graph);
        }
    }
    check(cudaStreamSynchronize(s), "end");
    return 0;
}
