// Row encoders and decoders of the Llama 4 weight formats (llama4.h WeightFormat): the scalar
// definitions every SIMD kernel is checked against. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quire/inference/llama4.h"

namespace quire::inference::l4 {

// e4m3fn (1 sign, 4 exponent bits with bias 7, 3 mantissa bits, no infinities, max 448).
float fp8ToFloat(std::uint8_t bits);
// Rounds to the nearest e4m3fn value (ties to even), saturating at +-448.
std::uint8_t floatToFp8(float x);
inline constexpr float kFp8Max = 448.0f;

// Encodes one row of `cols` floats in `format` (F32, F16, BF16, Int8, Fp8E4M3, Int4) into dst
// (weightRowBytes(format, cols, groupSize) bytes).
void encodeRow(WeightFormat format, const float* src, std::byte* dst, std::int64_t cols, int groupSize);
// Decodes row r of w into dst (w.cols floats); any format, Ggml included.
void decodeRow(const WeightMatrix& w, std::int64_t r, float* dst);

} // namespace quire::inference::l4
