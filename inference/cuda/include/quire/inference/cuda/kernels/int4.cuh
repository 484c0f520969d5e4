// W4A16 weights on the device (Llama 4 experts): int4 codes, symmetric, one f32 scale per group of
// `groupSize` inputs (128 by default), activations bf16, accumulation fp32.
//
// Layout of a matrix w[n][k] (one row per output feature, as nn.Linear stores it):
//   q      [n][k/2] bytes: value c of row r is the low nibble of byte r*k/2 + c/2 when c is even, the
//          high nibble when odd; a nibble u means the integer u - 8 (-8..7)
//   scales [groups][n] f32, groups = ceil(k / groupSize), group-major so that the scales of one group
//          for consecutive outputs are contiguous (coalesced reads in the GEMM);
//          the last group of a row may be shorter (k = 64 with group 128 is one group of 64)
//   w[r][c] = (u - 8) * scales[c / groupSize][r]
// A stack of experts is `experts` such matrices, qExpertBytes and scaleExpertFloats apart.
//
// Quantization on load (from bf16 on the device): per group, the scale is the candidate
// |w|max / (7 + j/8), j in {0, 2, 4, 6, 8}, with the least squared error over codes -8..7 (as the CPU
// loader's Int4 format chooses it), codes round to nearest even and clamp. The twin in twins/int4.h
// repeats the device's summation order, so device and twin agree bit for bit.
//
// Products: y = x . w^T. Decode uses the GEMV (batch <= kMaxInt4GemvBatch rows of x, each row may
// pick its own expert by a device-side id, so the routed expert of a decode step is never read back to
// the host): on the tensor cores for groups of 128, else a warp per output row. Narrow prefill passes
// use the GEMM: bf16 tensor cores (mma.sync m16n8k16), the int4 tile dequantised in registers in the
// main loop; grouped over experts, each expert's rows of A contiguous between device-side row offsets
// (the MoE permutation). It runs at about a quarter of the card's bf16 rate (H200), so wide passes
// expand each expert to bf16 (launchInt4Dequantize) and use cuBLAS (moe_wide.h).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace quire::inference::cuda {

constexpr int kMaxInt4GemvBatch = 8;
constexpr int kInt4GemmBlockM = 128; // tokens per GEMM tile
constexpr int kInt4GemmBlockN = 128; // outputs per GEMM tile
constexpr int kInt4GemmBlockK = 64;  // inputs per main-loop step

struct Int4Weights {
    const std::uint8_t* q = nullptr;
    const float* scales = nullptr;
    int n = 0;                       // outputs (rows)
    int k = 0;                       // inputs (columns)
    int groupSize = 128;             // 32, 64 or 128 (the GEMM needs 64 or 128)
    long long qExpertBytes = 0;      // between experts' q (0: one matrix)
    long long scaleExpertFloats = 0; // between experts' scales
};

constexpr int int4Groups(int k, int groupSize)
{
    return (k + groupSize - 1) / groupSize;
}
constexpr std::size_t int4QBytes(int n, int k)
{
    return std::size_t(n) * std::size_t(k / 2);
}
constexpr std::size_t int4ScaleCount(int n, int k, int groupSize)
{
    return std::size_t(int4Groups(k, groupSize)) * std::size_t(n);
}

// Quantizes one bf16 matrix into (q, scales) as above. w is [n][k] row-major when !inputMajor
// (nn.Linear), or [k][n] when inputMajor (Hugging Face's Llama 4 expert tensors, [in, out]); ldw is
// the source row stride in elements (k or n for a dense matrix). k must be even, groupSize 32, 64
// or 128. q and scales must hold int4QBytes and int4ScaleCount.
cudaError_t launchInt4Quantize(const std::uint16_t* w, long long ldw, bool inputMajor, int n, int k,
                               int groupSize, std::uint8_t* q, float* scales, cudaStream_t stream);

// y[b][r] = sum_c w_e[r][c] * x[b][c] for b < batch, where e = expertIds[b] when expertIds (device
// memory, one id per row of x) is given, else 0. x bf16 rows ldx apart, y rows ldy apart (bf16 bits
// when yIsBf16, else f32). k a multiple of 32, groupSize a multiple of 32, x 16-byte aligned with
// ldx a multiple of 8, q 16-byte aligned.
cudaError_t launchInt4Gemv(const Int4Weights& w, const std::uint16_t* x, long long ldx, int batch,
                           const std::int32_t* expertIds, void* y, long long ldy, bool yIsBf16,
                           cudaStream_t stream);

// out[r][c] = bf16((code - 8) * scale) for expert `expert` of w: the whole [n][k] matrix in bf16 (row-major,
// 16-byte aligned), for products that go through cuBLAS instead (wide MoE passes). k a multiple of 32.
cudaError_t launchInt4Dequantize(const Int4Weights& w, int expert, std::uint16_t* out, cudaStream_t stream);

// c[i][r] = bf16(sum_c a[i][c] * w_e[r][c]) for the rows i of expert e: rowOffsets[e] <= i <
// rowOffsets[e + 1] (device memory, experts + 1 entries), or every i < maxRows when rowOffsets is
// null (a dense product, experts = 1). maxRows bounds rowOffsets[experts] (the launch covers it).
// a bf16 rows lda apart (lda a multiple of 8, 16-byte aligned), c bf16 rows ldc apart (even);
// k a multiple of 64, n a multiple of 8, groupSize 64 or 128.
cudaError_t launchInt4Gemm(const std::uint16_t* a, long long lda, const Int4Weights& w,
                           const std::int32_t* rowOffsets, int experts, int maxRows, std::uint16_t* c,
                           long long ldc, cudaStream_t stream);

} // namespace quire::inference::cuda
