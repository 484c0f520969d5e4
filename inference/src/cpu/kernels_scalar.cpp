// Portable kernels: the fallback for CPUs without AVX2 and the twin the AVX2 kernels are tested
// against. Same arithmetic (integer block sums, float scales), written plainly.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "cpu/kernels.h"
#include "quire/inference/quant.h"

namespace quire::inference::cpu {

namespace {

void quantizeQ16A(const float* x, BlockQ16A* y, std::int64_t n)
{
    for (std::int64_t b = 0; b < n / 32; ++b, x += 32) {
        float amax = 0;
        for (int j = 0; j < 32; ++j)
            amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 32767.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            const int q = std::clamp(int(std::nearbyint(x[j] * id)), -32767, 32767);
            y[b].qs[j] = std::int16_t(q);
            sum += q;
        }
        y[b].d = d;
        y[b].s = d * float(sum);
    }
}

float dot(const float* a, const float* b, std::int64_t n)
{
    float s = 0;
    for (std::int64_t i = 0; i < n; ++i)
        s += a[i] * b[i];
    return s;
}

void axpy(float a, const float* x, float* y, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        y[i] += a * x[i];
}

float expSum(float* x, std::int64_t n, float max)
{
    float sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max);
        sum += x[i];
    }
    return sum;
}

void siluMul(float* g, const float* u, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void attnScores(const float* q, const float* k, std::size_t stride, int n, int hd, float scale, float* scores)
{
    for (int j = 0; j < n; ++j)
        scores[j] = scale * dot(q, k + std::size_t(j) * stride, hd);
}

void attnMix(const float* p, const float* v, std::size_t stride, int n, int hd, float* out)
{
    std::fill(out, out + hd, 0.0f);
    for (int j = 0; j < n; ++j)
        axpy(p[j], v + std::size_t(j) * stride, out, hd);
}

// Attention over 16-bit K/V rows: each element widened with the format's exact conversion.
template <float (*ToF32)(std::uint16_t)>
void attnScores16(const float* q, const std::uint16_t* k, std::size_t stride, int n, int hd, float scale,
                  float* scores)
{
    for (int j = 0; j < n; ++j) {
        const std::uint16_t* kj = k + std::size_t(j) * stride;
        float sum = 0;
        for (int i = 0; i < hd; ++i)
            sum += q[i] * ToF32(kj[i]);
        scores[j] = scale * sum;
    }
}

template <float (*ToF32)(std::uint16_t)>
void attnMix16(const float* p, const std::uint16_t* v, std::size_t stride, int n, int hd, float* out)
{
    std::fill(out, out + hd, 0.0f);
    for (int j = 0; j < n; ++j) {
        const std::uint16_t* vj = v + std::size_t(j) * stride;
        for (int i = 0; i < hd; ++i)
            out[i] += p[j] * ToF32(vj[i]);
    }
}

// One weight row against one activation row, per format.
float dotQ4_0(const std::byte* w, const BlockQ16A* x, std::int64_t nb)
{
    const auto* b = reinterpret_cast<const BlockQ4_0*>(w);
    float sum = 0;
    for (std::int64_t i = 0; i < nb; ++i) {
        int isum = 0;
        for (int j = 0; j < 16; ++j)
            isum += (b[i].qs[j] & 0xF) * x[i].qs[j] + (b[i].qs[j] >> 4) * x[i].qs[j + 16];
        const float d = fp16ToFp32(b[i].d);
        sum += d * x[i].d * float(isum) - 8.0f * d * x[i].s;
    }
    return sum;
}

float dotQ4_1(const std::byte* w, const BlockQ16A* x, std::int64_t nb)
{
    const auto* b = reinterpret_cast<const BlockQ4_1*>(w);
    float sum = 0;
    for (std::int64_t i = 0; i < nb; ++i) {
        int isum = 0;
        for (int j = 0; j < 16; ++j)
            isum += (b[i].qs[j] & 0xF) * x[i].qs[j] + (b[i].qs[j] >> 4) * x[i].qs[j + 16];
        sum += fp16ToFp32(b[i].d) * x[i].d * float(isum) + fp16ToFp32(b[i].m) * x[i].s;
    }
    return sum;
}

float dotQ8_0(const std::byte* w, const BlockQ16A* x, std::int64_t nb)
{
    const auto* b = reinterpret_cast<const BlockQ8_0*>(w);
    float sum = 0;
    for (std::int64_t i = 0; i < nb; ++i) {
        int isum = 0;
        for (int j = 0; j < 32; ++j)
            isum += b[i].qs[j] * x[i].qs[j];
        sum += fp16ToFp32(b[i].d) * x[i].d * float(isum);
    }
    return sum;
}

float dotQ4_K(const std::byte* w, const BlockQ16A* x, std::int64_t nb)
{
    const auto* b = reinterpret_cast<const BlockQ4_K*>(w);
    float sum = 0;
    for (std::int64_t i = 0; i < nb / 8; ++i, x += 8) {
        const float d = fp16ToFp32(b[i].d), dmin = fp16ToFp32(b[i].dmin);
        for (int c = 0; c < 4; ++c) {
            const std::uint8_t* q = b[i].qs + 32 * c;
            std::uint8_t sc0, m0, sc1, m1;
            kScaleMin(2 * c, b[i].scales, sc0, m0);
            kScaleMin(2 * c + 1, b[i].scales, sc1, m1);
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += (q[l] & 0xF) * x[2 * c].qs[l];
                hi += (q[l] >> 4) * x[2 * c + 1].qs[l];
            }
            sum += d * sc0 * x[2 * c].d * float(lo) - dmin * m0 * x[2 * c].s;
            sum += d * sc1 * x[2 * c + 1].d * float(hi) - dmin * m1 * x[2 * c + 1].s;
        }
    }
    return sum;
}

float dotQ5_K(const std::byte* w, const BlockQ16A* x, std::int64_t nb)
{
    const auto* b = reinterpret_cast<const BlockQ5_K*>(w);
    float sum = 0;
    for (std::int64_t i = 0; i < nb / 8; ++i, x += 8) {
        const float d = fp16ToFp32(b[i].d), dmin = fp16ToFp32(b[i].dmin);
        for (int c = 0; c < 4; ++c) {
            const std::uint8_t* q = b[i].qs + 32 * c;
            std::uint8_t sc0, m0, sc1, m1;
            kScaleMin(2 * c, b[i].scales, sc0, m0);
            kScaleMin(2 * c + 1, b[i].scales, sc1, m1);
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += ((q[l] & 0xF) | (((b[i].qh[l] >> (2 * c)) & 1) << 4)) * x[2 * c].qs[l];
                hi += ((q[l] >> 4) | (((b[i].qh[l] >> (2 * c + 1)) & 1) << 4)) * x[2 * c + 1].qs[l];
            }
            sum += d * sc0 * x[2 * c].d * float(lo) - dmin * m0 * x[2 * c].s;
            sum += d * sc1 * x[2 * c + 1].d * float(hi) - dmin * m1 * x[2 * c + 1].s;
        }
    }
    return sum;
}

float dotQ6_K(const std::byte* w, const BlockQ16A* x, std::int64_t nb)
{
    const auto* b = reinterpret_cast<const BlockQ6_K*>(w);
    float sum = 0;
    for (std::int64_t i = 0; i < nb / 8; ++i) {
        const float d = fp16ToFp32(b[i].d);
        for (int half = 0; half < 2; ++half, x += 4) {
            const std::uint8_t* ql = b[i].ql + 64 * half;
            const std::uint8_t* qh = b[i].qh + 32 * half;
            const std::int8_t* sc = b[i].scales + 8 * half;
            std::int64_t s[8] = {}; // per 16-element group: [A0 A1 B0 B1 C0 C1 D0 D1]
            for (int l = 0; l < 32; ++l) {
                const int g = l / 16;
                s[0 + g] += (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * x[0].qs[l];
                s[2 + g] += (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * x[1].qs[l];
                s[4 + g] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * x[2].qs[l];
                s[6 + g] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * x[3].qs[l];
            }
            for (int k = 0; k < 4; ++k)
                sum +=
                    d * x[k].d * float(sc[2 * k] * s[2 * k] + sc[2 * k + 1] * s[2 * k + 1]); // exact in int64
        }
    }
    return sum;
}

template <float (*Dot)(const std::byte*, const BlockQ16A*, std::int64_t)>
void matmulQ16A(const MatmulArgs& a, std::int64_t r0, std::int64_t r1)
{
    const std::int64_t nb = a.cols / 32;
    for (std::int64_t r = r0; r < r1; ++r)
        for (int t = 0; t < a.nTok; ++t) {
            float& o = a.out[std::size_t(t) * a.ldOut + std::size_t(r)];
            o = (a.accumulate ? o : 0.0f) + Dot(a.w + std::size_t(r) * a.wRowBytes,
                                                reinterpret_cast<const BlockQ16A*>(a.x + t * a.xStride), nb);
        }
}

// Float weights: convert a row once, then dot it with every token.
template <GgmlType Type> void matmulFloat(const MatmulArgs& a, std::int64_t r0, std::int64_t r1)
{
    thread_local std::vector<float> row;
    row.resize(std::size_t(a.cols));
    for (std::int64_t r = r0; r < r1; ++r) {
        const float* wr = reinterpret_cast<const float*>(a.w + std::size_t(r) * a.wRowBytes);
        if constexpr (Type != GgmlType::F32) {
            (void)dequantizeRow(Type, a.w + std::size_t(r) * a.wRowBytes, row.data(), a.cols);
            wr = row.data();
        }
        for (int t = 0; t < a.nTok; ++t) {
            float& o = a.out[std::size_t(t) * a.ldOut + std::size_t(r)];
            o = (a.accumulate ? o : 0.0f) +
                dot(wr, reinterpret_cast<const float*>(a.x + t * a.xStride), a.cols);
        }
    }
}

Kernels makeScalar()
{
    Kernels k;
    k.name = "scalar";
    k.quantizeQ16A = quantizeQ16A;
    k.dot = dot;
    k.axpy = axpy;
    k.expSum = expSum;
    k.siluMul = siluMul;
    k.attnScores = attnScores;
    k.attnMix = attnMix;
    k.attnScoresF16 = attnScores16<fp16ToFp32>;
    k.attnMixF16 = attnMix16<fp16ToFp32>;
    k.attnScoresBf16 = attnScores16<bf16ToFp32>;
    k.attnMixBf16 = attnMix16<bf16ToFp32>;
    k.matmulQ16A[int(GgmlType::Q4_0)] = matmulQ16A<dotQ4_0>;
    k.matmulQ16A[int(GgmlType::Q4_1)] = matmulQ16A<dotQ4_1>;
    k.matmulQ16A[int(GgmlType::Q8_0)] = matmulQ16A<dotQ8_0>;
    k.matmulQ16A[int(GgmlType::Q4_K)] = matmulQ16A<dotQ4_K>;
    k.matmulQ16A[int(GgmlType::Q5_K)] = matmulQ16A<dotQ5_K>;
    k.matmulQ16A[int(GgmlType::Q6_K)] = matmulQ16A<dotQ6_K>;
    k.matmulF32[int(GgmlType::F32)] = matmulFloat<GgmlType::F32>;
    k.matmulF32[int(GgmlType::F16)] = matmulFloat<GgmlType::F16>;
    k.matmulF32[int(GgmlType::BF16)] = matmulFloat<GgmlType::BF16>;
    // Quantized weights with f32 activations: one dequantised row at a time (tests, fallback).
    k.matmulF32[int(GgmlType::Q4_0)] = matmulFloat<GgmlType::Q4_0>;
    k.matmulF32[int(GgmlType::Q4_1)] = matmulFloat<GgmlType::Q4_1>;
    k.matmulF32[int(GgmlType::Q8_0)] = matmulFloat<GgmlType::Q8_0>;
    k.matmulF32[int(GgmlType::Q4_K)] = matmulFloat<GgmlType::Q4_K>;
    k.matmulF32[int(GgmlType::Q5_K)] = matmulFloat<GgmlType::Q5_K>;
    k.matmulF32[int(GgmlType::Q6_K)] = matmulFloat<GgmlType::Q6_K>;
    return k;
}

} // namespace

#if QUIRE_HAVE_AVX2_KERNELS
const Kernels& avx2KernelTable(); // kernels_avx2.cpp: call only after the CPU check
#endif

const Kernels* avx2Kernels()
{
#if QUIRE_HAVE_AVX2_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return &avx2KernelTable();
#endif
    return nullptr;
}

const Kernels& scalarKernels()
{
    static const Kernels k = makeScalar();
    return k;
}

bool usesQ16Activations(GgmlType type)
{
    switch (type) {
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q8_0:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
        return true;
    default:
        return false;
    }
}

const Kernels& bestKernels()
{
    static const Kernels* best = [] {
        const char* force = std::getenv("QUIRE_CPU_KERNELS");
        if (force && std::string_view(force) == "scalar")
            return &scalarKernels();
        const Kernels* avx2 = avx2Kernels();
        return avx2 ? avx2 : &scalarKernels();
    }();
    return *best;
}

} // namespace quire::inference::cpu
