#include "quire/inference/cuda/twins/kv_fp8.h"

#include <algorithm>
#include <cmath>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

float fp8E4M3ToFloat(std::uint8_t bits)
{
    const int e = (bits >> 3) & 15, m = bits & 7;
    float v;
    if (e == 15 && m == 7)
        v = NAN;
    else if (e == 0)
        v = std::ldexp(float(m), -9); // subnormal: m/8 * 2^-6
    else
        v = std::ldexp(1.0f + float(m) / 8.0f, e - 7);
    return (bits & 0x80) ? -v : v;
}

std::uint8_t floatToFp8E4M3(float x)
{
    if (std::isnan(x))
        return 0x7F;
    const std::uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
    const float a = std::fabs(x);
    if (a >= 448.0f)
        return sign | 0x7E;
    // The two neighbours among the positive codes 0..0x7E (increasing with the code); ties to the even code.
    int lo = 0;
    while (lo < 0x7E && fp8E4M3ToFloat(std::uint8_t(lo + 1)) <= a)
        ++lo;
    if (lo == 0x7E || fp8E4M3ToFloat(std::uint8_t(lo)) == a)
        return sign | std::uint8_t(lo);
    const float dl = a - fp8E4M3ToFloat(std::uint8_t(lo)), dh = fp8E4M3ToFloat(std::uint8_t(lo + 1)) - a;
    const int pick = dl < dh ? lo : (dh < dl ? lo + 1 : ((lo & 1) ? lo + 1 : lo));
    return sign | std::uint8_t(pick);
}

void Fp8KvHost::allocate(int pageCount, int tokensPerPage, int heads, int dim)
{
    pages = pageCount;
    pageSize = tokensPerPage;
    numKvHeads = heads;
    headDim = dim;
    const std::size_t n = std::size_t(pages) * std::size_t(pageSize) * std::size_t(heads) * std::size_t(dim);
    k.assign(n, 0);
    v.assign(n, 0);
    kScales.assign(std::size_t(pages) * std::size_t(heads), 0.0f);
    vScales.assign(kScales.size(), 0.0f);
}

void kvFp8Append(Fp8KvHost& c, const std::int32_t* pageTable, int start, int tokens, const std::uint16_t* k,
                 long long kStride, const std::uint16_t* v, long long vStride)
{
    if (tokens <= 0)
        return;
    const int D = c.headDim, G = c.numKvHeads, ps = c.pageSize;
    for (int lp = start / ps; lp <= (start + tokens - 1) / ps; ++lp)
        for (int h = 0; h < G; ++h) {
            const long long page = pageTable[lp];
            const int pageTok = lp * ps;
            const int s0 = std::max(start, pageTok) - pageTok,
                      s1 = std::min(start + tokens, pageTok + ps) - pageTok;
            for (int which = 0; which < 2; ++which) {
                const std::uint16_t* src = which ? v : k;
                const long long stride = which ? vStride : kStride;
                std::vector<std::uint8_t>& pages = which ? c.v : c.k;
                std::vector<float>& scales = which ? c.vScales : c.kScales;
                const auto srcAt = [&](int slot, int d) {
                    return bf16ToFloat(
                        src[(long long)(pageTok + slot - start) * stride + (long long)h * D + d]);
                };
                const auto cacheAt = [&](int slot, int d) -> std::uint8_t& {
                    return pages[std::size_t(((page * ps + slot) * G + h) * D + d)];
                };
                float amax = 0.0f;
                for (int s = s0; s < s1; ++s)
                    for (int d = 0; d < D; ++d)
                        amax = std::max(amax, std::fabs(srcAt(s, d)));
                const float old = s0 > 0 ? scales[std::size_t(page * G + h)] : 0.0f;
                const float scale = std::max(old, amax / 448.0f);
                const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
                if (s0 > 0 && scale > old)
                    for (int s = 0; s < s0; ++s)
                        for (int d = 0; d < D; ++d) {
                            std::uint8_t& b = cacheAt(s, d);
                            b = floatToFp8E4M3(fp8E4M3ToFloat(b) * old * inv);
                        }
                for (int s = s0; s < s1; ++s)
                    for (int d = 0; d < D; ++d)
                        cacheAt(s, d) = floatToFp8E4M3(srcAt(s, d) * inv);
                scales[std::size_t(page * G + h)] = scale;
            }
        }
}

void kvFp8Gather(const Fp8KvHost& c, const std::int32_t* pageTable, int len, std::uint16_t* kOut,
                 std::uint16_t* vOut)
{
    const int D = c.headDim, G = c.numKvHeads, ps = c.pageSize;
    for (int t = 0; t < len; ++t) {
        const long long page = pageTable[t / ps];
        for (int i = 0; i < G * D; ++i) {
            const std::size_t at = std::size_t((page * ps + t % ps) * G * D + i);
            const std::size_t sc = std::size_t(page * G + i / D);
            kOut[std::size_t(t) * std::size_t(G * D) + std::size_t(i)] =
                floatToBf16(fp8E4M3ToFloat(c.k[at]) * c.kScales[sc]);
            vOut[std::size_t(t) * std::size_t(G * D) + std::size_t(i)] =
                floatToBf16(fp8E4M3ToFloat(c.v[at]) * c.vScales[sc]);
        }
    }
}

void attentionDecodeFp8(const Fp8KvHost& c, const std::int32_t* pageTable, int len, const std::uint16_t* q,
                        int numQHeads, float scale, float* out)
{
    const int D = c.headDim, G = c.numKvHeads, ps = c.pageSize, R = numQHeads / G;
    std::vector<double> s(std::size_t(std::max(len, 1)));
    for (int hq = 0; hq < numQHeads; ++hq) {
        const int h = hq / R;
        const auto value = [&](const std::vector<std::uint8_t>& pages, const std::vector<float>& scales,
                               int j, int d) {
            const long long page = pageTable[j / ps];
            return double(fp8E4M3ToFloat(pages[std::size_t(((page * ps + j % ps) * G + h) * D + d)])) *
                   scales[std::size_t(page * G + h)];
        };
        double m = -INFINITY;
        for (int j = 0; j < len; ++j) {
            double dot = 0;
            for (int d = 0; d < D; ++d)
                dot += double(bf16ToFloat(q[std::size_t(hq) * std::size_t(D) + std::size_t(d)])) *
                       value(c.k, c.kScales, j, d);
            s[std::size_t(j)] = dot * scale;
            m = std::max(m, s[std::size_t(j)]);
        }
        double l = 0;
        for (int j = 0; j < len; ++j)
            l += (s[std::size_t(j)] = std::exp(s[std::size_t(j)] - m));
        for (int d = 0; d < D; ++d) {
            double o = 0;
            for (int j = 0; j < len; ++j)
                o += s[std::size_t(j)] * value(c.v, c.vScales, j, d);
            out[std::size_t(hq) * std::size_t(D) + std::size_t(d)] = float(l > 0 ? o / l : 0);
        }
    }
}

} // namespace quire::inference::cuda::twins
