#include "quire/inference/cuda/twins/int4.h"

#include <algorithm>
#include <cmath>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

namespace {

float roundHalfEven(float v)
{
    return std::nearbyint(v); // the default rounding mode: to nearest, ties to even (rintf on the device)
}

float code(float v, float inv)
{
    return std::min(std::max(roundHalfEven(v * inv), -8.0f), 7.0f);
}

// The device warp's sum: lane l holds partial[l]; an xor butterfly over offsets 16, 8, 4, 2, 1.
float butterflySum(float (&partial)[32])
{
    for (int o = 16; o > 0; o >>= 1) {
        float next[32];
        for (int l = 0; l < 32; ++l)
            next[l] = partial[l] + partial[l ^ o];
        std::copy(next, next + 32, partial);
    }
    return partial[0];
}

} // namespace

void int4Quantize(const std::uint16_t* w, long long ldw, bool inputMajor, Int4Host& out, int expert)
{
    const int n = out.n, k = out.k, G = out.groupSize, groups = int4Groups(k, G);
    out.q.resize(std::max(out.q.size(), out.qExpertBytes() * std::size_t(out.experts)));
    out.scales.resize(std::max(out.scales.size(), out.scaleExpertFloats() * std::size_t(out.experts)));
    std::uint8_t* q = out.q.data() + out.qExpertBytes() * std::size_t(expert);
    float* scales = out.scales.data() + out.scaleExpertFloats() * std::size_t(expert);
    std::vector<float> v(static_cast<std::size_t>(G));
    for (int r = 0; r < n; ++r)
        for (int grp = 0; grp < groups; ++grp) {
            const int c0 = grp * G, len = std::min(G, k - c0);
            float amax = 0.0f;
            for (int i = 0; i < len; ++i) {
                const long long at = inputMajor ? (long long)(c0 + i) * ldw + r : (long long)r * ldw + c0 + i;
                v[std::size_t(i)] = bf16ToFloat(w[at]);
                amax = std::max(amax, std::fabs(v[std::size_t(i)]));
            }
            float best = 0.0f;
            if (amax > 0.0f) {
                best = amax / 7.0f;
                float bestErr = INFINITY;
                for (int cand = 0; cand <= 8; cand += 2) {
                    const float scale = amax / (7.0f + 0.125f * float(cand));
                    const float inv = 1.0f / scale;
                    float lanes[32] = {};
                    for (int l = 0; l < 32; ++l)
                        for (int j = 0; j < 4; ++j) {
                            const int i = l * 4 + j;
                            if (i < len) {
                                const float d = code(v[std::size_t(i)], inv) * scale - v[std::size_t(i)];
                                lanes[l] = lanes[l] + d * d;
                            }
                        }
                    const float err = butterflySum(lanes);
                    if (err < bestErr) {
                        bestErr = err;
                        best = scale;
                    }
                }
            }
            const float inv = best > 0.0f ? 1.0f / best : 0.0f;
            scales[std::size_t(grp) * std::size_t(n) + std::size_t(r)] = best;
            std::uint8_t* row = q + std::size_t(r) * std::size_t(k / 2);
            for (int i = 0; i < len; i += 2) {
                const int lo = int(code(v[std::size_t(i)], inv)) + 8,
                          hi = int(code(v[std::size_t(i + 1)], inv)) + 8;
                row[(c0 + i) / 2] = std::uint8_t(lo | (hi << 4));
            }
        }
}

void int4DequantizeRow(const Int4Host& w, int expert, int r, float* out)
{
    const std::uint8_t* row =
        w.q.data() + w.qExpertBytes() * std::size_t(expert) + std::size_t(r) * std::size_t(w.k / 2);
    const float* scales = w.scales.data() + w.scaleExpertFloats() * std::size_t(expert);
    for (int c = 0; c < w.k; ++c) {
        const int u = (c & 1) ? row[c / 2] >> 4 : row[c / 2] & 0x0f;
        out[c] = float(u - 8) * scales[std::size_t(c / w.groupSize) * std::size_t(w.n) + std::size_t(r)];
    }
}

namespace {

// sum over [c0, c1) of (u - 8) * x[c] in fp32.
float codeDot(const std::uint8_t* row, const std::uint16_t* x, int c0, int c1)
{
    float s = 0.0f;
    for (int c = c0; c < c1; ++c) {
        const int u = (c & 1) ? row[c / 2] >> 4 : row[c / 2] & 0x0f;
        s += float(u - 8) * bf16ToFloat(x[c]);
    }
    return s;
}

float rowProduct(const Int4Host& w, int expert, int r, const std::uint16_t* x, int step)
{
    const std::uint8_t* row =
        w.q.data() + w.qExpertBytes() * std::size_t(expert) + std::size_t(r) * std::size_t(w.k / 2);
    const float* scales = w.scales.data() + w.scaleExpertFloats() * std::size_t(expert);
    float acc = 0.0f;
    for (int c = 0; c < w.k; c += step)
        acc += scales[std::size_t(c / w.groupSize) * std::size_t(w.n) + std::size_t(r)] *
               codeDot(row, x, c, std::min(w.k, c + step));
    return acc;
}

} // namespace

void int4Gemv(const Int4Host& w, const std::uint16_t* x, int batch, const std::int32_t* expertIds, float* y)
{
    for (int b = 0; b < batch; ++b)
        for (int r = 0; r < w.n; ++r)
            y[std::size_t(b) * std::size_t(w.n) + std::size_t(r)] =
                rowProduct(w, expertIds ? expertIds[b] : 0, r, x + std::size_t(b) * std::size_t(w.k), 32);
}

void int4Gemm(const std::uint16_t* a, const Int4Host& w, const std::int32_t* rowOffsets, int rows, float* c)
{
    const int experts = rowOffsets ? w.experts : 1;
    for (int e = 0; e < experts; ++e) {
        const int begin = rowOffsets ? rowOffsets[e] : 0, end = rowOffsets ? rowOffsets[e + 1] : rows;
        for (int i = begin; i < end; ++i)
            for (int r = 0; r < w.n; ++r)
                c[std::size_t(i) * std::size_t(w.n) + std::size_t(r)] =
                    rowProduct(w, e, r, a + std::size_t(i) * std::size_t(w.k), kInt4GemmBlockK);
    }
}

} // namespace quire::inference::cuda::twins
