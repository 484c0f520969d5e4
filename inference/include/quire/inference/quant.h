// Weight formats: half-precision conversions and the ggml block layouts (Q4_0, Q4_1, Q8_0, Q4_K,
// Q5_K, Q6_K) as they sit in GGUF files, with row dequantisation to f32. The block structs mirror
// the on-disk bytes exactly (checked by static_assert); every function here is pure and
// thread-safe. Backends use these layouts to compute directly on the packed blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>

#include "quire/inference/error.h"
#include "quire/inference/gguf.h"

namespace quire::inference {

float fp16ToFp32(std::uint16_t h);
std::uint16_t fp32ToFp16(float f); // round to nearest even, overflow to infinity
inline float bf16ToFp32(std::uint16_t h)
{
    const std::uint32_t bits = std::uint32_t(h) << 16;
    float f;
    __builtin_memcpy(&f, &bits, 4);
    return f;
}
std::uint16_t fp32ToBf16(float f); // round to nearest even

inline constexpr int kQK = 32;   // elements per block of the simple formats
inline constexpr int kQKK = 256; // elements per super-block of the k-quants

// value = (q - 8) * d; element i < 16 is the low nibble of qs[i], element 16 + i the high one.
struct BlockQ4_0 {
    std::uint16_t d;
    std::uint8_t qs[kQK / 2];
};
// value = q * d + m; nibble order as Q4_0.
struct BlockQ4_1 {
    std::uint16_t d;
    std::uint16_t m;
    std::uint8_t qs[kQK / 2];
};
// value = q * d.
struct BlockQ8_0 {
    std::uint16_t d;
    std::int8_t qs[kQK];
};
// 8 sub-blocks of 32 with 6-bit scales and mins packed in `scales`;
// value = d * sc * q - dmin * m. Each 64-element chunk uses 32 bytes of qs: low nibbles give
// the first 32 elements (sub-block 2j), high nibbles the next 32 (sub-block 2j + 1).
struct BlockQ4_K {
    std::uint16_t d;
    std::uint16_t dmin;
    std::uint8_t scales[12];
    std::uint8_t qs[kQKK / 2];
};
// As Q4_K plus a fifth bit per element in qh (bit 2j for the low half of chunk j, 2j+1 for the
// high half).
struct BlockQ5_K {
    std::uint16_t d;
    std::uint16_t dmin;
    std::uint8_t scales[12];
    std::uint8_t qh[kQKK / 8];
    std::uint8_t qs[kQKK / 2];
};
// 16 sub-blocks of 16 with int8 scales; value = d * sc * (q - 32), q = 4 low bits from ql and
// 2 high bits from qh.
struct BlockQ6_K {
    std::uint8_t ql[kQKK / 2];
    std::uint8_t qh[kQKK / 4];
    std::int8_t scales[kQKK / 16];
    std::uint16_t d;
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block.
inline void kScaleMin(int j, const std::uint8_t* q, std::uint8_t& sc, std::uint8_t& m)
{
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = std::uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        m = std::uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// Types this engine can compute with (dequantise and dot).
bool isSupportedWeightType(GgmlType type);
// Elements per block (1 for plain float types) and bytes per block; nullopt if unsupported.
std::optional<std::pair<std::size_t, std::size_t>> weightBlockLayout(GgmlType type);
// Bytes of one row of n elements; nullopt if unsupported or n is not a multiple of the block.
std::optional<std::size_t> rowBytes(GgmlType type, std::int64_t n);

// Dequantises one row of n elements (n a multiple of the block size) from src into dst.
std::expected<void, Error> dequantizeRow(GgmlType type, const std::byte* src, float* dst, std::int64_t n);

// Reference quantisers (round to nearest) used by tests and by conversion on load.
void quantizeRowQ8_0(const float* src, BlockQ8_0* dst, std::int64_t n);
void quantizeRowQ4_0(const float* src, BlockQ4_0* dst, std::int64_t n);
void quantizeRowQ4_1(const float* src, BlockQ4_1* dst, std::int64_t n);

} // namespace quire::inference
