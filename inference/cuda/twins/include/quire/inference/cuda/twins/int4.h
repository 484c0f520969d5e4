// CPU twins of kernels/int4.cuh: the int4 group-wise quantizer (bit-exact with the device: the same
// candidate scales and the same order of fp32 additions), the dequantiser, and the GEMV and GEMM in
// fp32 (the same grouping of sums as the device, not the same order inside a group). Pure functions.
#pragma once

#include <cstdint>
#include <vector>

#include "quire/inference/cuda/kernels/int4.cuh"

namespace quire::inference::cuda::twins {

// Host arrays of one quantized matrix (or a stack of experts, back to back).
struct Int4Host {
    int n = 0, k = 0, groupSize = 128, experts = 1;
    std::vector<std::uint8_t> q; // experts x int4QBytes(n, k)
    std::vector<float> scales;   // experts x int4ScaleCount(n, k, groupSize)
    std::size_t qExpertBytes() const { return int4QBytes(n, k); }
    std::size_t scaleExpertFloats() const { return int4ScaleCount(n, k, groupSize); }
};

// Same contract as launchInt4Quantize, into expert `expert` of `out` (sized by the caller or here).
void int4Quantize(const std::uint16_t* w, long long ldw, bool inputMajor, Int4Host& out, int expert = 0);

// Row r of expert e as floats: (u - 8) * scale.
void int4DequantizeRow(const Int4Host& w, int expert, int r, float* out);

// y[b][r] (f32, [batch][n]) = sum over groups of scale * sum (u - 8) * x[b][c]; expert of row b is
// expertIds[b] (or 0 when expertIds is null).
void int4Gemv(const Int4Host& w, const std::uint16_t* x, int batch, const std::int32_t* expertIds, float* y);

// c[i][r] (f32, rows of n) for the rows of each expert between rowOffsets[e] and rowOffsets[e + 1]
// (null: rows 0..rows-1 of expert 0), a bf16 [rows][k]; sums per k step of 64, times the scale.
void int4Gemm(const std::uint16_t* a, const Int4Host& w, const std::int32_t* rowOffsets, int rows, float* c);

} // namespace quire::inference::cuda::twins
