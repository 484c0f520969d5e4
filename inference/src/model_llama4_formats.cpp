// The Llama 4 weight formats: row sizes, encoders (quantization on load) and scalar decoders.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "llama4_formats.h"
#include "quire/inference/quant.h"

namespace quire::inference {

std::string_view toString(WeightFormat format)
{
    switch (format) {
    case WeightFormat::Source:
        return "source";
    case WeightFormat::F32:
        return "f32";
    case WeightFormat::F16:
        return "f16";
    case WeightFormat::BF16:
        return "bf16";
    case WeightFormat::Ggml:
        return "ggml";
    case WeightFormat::Int8:
        return "int8";
    case WeightFormat::Fp8E4M3:
        return "fp8-e4m3";
    case WeightFormat::Int4:
        return "int4";
    }
    return "?";
}

std::size_t weightRowBytes(WeightFormat format, std::int64_t cols, int groupSize, GgmlType ggmlType)
{
    if (cols <= 0)
        return 0;
    const auto n = std::size_t(cols);
    switch (format) {
    case WeightFormat::F32:
        return 4 * n;
    case WeightFormat::F16:
    case WeightFormat::BF16:
        return 2 * n;
    case WeightFormat::Int8:
    case WeightFormat::Fp8E4M3:
        return 4 + n;
    case WeightFormat::Int4: {
        if (groupSize <= 0)
            return 0;
        const std::size_t groups = (n + std::size_t(groupSize) - 1) / std::size_t(groupSize);
        return 4 * groups + (n + 1) / 2;
    }
    case WeightFormat::Ggml:
        return rowBytes(ggmlType, cols).value_or(0);
    case WeightFormat::Source:
        return 0;
    }
    return 0;
}

std::expected<Llama4Quantization, Error> Llama4Quantization::preset(std::string_view name)
{
    Llama4Quantization q;
    if (name == "none" || name.empty())
        return q;
    if (name == "int4-fp8" || name == "int4-int8") {
        q.experts = q.sharedFfn = WeightFormat::Int4;
        q.attention = q.lmHead = name == "int4-fp8" ? WeightFormat::Fp8E4M3 : WeightFormat::Int8;
        return q;
    }
    if (name == "int8" || name == "fp8") {
        q.experts = q.sharedFfn = q.attention = q.lmHead =
            name == "int8" ? WeightFormat::Int8 : WeightFormat::Fp8E4M3;
        return q;
    }
    return std::unexpected(Error{ErrorCode::InvalidArgument, "unknown quantization '" + std::string(name) +
                                                                 "' (none, int4-fp8, int4-int8, int8, fp8)"});
}

bool Llama4Quantization::any() const
{
    return experts != WeightFormat::Source || sharedFfn != WeightFormat::Source ||
           attention != WeightFormat::Source || lmHead != WeightFormat::Source;
}

std::string Llama4Quantization::describe() const
{
    if (!any())
        return "as stored";
    std::string s = "experts ";
    s += toString(experts);
    if (experts == WeightFormat::Int4 || sharedFfn == WeightFormat::Int4)
        s += " (group " + std::to_string(groupSize) + ")";
    s += ", shared ffn ";
    s += toString(sharedFfn);
    s += ", attention ";
    s += toString(attention);
    s += ", lm head ";
    s += toString(lmHead);
    return s;
}

namespace l4 {

namespace {

// Round to nearest, ties to even, for |x| < 2^22 (every caller's range): adding 1.5 * 2^23 leaves
// no fraction bits, so the FPU's own rounding does the work (libm's nearbyint is a call).
float roundEven(float x)
{
    constexpr float kMagic = 12582912.0f; // 1.5 * 2^23
    return (x + kMagic) - kMagic;
}

} // namespace

float fp8ToFloat(std::uint8_t bits)
{
    const int exp = (bits >> 3) & 0xF;
    const int mant = bits & 7;
    float v;
    if (exp == 0)
        v = std::ldexp(float(mant), -9); // subnormal: m/8 * 2^-6
    else if (exp == 15 && mant == 7)
        v = NAN;
    else
        v = std::ldexp(1.0f + float(mant) / 8.0f, exp - 7);
    return (bits & 0x80) ? -v : v;
}

std::uint8_t floatToFp8(float x)
{
    const std::uint8_t sign = std::signbit(x) ? 0x80 : 0;
    const float a = std::fabs(x);
    if (!(a < kFp8Max)) // saturate (NaN included: never produced by the encoders below)
        return sign | 0x7E;
    if (a < 0.015625f) // below 2^-6: subnormal steps of 2^-9; q == 8 is the smallest normal
        return sign | std::uint8_t(roundEven(a * 512.0f));
    int e = 0;
    std::frexp(a, &e);
    int exp = e - 1; // a = 1.m * 2^exp, exp in -6..8
    int q = int(roundEven((std::ldexp(a, -exp) - 1.0f) * 8.0f));
    if (q == 8) {
        q = 0;
        ++exp;
    }
    if (exp > 8 || (exp == 8 && q > 6))
        return sign | 0x7E;
    return std::uint8_t(sign | ((exp + 7) << 3) | q);
}

namespace {

float absMax(const float* x, std::int64_t n)
{
    float m = 0.0f;
    for (std::int64_t i = 0; i < n; ++i)
        m = std::max(m, std::fabs(x[i]));
    return m;
}

// The int4 step of a group: the candidate around |x|max / 7 with the least squared error over
// codes -8..7 (a plain |x|max / 7 wastes code -8 and rounds every value to the outlier's grid).
float int4Scale(const float* x, std::int64_t n)
{
    const float amax = absMax(x, n);
    if (amax == 0)
        return 0.0f;
    float best = amax / 7.0f;
    float bestErr = INFINITY;
    for (int k = 0; k <= 8; k += 2) {
        const float scale = amax / (7.0f + 0.125f * float(k));
        const float inv = 1.0f / scale;
        float lanes[8] = {}; // eight independent sums, so the loop vectorises
        std::int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; ++j) {
                const float q = std::min(std::max(roundEven(x[i + j] * inv), -8.0f), 7.0f);
                const float d = q * scale - x[i + j];
                lanes[j] += d * d;
            }
        float err = 0.0f;
        for (; i < n; ++i) {
            const float q = std::min(std::max(roundEven(x[i] * inv), -8.0f), 7.0f);
            err += (q * scale - x[i]) * (q * scale - x[i]);
        }
        for (const float l : lanes)
            err += l;
        if (err < bestErr) {
            bestErr = err;
            best = scale;
        }
    }
    return best;
}

} // namespace

void encodeRow(WeightFormat format, const float* src, std::byte* dst, std::int64_t cols, int groupSize)
{
    switch (format) {
    case WeightFormat::F32:
        std::memcpy(dst, src, std::size_t(cols) * 4);
        return;
    case WeightFormat::F16:
    case WeightFormat::BF16: {
        auto* out = reinterpret_cast<std::uint16_t*>(dst);
        for (std::int64_t i = 0; i < cols; ++i)
            out[i] = format == WeightFormat::F16 ? fp32ToFp16(src[i]) : fp32ToBf16(src[i]);
        return;
    }
    case WeightFormat::Int8: {
        const float scale = absMax(src, cols) / 127.0f;
        const float inv = scale > 0 ? 1.0f / scale : 0.0f;
        std::memcpy(dst, &scale, 4);
        auto* q = reinterpret_cast<std::int8_t*>(dst + 4);
        for (std::int64_t i = 0; i < cols; ++i)
            q[i] = std::int8_t(std::clamp(roundEven(src[i] * inv), -127.0f, 127.0f));
        return;
    }
    case WeightFormat::Fp8E4M3: {
        const float scale = absMax(src, cols) / kFp8Max;
        const float inv = scale > 0 ? 1.0f / scale : 0.0f;
        std::memcpy(dst, &scale, 4);
        auto* q = reinterpret_cast<std::uint8_t*>(dst + 4);
        for (std::int64_t i = 0; i < cols; ++i)
            q[i] = floatToFp8(src[i] * inv);
        return;
    }
    case WeightFormat::Int4: {
        const std::int64_t groups = (cols + groupSize - 1) / groupSize;
        auto* packed = reinterpret_cast<std::uint8_t*>(dst + 4 * groups);
        std::memset(packed, 0x88, std::size_t(cols + 1) / 2);
        for (std::int64_t g = 0; g < groups; ++g) {
            const std::int64_t b = g * groupSize, e = std::min<std::int64_t>(cols, b + groupSize);
            const float scale = int4Scale(src + b, e - b);
            const float inv = scale > 0 ? 1.0f / scale : 0.0f;
            std::memcpy(dst + 4 * g, &scale, 4);
            for (std::int64_t i = b; i < e; ++i) {
                const auto q = std::uint8_t(int(std::clamp(roundEven(src[i] * inv), -8.0f, 7.0f)) + 8);
                std::uint8_t& byte = packed[i / 2];
                byte = (i & 1) ? std::uint8_t((byte & 0x0F) | (q << 4)) : std::uint8_t((byte & 0xF0) | q);
            }
        }
        return;
    }
    case WeightFormat::Ggml:
    case WeightFormat::Source:
        break;
    }
}

void decodeRow(const WeightMatrix& w, std::int64_t r, float* dst)
{
    const std::byte* row = w.row(r);
    const std::int64_t cols = w.cols;
    switch (w.format) {
    case WeightFormat::F32:
        std::memcpy(dst, row, std::size_t(cols) * 4);
        return;
    case WeightFormat::F16:
    case WeightFormat::BF16: {
        const auto* h = reinterpret_cast<const std::uint16_t*>(row);
        for (std::int64_t i = 0; i < cols; ++i)
            dst[i] = w.format == WeightFormat::F16 ? fp16ToFp32(h[i]) : bf16ToFp32(h[i]);
        return;
    }
    case WeightFormat::Int8: {
        float scale;
        std::memcpy(&scale, row, 4);
        const auto* q = reinterpret_cast<const std::int8_t*>(row + 4);
        for (std::int64_t i = 0; i < cols; ++i)
            dst[i] = float(q[i]) * scale;
        return;
    }
    case WeightFormat::Fp8E4M3: {
        float scale;
        std::memcpy(&scale, row, 4);
        const auto* q = reinterpret_cast<const std::uint8_t*>(row + 4);
        for (std::int64_t i = 0; i < cols; ++i)
            dst[i] = fp8ToFloat(q[i]) * scale;
        return;
    }
    case WeightFormat::Int4: {
        const std::int64_t g = w.groupSize;
        const std::int64_t groups = (cols + g - 1) / g;
        const auto* packed = reinterpret_cast<const std::uint8_t*>(row + 4 * groups);
        for (std::int64_t i = 0; i < cols; ++i) {
            float scale;
            std::memcpy(&scale, row + 4 * (i / g), 4);
            const int q = (i & 1) ? packed[i / 2] >> 4 : packed[i / 2] & 0xF;
            dst[i] = float(q - 8) * scale;
        }
        return;
    }
    case WeightFormat::Ggml:
        (void)dequantizeRow(w.ggmlType, row, dst, cols); // the type was checked on load
        return;
    case WeightFormat::Source:
        break;
    }
    std::fill(dst, dst + cols, 0.0f);
}

} // namespace l4

} // namespace quire::inference
