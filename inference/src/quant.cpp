#include "quire/inference/quant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

namespace quire::inference {

namespace {

float halfBitsToFloat(std::uint16_t h)
{
    const std::uint32_t sign = std::uint32_t(h & 0x8000) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1F;
    std::uint32_t mant = h & 0x3FF;
    std::uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400) == 0);
            bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((mant & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    return std::bit_cast<float>(bits);
}

struct HalfTable {
    float values[65536];
    HalfTable()
    {
        for (std::uint32_t i = 0; i < 65536; ++i)
            values[i] = halfBitsToFloat(std::uint16_t(i));
    }
};

const HalfTable& halfTable()
{
    static const HalfTable table;
    return table;
}

} // namespace

float fp16ToFp32(std::uint16_t h)
{
    return halfTable().values[h];
}

std::uint16_t fp32ToFp16(float f)
{
    const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
    const std::uint32_t sign = (x >> 16) & 0x8000;
    const std::uint32_t absx = x & 0x7FFFFFFF;
    if (absx >= 0x7F800000) // inf or nan
        return std::uint16_t(sign | 0x7C00 | (absx > 0x7F800000 ? 0x200 : 0));
    if (absx >= 0x477FF000) // rounds to >= 65520: overflow
        return std::uint16_t(sign | 0x7C00);
    if (absx < 0x38800000) { // below the smallest normal half: subnormal or zero
        const float a = std::bit_cast<float>(absx);
        // 2^-24 is the subnormal step; nearbyint rounds half to even.
        const auto m = std::uint32_t(std::nearbyint(a * 16777216.0f));
        return std::uint16_t(sign | m);
    }
    const std::uint32_t mant = absx & 0x7FFFFF;
    std::uint32_t h = ((absx >> 23) - 127 + 15) << 10 | (mant >> 13);
    const std::uint32_t rest = mant & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        ++h; // may carry into the exponent, which is still correct
    return std::uint16_t(sign | h);
}

std::uint16_t fp32ToBf16(float f)
{
    const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
    if ((x & 0x7FFFFFFF) > 0x7F800000)
        return std::uint16_t((x >> 16) | 0x40); // quiet nan
    const std::uint32_t rounding = 0x7FFF + ((x >> 16) & 1);
    return std::uint16_t((x + rounding) >> 16);
}

bool isSupportedWeightType(GgmlType type)
{
    return weightBlockLayout(type).has_value();
}

std::optional<std::pair<std::size_t, std::size_t>> weightBlockLayout(GgmlType type)
{
    switch (type) {
    case GgmlType::F32:
        return std::pair<std::size_t, std::size_t>{1, 4};
    case GgmlType::F16:
        return std::pair<std::size_t, std::size_t>{1, 2};
    case GgmlType::BF16:
        return std::pair<std::size_t, std::size_t>{1, 2};
    case GgmlType::Q4_0:
        return std::pair<std::size_t, std::size_t>{kQK, sizeof(BlockQ4_0)};
    case GgmlType::Q4_1:
        return std::pair<std::size_t, std::size_t>{kQK, sizeof(BlockQ4_1)};
    case GgmlType::Q8_0:
        return std::pair<std::size_t, std::size_t>{kQK, sizeof(BlockQ8_0)};
    case GgmlType::Q4_K:
        return std::pair<std::size_t, std::size_t>{kQKK, sizeof(BlockQ4_K)};
    case GgmlType::Q5_K:
        return std::pair<std::size_t, std::size_t>{kQKK, sizeof(BlockQ5_K)};
    case GgmlType::Q6_K:
        return std::pair<std::size_t, std::size_t>{kQKK, sizeof(BlockQ6_K)};
    default:
        return std::nullopt;
    }
}

std::optional<std::size_t> rowBytes(GgmlType type, std::int64_t n)
{
    const auto layout = weightBlockLayout(type);
    if (!layout || n < 0 || std::size_t(n) % layout->first != 0)
        return std::nullopt;
    return std::size_t(n) / layout->first * layout->second;
}

namespace {

void dequantQ4_0(const BlockQ4_0* b, float* y, std::int64_t nb)
{
    for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
        const float d = fp16ToFp32(b[i].d);
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = float((b[i].qs[j] & 0xF) - 8) * d;
            y[j + kQK / 2] = float((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantQ4_1(const BlockQ4_1* b, float* y, std::int64_t nb)
{
    for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
        const float d = fp16ToFp32(b[i].d);
        const float m = fp16ToFp32(b[i].m);
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = float(b[i].qs[j] & 0xF) * d + m;
            y[j + kQK / 2] = float(b[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantQ8_0(const BlockQ8_0* b, float* y, std::int64_t nb)
{
    for (std::int64_t i = 0; i < nb; ++i, y += kQK) {
        const float d = fp16ToFp32(b[i].d);
        for (int j = 0; j < kQK; ++j)
            y[j] = float(b[i].qs[j]) * d;
    }
}

void dequantQ4_K(const BlockQ4_K* b, float* y, std::int64_t nb)
{
    for (std::int64_t i = 0; i < nb; ++i) {
        const float d = fp16ToFp32(b[i].d);
        const float dmin = fp16ToFp32(b[i].dmin);
        const std::uint8_t* q = b[i].qs;
        for (int chunk = 0; chunk < 4; ++chunk, q += 32) {
            std::uint8_t sc0, m0, sc1, m1;
            kScaleMin(2 * chunk, b[i].scales, sc0, m0);
            kScaleMin(2 * chunk + 1, b[i].scales, sc1, m1);
            const float d0 = d * sc0, o0 = dmin * m0, d1 = d * sc1, o1 = dmin * m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d0 * float(q[l] & 0xF) - o0;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * float(q[l] >> 4) - o1;
        }
    }
}

void dequantQ5_K(const BlockQ5_K* b, float* y, std::int64_t nb)
{
    for (std::int64_t i = 0; i < nb; ++i) {
        const float d = fp16ToFp32(b[i].d);
        const float dmin = fp16ToFp32(b[i].dmin);
        const std::uint8_t* q = b[i].qs;
        for (int chunk = 0; chunk < 4; ++chunk, q += 32) {
            std::uint8_t sc0, m0, sc1, m1;
            kScaleMin(2 * chunk, b[i].scales, sc0, m0);
            kScaleMin(2 * chunk + 1, b[i].scales, sc1, m1);
            const float d0 = d * sc0, o0 = dmin * m0, d1 = d * sc1, o1 = dmin * m1;
            const int lowBit = 2 * chunk, highBit = 2 * chunk + 1;
            for (int l = 0; l < 32; ++l)
                *y++ = d0 * float((q[l] & 0xF) | (((b[i].qh[l] >> lowBit) & 1) << 4)) - o0;
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * float((q[l] >> 4) | (((b[i].qh[l] >> highBit) & 1) << 4)) - o1;
        }
    }
}

void dequantQ6_K(const BlockQ6_K* b, float* y, std::int64_t nb)
{
    for (std::int64_t i = 0; i < nb; ++i) {
        const float d = fp16ToFp32(b[i].d);
        for (int half = 0; half < 2; ++half, y += 128) {
            const std::uint8_t* ql = b[i].ql + 64 * half;
            const std::uint8_t* qh = b[i].qh + 32 * half;
            const std::int8_t* sc = b[i].scales + 8 * half;
            for (int l = 0; l < 32; ++l) {
                const int s = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * float(sc[s + 0]) * float(q1);
                y[l + 32] = d * float(sc[s + 2]) * float(q2);
                y[l + 64] = d * float(sc[s + 4]) * float(q3);
                y[l + 96] = d * float(sc[s + 6]) * float(q4);
            }
        }
    }
}

} // namespace

std::expected<void, Error> dequantizeRow(GgmlType type, const std::byte* src, float* dst, std::int64_t n)
{
    const auto layout = weightBlockLayout(type);
    if (!layout)
        return std::unexpected(
            Error{ErrorCode::Unsupported, std::string("cannot dequantise tensor type ") + toString(type)});
    if (n < 0 || std::size_t(n) % layout->first != 0)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "row of " + std::to_string(n) +
                                                                     " elements is not a whole number of " +
                                                                     toString(type) + " blocks"});
    const std::int64_t nb = n / std::int64_t(layout->first);
    switch (type) {
    case GgmlType::F32:
        std::copy_n(reinterpret_cast<const float*>(src), n, dst);
        break;
    case GgmlType::F16: {
        const auto* h = reinterpret_cast<const std::uint16_t*>(src);
        const float* table = halfTable().values;
        for (std::int64_t i = 0; i < n; ++i)
            dst[i] = table[h[i]];
        break;
    }
    case GgmlType::BF16: {
        const auto* h = reinterpret_cast<const std::uint16_t*>(src);
        for (std::int64_t i = 0; i < n; ++i)
            dst[i] = bf16ToFp32(h[i]);
        break;
    }
    case GgmlType::Q4_0:
        dequantQ4_0(reinterpret_cast<const BlockQ4_0*>(src), dst, nb);
        break;
    case GgmlType::Q4_1:
        dequantQ4_1(reinterpret_cast<const BlockQ4_1*>(src), dst, nb);
        break;
    case GgmlType::Q8_0:
        dequantQ8_0(reinterpret_cast<const BlockQ8_0*>(src), dst, nb);
        break;
    case GgmlType::Q4_K:
        dequantQ4_K(reinterpret_cast<const BlockQ4_K*>(src), dst, nb);
        break;
    case GgmlType::Q5_K:
        dequantQ5_K(reinterpret_cast<const BlockQ5_K*>(src), dst, nb);
        break;
    case GgmlType::Q6_K:
        dequantQ6_K(reinterpret_cast<const BlockQ6_K*>(src), dst, nb);
        break;
    default:
        break;
    }
    return {};
}

void quantizeRowQ8_0(const float* src, BlockQ8_0* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        float amax = 0;
        for (int j = 0; j < kQK; ++j)
            amax = std::max(amax, std::fabs(src[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        dst[i].d = fp32ToFp16(d);
        for (int j = 0; j < kQK; ++j)
            dst[i].qs[j] = std::int8_t(std::lround(src[j] * id));
    }
}

void quantizeRowQ4_0(const float* src, BlockQ4_0* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        float amax = 0, vmax = 0; // the value of largest magnitude maps to -8
        for (int j = 0; j < kQK; ++j)
            if (std::fabs(src[j]) > amax) {
                amax = std::fabs(src[j]);
                vmax = src[j];
            }
        const float d = vmax / -8.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        dst[i].d = fp32ToFp16(d);
        for (int j = 0; j < kQK / 2; ++j) {
            const int a = std::clamp(int(std::lround(src[j] * id)) + 8, 0, 15);
            const int b = std::clamp(int(std::lround(src[j + kQK / 2] * id)) + 8, 0, 15);
            dst[i].qs[j] = std::uint8_t(a | (b << 4));
        }
    }
}

void quantizeRowQ4_1(const float* src, BlockQ4_1* dst, std::int64_t n)
{
    for (std::int64_t i = 0; i < n / kQK; ++i, src += kQK) {
        float lo = src[0], hi = src[0];
        for (int j = 1; j < kQK; ++j) {
            lo = std::min(lo, src[j]);
            hi = std::max(hi, src[j]);
        }
        const float d = (hi - lo) / 15.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        dst[i].d = fp32ToFp16(d);
        dst[i].m = fp32ToFp16(lo);
        for (int j = 0; j < kQK / 2; ++j) {
            const int a = std::clamp(int(std::lround((src[j] - lo) * id)), 0, 15);
            const int b = std::clamp(int(std::lround((src[j + kQK / 2] - lo) * id)), 0, 15);
            dst[i].qs[j] = std::uint8_t(a | (b << 4));
        }
    }
}

} // namespace quire::inference
