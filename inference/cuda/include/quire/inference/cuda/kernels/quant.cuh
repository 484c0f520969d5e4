// GGUF quantized weights on the device: a matrix w[n][k] is stored as n rows, each row the k/blockSize
// blocks of its format, back to back, exactly as in the GGUF file (ggml's block layouts):
//   Q8_0: 32 values, 34 bytes: fp16 d, int8 q[32];                      value = d * q
//   Q4_K: 256 values, 144 bytes: fp16 d, fp16 dmin, 12 bytes of 6-bit sub-block scales and mins,
//         128 bytes of 4-bit q;                                         value = d*sc*q - dmin*m
//   Q6_K: 256 values, 210 bytes: 128 bytes low 4 bits, 64 bytes high 2 bits, int8 scales[16], fp16 d;
//                                                                      value = d * scale * (q - 32)
// Decode uses the GEMV (dequantise on the fly, fp32 accumulation, batch <= kMaxGemvBatch);
// prefill dequantises to bf16 and calls the bf16 GEMM. CPU twins: twins/quant.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace quire::inference::cuda {

enum class QuantType : int { Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, Q4_K = 12, Q6_K = 14 }; // ggml type ids

constexpr int kMaxGemvBatch = 8;

constexpr int quantBlockValues(QuantType type)
{
    return type == QuantType::Q4_K || type == QuantType::Q6_K ? 256 : 32;
}
constexpr int quantBlockBytes(QuantType type)
{
    switch (type) {
    case QuantType::Q4_0:
        return 18;
    case QuantType::Q4_1:
        return 20;
    case QuantType::Q8_0:
        return 34;
    case QuantType::Q4_K:
        return 144;
    case QuantType::Q6_K:
        return 210;
    }
    return 0;
}
// Bytes of one row of k values (k a multiple of the block size).
constexpr std::size_t quantRowBytes(QuantType type, int k)
{
    return std::size_t(k / quantBlockValues(type)) * std::size_t(quantBlockBytes(type));
}

// y[b][r] = sum_c w[r][c] * x[b][c] for b < batch: x bf16 [batch][k], y [batch][n] (bf16 bits when
// yIsBf16, else float). w must start 16-byte aligned for Q4_K and 4-byte aligned for Q4_1 (rows of
// Q4_0, Q8_0 and Q6_K are only 2-byte aligned by their size and are read that way).
cudaError_t launchQuantGemv(QuantType type, const void* w, int n, int k, const std::uint16_t* x, int batch,
                            void* y, bool yIsBf16, cudaStream_t stream);

// out[r][c] = bf16(w[r][c]) for the whole matrix (row-major bf16 [n][k]).
cudaError_t launchDequantizeBf16(QuantType type, const void* w, int n, int k, std::uint16_t* out,
                                 cudaStream_t stream);

} // namespace quire::inference::cuda
