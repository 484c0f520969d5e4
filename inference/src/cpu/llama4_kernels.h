// Numeric kernels of the Llama 4 CPU fast path, behind a table picked at run time (AVX2+FMA+F16C
// when present, portable scalar code otherwise). Every product works on f32 activations, so
// quantization error comes from the weights alone:
//  - one token (decode): fused kernels read int4 / fp8 / int8 / bf16 / f16 / f32 rows and
//    multiply as they unpack, two rows per pass over the input;
//  - a few tokens: rows are decoded to f32 a tile at a time and dotted with each token;
//  - many tokens (prefill): the tokens are packed K-major in blocks of 24, and a 4-row x 24-token
//    register-blocked micro-kernel (broadcast weight, vector of tokens) runs over K blocks that
//    stay in L2, each decoded weight tile serving every token.
//
// Like kernels.h, this header must stay free of inline functions (the AVX2 translation unit
// includes it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/kernels.h"
#include "quire/inference/llama4.h"

namespace quire::inference::cpu {

struct Llama4Kernels {
    const char* name = "";
    // dst[i * w.cols + c] = W[r0 + i][c] for i < n (formats other than Ggml; Ggml is scalar).
    void (*decodeRows)(const WeightMatrix& w, std::int64_t r0, std::int64_t n, float* dst) = nullptr;
    // out[t * ldOut + i] (+)= sum_c w[i * ldw + c] * x[t * ldx + c] for i < n, t < nTok.
    void (*gemm)(const float* w, std::size_t ldw, std::int64_t n, const float* x, std::size_t ldx, int nTok,
                 std::int64_t cols, float* out, std::size_t ldOut, bool accumulate) = nullptr;
    // Packed prefill product over inputs [k0, k1): out[t * ldOut + i] (+)= sum_k w[i * ldw + k] *
    // x_t[k] for i < n, t < nTok, with x packed by llama4PackTokens.
    void (*gemmPacked)(const float* w, std::size_t ldw, std::int64_t n, const float* packed, int nTok,
                       std::int64_t cols, std::int64_t k0, std::int64_t k1, float* out, std::size_t ldOut,
                       bool accumulate) = nullptr;
    // One token: out[i] (+)= W[r0 + i] . x for i < n, straight from the stored format; false
    // when this format has no fused kernel (the caller decodes instead).
    bool (*gemv)(const WeightMatrix& w, std::int64_t r0, std::int64_t n, const float* x, float* out,
                 bool accumulate) = nullptr;
    float (*dot)(const float* a, const float* b, std::int64_t n) = nullptr;
    void (*axpy)(float a, const float* x, float* y, std::int64_t n) = nullptr; // y += a * x
    // Attention over a 16-bit KV cache, as in kernels.h (taken from the matching Kernels table).
    AttnScores16Fn attnScoresF16 = nullptr;
    AttnMix16Fn attnMixF16 = nullptr;
    AttnScores16Fn attnScoresBf16 = nullptr;
    AttnMix16Fn attnMixBf16 = nullptr;
};

const Llama4Kernels& llama4ScalarKernels();
const Llama4Kernels* llama4Avx2Kernels(); // null without AVX2/FMA/F16C
// The best table; QUIRE_CPU_KERNELS=scalar forces the portable one.
const Llama4Kernels& llama4BestKernels();

// Rows per decoded tile (dot kernel, packed kernel); tokens per packed block (the packed-kernel width); the
// smallest step that uses the packed kernel; inputs per K block of the packed kernel.
inline constexpr std::int64_t kLlama4TileRows = 16;
inline constexpr std::int64_t kLlama4PackedTileRows = 64;
inline constexpr int kLlama4TokenBlock = 24;
inline constexpr int kLlama4PackedMinTokens = 6;
inline constexpr std::int64_t kLlama4KBlock = 1024;

// Floats of the scratch a llama4MatmulRows call over `cols` inputs and `nTok` tokens needs.
std::size_t llama4MatmulScratch(std::int64_t cols, int nTok);
// Packs nTok rows of x (cols each, ldx apart) K-major in blocks of kLlama4TokenBlock tokens:
// block b holds tokens [24b, 24b + w) with w the count rounded up to 8 (zero padded), element
// (k, j) at b * 24 * cols + k * w + j.
void llama4PackTokens(const float* x, std::size_t ldx, int nTok, std::int64_t cols, float* packed);

// out[t * ldOut + r] (+)= W[r] . x[t] for rows r in [r0, r1) and tokens t < nTok. `scratch`
// grows to llama4MatmulScratch(w.cols, nTok) floats.
void llama4MatmulRows(const Llama4Kernels& k, const WeightMatrix& w, const float* x, std::size_t ldx,
                      int nTok, float* out, std::size_t ldOut, std::int64_t r0, std::int64_t r1,
                      bool accumulate, std::vector<float>& scratch);

} // namespace quire::inference::cpu
