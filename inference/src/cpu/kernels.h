// The CPU backend's numeric kernels behind one table, picked at run time: AVX2+FMA+F16C when the
// processor has them, portable scalar code otherwise (the binary is built for baseline x86-64).
// Quantized weights are multiplied directly, block by block, with activations quantized per row
// to BlockQ16A; float weights (F32/F16/BF16) with f32 activations.
//
// Why 16-bit activations and not 8-bit as llama.cpp uses: with int8 activation blocks, rounding
// noise flips SmolLM2-135M's greedy answers (llama.cpp itself answers "L'Étoile, la Marseillaise"
// to "What is the capital of France?"), while int16 blocks stay within ~1e-4 of the f32
// reference and cost about one extra load and multiply-add per block.
//
// This header must stay free of inline functions: it is included by the AVX2 translation unit,
// and an inline function compiled there could be picked by the linker for every caller.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quire/inference/gguf.h"

namespace quire::inference::cpu {

// An activation block: 32 values as int16 (|q| <= 32767) with one scale; s = d * sum(qs), kept
// for the offset terms of Q4_0/Q4_1/Q4_K/Q5_K.
struct BlockQ16A {
    float d;
    float s;
    std::int16_t qs[32];
};
static_assert(sizeof(BlockQ16A) == 72);

// out[t * ldOut + r] (+)= dot(W row r, X row t) for r in [r0, r1) and t in [0, nTok).
// X rows are BlockQ16A (quantized kernels) or float (float kernels), xStride bytes apart.
struct MatmulArgs {
    const std::byte* w = nullptr;
    std::size_t wRowBytes = 0;
    std::int64_t cols = 0;
    const std::byte* x = nullptr;
    std::size_t xStride = 0;
    int nTok = 0;
    float* out = nullptr;
    std::size_t ldOut = 0;
    bool accumulate = false; // out += product (the residual add), instead of out = product
};
using MatmulFn = void (*)(const MatmulArgs& args, std::int64_t r0, std::int64_t r1);
// Attention over a KV cache held in f16 or bf16 (see Kernels::attnScoresF16).
using AttnScores16Fn = void (*)(const float* q, const std::uint16_t* k, std::size_t stride, int n, int hd,
                                float scale, float* scores);
using AttnMix16Fn = void (*)(const float* p, const std::uint16_t* v, std::size_t stride, int n, int hd,
                             float* out);

struct Kernels {
    const char* name = "";
    void (*quantizeQ16A)(const float* x, BlockQ16A* y, std::int64_t n) = nullptr;
    float (*dot)(const float* a, const float* b, std::int64_t n) = nullptr;
    void (*axpy)(float a, const float* x, float* y, std::int64_t n) = nullptr; // y += a * x
    // x[i] = exp(x[i] - max); returns the sum (the softmax denominator).
    float (*expSum)(float* x, std::int64_t n, float max) = nullptr;
    // g[i] = silu(g[i]) * u[i], the SwiGLU gate.
    void (*siluMul)(float* g, const float* u, std::int64_t n) = nullptr;
    // Attention of one query head over n cached positions (rows `stride` floats apart):
    // scores[j] = scale * dot(q, k_j); out = sum_j p[j] * v_j (out overwritten).
    void (*attnScores)(const float* q, const float* k, std::size_t stride, int n, int hd, float scale,
                       float* scores) = nullptr;
    void (*attnMix)(const float* p, const float* v, std::size_t stride, int n, int hd, float* out) = nullptr;
    // The same over a KV cache held in f16 or bf16: rows `stride` elements apart, widened to f32
    // as they are read (f16 by the F16C conversion, bf16 by a 16-bit shift).
    AttnScores16Fn attnScoresF16 = nullptr;
    AttnMix16Fn attnMixF16 = nullptr;
    AttnScores16Fn attnScoresBf16 = nullptr;
    AttnMix16Fn attnMixBf16 = nullptr;
    // Indexed by GgmlType value; null where the type has no kernel of that kind.
    MatmulFn matmulQ16A[32] = {};
    MatmulFn matmulF32[32] = {};
};

// The scalar table (always available) and the AVX2 table (null when the CPU lacks AVX2/FMA/F16C).
const Kernels& scalarKernels();
const Kernels* avx2Kernels();
// The best table for this CPU; QUIRE_CPU_KERNELS=scalar forces the portable one.
const Kernels& bestKernels();

// True when `type` is multiplied with BlockQ16A activations (else with f32 ones).
bool usesQ16Activations(GgmlType type);

} // namespace quire::inference::cpu
