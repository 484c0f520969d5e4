#include "quire/inference/cuda/twins/quant.h"

#include <cstring>
#include <vector>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

namespace {

std::uint16_t readU16(const std::uint8_t* p)
{
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); // GGUF is little-endian
}

// Same operation order as the device dequantiser (no fused multiply-add): bit-identical results.
void dequantQ4_0(const std::uint8_t* block, float* y)
{
    const float d = halfToFloat(readU16(block));
    for (int i = 0; i < 16; ++i) {
        y[i] = static_cast<float>((block[2 + i] & 0x0f) - 8) * d;
        y[i + 16] = static_cast<float>((block[2 + i] >> 4) - 8) * d;
    }
}

void dequantQ4_1(const std::uint8_t* block, float* y)
{
    const float d = halfToFloat(readU16(block));
    const float m = halfToFloat(readU16(block + 2));
    for (int i = 0; i < 16; ++i) {
        y[i] = d * static_cast<float>(block[4 + i] & 0x0f) + m;
        y[i + 16] = d * static_cast<float>(block[4 + i] >> 4) + m;
    }
}

void dequantQ8_0(const std::uint8_t* block, float* y)
{
    const float d = halfToFloat(readU16(block));
    for (int i = 0; i < 32; ++i)
        y[i] = d * static_cast<float>(static_cast<std::int8_t>(block[2 + i]));
}

// The 6-bit scale and min of sub-block j (0..7) from Q4_K's 12 packed bytes: sub-blocks 0-3 keep theirs
// in the low 6 bits of bytes j and j+4; sub-blocks 4-7 split theirs between a nibble of byte j+4 and the
// top two bits of bytes j-4 (scale) and j (min).
void q4kScaleMin(int j, const std::uint8_t* s, int& scale, int& min)
{
    if (j < 4) {
        scale = s[j] & 63;
        min = s[j + 4] & 63;
    } else {
        scale = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

void dequantQ4_K(const std::uint8_t* block, float* y)
{
    const float d = halfToFloat(readU16(block));
    const float dmin = halfToFloat(readU16(block + 2));
    const std::uint8_t* scales = block + 4;
    const std::uint8_t* qs = block + 16;
    for (int c = 0; c < 4; ++c) { // 64 values per 32 bytes: low nibbles first, then high nibbles
        int sc0, m0, sc1, m1;
        q4kScaleMin(2 * c, scales, sc0, m0);
        q4kScaleMin(2 * c + 1, scales, sc1, m1);
        const float d0 = d * static_cast<float>(sc0), min0 = dmin * static_cast<float>(m0);
        const float d1 = d * static_cast<float>(sc1), min1 = dmin * static_cast<float>(m1);
        for (int l = 0; l < 32; ++l) {
            y[64 * c + l] = d0 * static_cast<float>(qs[32 * c + l] & 0x0f) - min0;
            y[64 * c + 32 + l] = d1 * static_cast<float>(qs[32 * c + l] >> 4) - min1;
        }
    }
}

void dequantQ6_K(const std::uint8_t* block, float* y)
{
    const std::uint8_t* ql = block;
    const std::uint8_t* qh = block + 128;
    const auto* sc = reinterpret_cast<const std::int8_t*>(block + 192);
    const float d = halfToFloat(readU16(block + 208));
    for (int n = 0; n < 2; ++n) { // two halves of 128 values
        const std::uint8_t* l4 = ql + 64 * n;
        const std::uint8_t* h2 = qh + 32 * n;
        const std::int8_t* s = sc + 8 * n;
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q0 = ((l4[l] & 0x0f) | (((h2[l] >> 0) & 3) << 4)) - 32;
            const int q1 = ((l4[l + 32] & 0x0f) | (((h2[l] >> 2) & 3) << 4)) - 32;
            const int q2 = ((l4[l] >> 4) | (((h2[l] >> 4) & 3) << 4)) - 32;
            const int q3 = ((l4[l + 32] >> 4) | (((h2[l] >> 6) & 3) << 4)) - 32;
            y[128 * n + l] = d * static_cast<float>(s[is]) * static_cast<float>(q0);
            y[128 * n + l + 32] = d * static_cast<float>(s[is + 2]) * static_cast<float>(q1);
            y[128 * n + l + 64] = d * static_cast<float>(s[is + 4]) * static_cast<float>(q2);
            y[128 * n + l + 96] = d * static_cast<float>(s[is + 6]) * static_cast<float>(q3);
        }
    }
}

} // namespace

void dequantizeRow(QuantType type, const std::uint8_t* row, int k, float* out)
{
    const int per = quantBlockValues(type), bytes = quantBlockBytes(type);
    for (int b = 0; b < k / per; ++b) {
        const std::uint8_t* block = row + static_cast<std::size_t>(b) * bytes;
        float* y = out + static_cast<std::size_t>(b) * per;
        switch (type) {
        case QuantType::Q4_0:
            dequantQ4_0(block, y);
            break;
        case QuantType::Q4_1:
            dequantQ4_1(block, y);
            break;
        case QuantType::Q8_0:
            dequantQ8_0(block, y);
            break;
        case QuantType::Q4_K:
            dequantQ4_K(block, y);
            break;
        case QuantType::Q6_K:
            dequantQ6_K(block, y);
            break;
        }
    }
}

void quantGemv(QuantType type, const std::uint8_t* w, int n, int k, const std::uint16_t* x, int batch,
               float* y)
{
    std::vector<float> row(static_cast<std::size_t>(k));
    const std::size_t rowBytes = quantRowBytes(type, k);
    for (int r = 0; r < n; ++r) {
        dequantizeRow(type, w + r * rowBytes, k, row.data());
        for (int b = 0; b < batch; ++b) {
            double acc = 0;
            const std::uint16_t* xb = x + static_cast<std::size_t>(b) * k;
            for (int c = 0; c < k; ++c)
                acc += static_cast<double>(row[static_cast<std::size_t>(c)]) * bf16ToFloat(xb[c]);
            y[static_cast<std::size_t>(b) * n + r] = static_cast<float>(acc);
        }
    }
}

void dequantizeBf16(QuantType type, const std::uint8_t* w, int n, int k, std::uint16_t* out)
{
    std::vector<float> row(static_cast<std::size_t>(k));
    const std::size_t rowBytes = quantRowBytes(type, k);
    for (int r = 0; r < n; ++r) {
        dequantizeRow(type, w + r * rowBytes, k, row.data());
        for (int c = 0; c < k; ++c)
            out[static_cast<std::size_t>(r) * k + c] = floatToBf16(row[static_cast<std::size_t>(c)]);
    }
}

} // namespace quire::inference::cuda::twins
