// CPU twins of kernels/quant.cuh: dequantisation of GGUF blocks (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K) written from
// ggml's documented block layouts, the GEMV and the dequantise-to-bf16 built on it.
#pragma once

#include <cstdint>

#include "quire/inference/cuda/kernels/quant.cuh"

namespace quire::inference::cuda::twins {

// k values of one row (k a multiple of the block size) to float.
void dequantizeRow(QuantType type, const std::uint8_t* row, int k, float* out);

// y[b][r] = sum_c w[r][c] * x[b][c] in fp32, y float [batch][n].
void quantGemv(QuantType type, const std::uint8_t* w, int n, int k, const std::uint16_t* x, int batch,
               float* y);

void dequantizeBf16(QuantType type, const std::uint8_t* w, int n, int k, std::uint16_t* out);

} // namespace quire::inference::cuda::twins
