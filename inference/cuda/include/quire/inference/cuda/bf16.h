// Host-side bfloat16 and IEEE half conversions for the CUDA backend's CPU twins and tests. A bf16
// value travels as its 16 raw bits (std::uint16_t) across every launcher, so plain C++ code can
// produce and read device tensors without the CUDA headers. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>

namespace quire::inference::cuda {

inline float bf16ToFloat(std::uint16_t bits)
{
    const std::uint32_t u = std::uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// Round to nearest even, as __float2bfloat16_rn does on the device; NaN stays a (quiet) NaN.
inline std::uint16_t floatToBf16(float f)
{
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return static_cast<std::uint16_t>((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
}

inline float roundToBf16(float f)
{
    return bf16ToFloat(floatToBf16(f));
}

// IEEE binary16 (GGUF block scales) to float, subnormals included.
inline float halfToFloat(std::uint16_t h)
{
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t man = h & 0x3ffu;
    std::uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { // subnormal: value = man * 2^-24
            float f = static_cast<float>(man) * (1.0f / 16777216.0f);
            std::memcpy(&u, &f, sizeof u);
            u |= sign;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// float to IEEE binary16, round to nearest even (test data generation).
inline std::uint16_t floatToHalf(float f)
{
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    const std::uint16_t sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t absu = u & 0x7fffffffu;
    if (absu >= 0x7f800000u)
        return static_cast<std::uint16_t>(sign | 0x7c00u | (absu > 0x7f800000u ? 0x200u : 0u));
    if (absu >= 0x477ff000u) // rounds to >= 65520: overflow to infinity
        return static_cast<std::uint16_t>(sign | 0x7c00u);
    if (absu < 0x38800000u) { // below the smallest normal half: subnormal or zero
        float a;
        std::memcpy(&a, &absu, sizeof a);
        const float scaled = a * 16777216.0f; // in units of 2^-24
        auto m = static_cast<std::uint32_t>(scaled);
        const float rest = scaled - static_cast<float>(m);
        if (rest > 0.5f || (rest == 0.5f && (m & 1u)))
            ++m;
        return static_cast<std::uint16_t>(sign | m);
    }
    std::uint32_t v = absu - (112u << 23);
    v += 0xfffu + ((v >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | (v >> 13));
}

} // namespace quire::inference::cuda
