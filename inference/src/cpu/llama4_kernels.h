// Numeric kernels of the Llama 4 CPU fast path, behind a table picked at run time (AVX2+FMA+F16C
// when present, portable scalar code otherwise). Every product works on f32 activations: weight
// rows of any format are decoded to f32 a tile at a time (int4 nibbles, fp8, int8, bf16, f16;
// GGML block types through quant.h) and multiplied by a register-blocked f32 micro-kernel, so a
// decoded tile is reused by every token of a batch and quantization error comes from the weights
// alone.
//
// Like kernels.h, this header must stay free of inline functions (the AVX2 translation unit
// includes it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quire/inference/llama4.h"

namespace quire::inference::cpu {

struct Llama4Kernels {
    const char* name = "";
    // dst[i * w.cols + c] = W[r0 + i][c] for i < n (formats other than Ggml; Ggml is scalar).
    void (*decodeRows)(const WeightMatrix& w, std::int64_t r0, std::int64_t n, float* dst) = nullptr;
    // out[t * ldOut + i] (+)= sum_c w[i * ldw + c] * x[t * ldx + c] for i < n, t < nTok.
    void (*gemm)(const float* w, std::size_t ldw, std::int64_t n, const float* x, std::size_t ldx, int nTok,
                 std::int64_t cols, float* out, std::size_t ldOut, bool accumulate) = nullptr;
    float (*dot)(const float* a, const float* b, std::int64_t n) = nullptr;
    void (*axpy)(float a, const float* x, float* y, std::int64_t n) = nullptr;  // y += a * x
};

const Llama4Kernels& llama4ScalarKernels();
const Llama4Kernels* llama4Avx2Kernels();  // null without AVX2/FMA/F16C
// The best table; QUIRE_CPU_KERNELS=scalar forces the portable one.
const Llama4Kernels& llama4BestKernels();

// Rows per decoded tile (the scratch a matmulRows call needs is kTileRows * cols floats).
inline constexpr std::int64_t kLlama4TileRows = 16;

// out[t * ldOut + r] (+)= W[r] . x[t] for rows r in [r0, r1) and tokens t < nTok. `scratch`
// holds at least kLlama4TileRows * w.cols floats (unused for F32 weights).
void llama4MatmulRows(const Llama4Kernels& k, const WeightMatrix& w, const float* x, std::size_t ldx, int nTok,
                      float* out, std::size_t ldOut, std::int64_t r0, std::int64_t r1, bool accumulate,
                      float* scratch);

}  // namespace quire::inference::cpu
