// AVX2 + FMA + F16C kernels. This file alone is compiled with -mavx2 -mfma -mf16c; it is entered
// only through avx2KernelTable(), which kernels_scalar.cpp calls after checking the CPU. Keep it
// free of standard-library templates and inline functions from headers (see kernels.h).
//
// Quantized products are integer dot products: 4/6/8-bit weights are widened to int16 and
// multiplied with the int16 activations by madd (s16 x s16 -> s32 pairs), then scaled once per
// block (per 16 for Q6_K) in float. A micro-kernel reads one weight row and up to four token rows,
// so each unpacked weight block is reused across tokens during prefill.
// Builds that compile the engine sources without this file's flags (the fuzz build) get an empty
// unit here, and kernels_scalar.cpp then offers the portable table only.
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cpu/kernels.h"
#include "quire/inference/quant.h"

namespace quire::inference::cpu {

namespace {

inline float h2f(std::uint16_t h)
{
    return _cvtsh_ss(h);
}

inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Sum of products of 16 int16 weights and 16 int16 activations, as 8 int32 lanes.
inline __m256i mul16(__m256i w, const std::int16_t* x)
{
    return _mm256_madd_epi16(w, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
}

void scaleMinK(int j, const std::uint8_t* q, int& sc, int& m)
{
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

void quantizeQ16A(const float* x, BlockQ16A* y, std::int64_t n)
{
    const __m256 signBit = _mm256_set1_ps(-0.0f);
    for (std::int64_t b = 0; b < n / 32; ++b, x += 32) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(signBit, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 32767.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        const __m256 vid = _mm256_set1_ps(id);
        const __m256 lim = _mm256_set1_ps(32767.0f);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            __m256 r =
                _mm256_round_ps(_mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            r = _mm256_max_ps(_mm256_min_ps(r, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
            q[k] = _mm256_cvtps_epi32(r);
        }
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s = _mm_hadd_epi32(s, s);
        s = _mm_hadd_epi32(s, s);
        // packs works per 128-bit lane: [q0a q1a | q0b q1b] -> reorder 64-bit quarters to q0 q1.
        const __m256i p01 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[0], q[1]), 0xD8);
        const __m256i p23 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q[2], q[3]), 0xD8);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), p01);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs + 16), p23);
        y[b].d = d;
        y[b].s = d * float(_mm_cvtsi128_si32(s));
    }
}

float dot(const float* a, const float* b, std::int64_t n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i)
        s += a[i] * b[i];
    return s;
}

void axpy(float a, const float* x, float* y, std::int64_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i)
        y[i] += a * x[i];
}

// exp(x) for x <= 0 (softmax) and moderate |x| (SiLU): x = n ln2 + f, exp(f) by a degree-6
// polynomial on |f| <= ln2/2 (relative error ~2e-7), 2^n through the exponent bits.
inline __m256 exp8(__m256 x)
{
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    f = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), f);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

float expScalar(float x)
{
    float v[8] = {x, 0, 0, 0, 0, 0, 0, 0};
    _mm256_storeu_ps(v, exp8(_mm256_loadu_ps(v)));
    return v[0];
}

float expSum(float* x, std::int64_t n, float max)
{
    const __m256 vmax = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; i < n; ++i) {
        x[i] = expScalar(x[i] - max);
        sum += x[i];
    }
    return sum;
}

void siluMul(float* g, const float* u, std::int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(g + i);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
        _mm256_storeu_ps(g + i,
                         _mm256_mul_ps(_mm256_div_ps(v, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; ++i)
        g[i] = g[i] / (1.0f + expScalar(-g[i])) * u[i];
}

// Four horizontal sums at once: lane i of the result is the sum of a[i]'s eight lanes.
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    const __m256 s01 = _mm256_hadd_ps(a0, a1); // [a0 a0 a1 a1 | a0 a0 a1 a1] partial sums
    const __m256 s23 = _mm256_hadd_ps(a2, a3);
    const __m256 s = _mm256_hadd_ps(s01, s23); // [a0 a1 a2 a3 | a0 a1 a2 a3]
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

// The query head stays in registers (HD8 = head dim / 8); four keys per step.
template <int HD8>
void attnScoresFixed(const float* q, const float* k, std::size_t stride, int n, float scale, float* scores)
{
    __m256 qv[HD8];
    for (int c = 0; c < HD8; ++c)
        qv[c] = _mm256_loadu_ps(q + 8 * c);
    const __m128 vscale = _mm_set1_ps(scale);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float* k0 = k + std::size_t(j) * stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < HD8; ++c) {
            a0 = _mm256_fmadd_ps(qv[c], _mm256_loadu_ps(k0 + 8 * c), a0);
            a1 = _mm256_fmadd_ps(qv[c], _mm256_loadu_ps(k0 + stride + 8 * c), a1);
            a2 = _mm256_fmadd_ps(qv[c], _mm256_loadu_ps(k0 + 2 * stride + 8 * c), a2);
            a3 = _mm256_fmadd_ps(qv[c], _mm256_loadu_ps(k0 + 3 * stride + 8 * c), a3);
        }
        _mm_storeu_ps(scores + j, _mm_mul_ps(hsum4(a0, a1, a2, a3), vscale));
    }
    for (; j < n; ++j) {
        const float* kj = k + std::size_t(j) * stride;
        __m256 a = _mm256_setzero_ps();
        for (int c = 0; c < HD8; ++c)
            a = _mm256_fmadd_ps(qv[c], _mm256_loadu_ps(kj + 8 * c), a);
        scores[j] = scale * hsum(a);
    }
}

void attnScores(const float* q, const float* k, std::size_t stride, int n, int hd, float scale, float* scores)
{
    if (hd == 64)
        return attnScoresFixed<8>(q, k, stride, n, scale, scores);
    if (hd == 128)
        return attnScoresFixed<16>(q, k, stride, n, scale, scores);
    for (int j = 0; j < n; ++j)
        scores[j] = scale * dot(q, k + std::size_t(j) * stride, hd);
}

// The output head stays in registers across all positions.
template <int HD8> void attnMixFixed(const float* p, const float* v, std::size_t stride, int n, float* out)
{
    __m256 o[HD8];
    for (int c = 0; c < HD8; ++c)
        o[c] = _mm256_setzero_ps();
    for (int j = 0; j < n; ++j) {
        const __m256 pj = _mm256_set1_ps(p[j]);
        const float* vj = v + std::size_t(j) * stride;
        for (int c = 0; c < HD8; ++c)
            o[c] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * c), o[c]);
    }
    for (int c = 0; c < HD8; ++c)
        _mm256_storeu_ps(out + 8 * c, o[c]);
}

void attnMix(const float* p, const float* v, std::size_t stride, int n, int hd, float* out)
{
    if (hd == 64)
        return attnMixFixed<8>(p, v, stride, n, out);
    if (hd == 128)
        return attnMixFixed<16>(p, v, stride, n, out);
    for (int i = 0; i < hd; ++i)
        out[i] = 0.0f;
    for (int j = 0; j < n; ++j)
        axpy(p[j], v + std::size_t(j) * stride, out, hd);
}

// ---- attention over a 16-bit KV cache: rows widened to f32 eight at a time ----

struct LoadF16 {
    static __m256 load8(const std::uint16_t* p)
    {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static float load1(std::uint16_t h) { return _cvtsh_ss(h); }
};

struct LoadBf16 {
    static __m256 load8(const std::uint16_t* p)
    {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    static float load1(std::uint16_t h) // not quant.h's inline bf16ToFp32: see the file comment
    {
        return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(int(std::uint32_t(h) << 16))));
    }
};

template <typename L> float dot16(const float* q, const std::uint16_t* k, int hd)
{
    __m256 a = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= hd; i += 8)
        a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), L::load8(k + i), a);
    float s = hsum(a);
    for (; i < hd; ++i)
        s += q[i] * L::load1(k[i]);
    return s;
}

template <typename L, int HD8>
void attnScores16Fixed(const float* q, const std::uint16_t* k, std::size_t stride, int n, float scale,
                       float* scores)
{
    __m256 qv[HD8];
    for (int c = 0; c < HD8; ++c)
        qv[c] = _mm256_loadu_ps(q + 8 * c);
    const __m128 vscale = _mm_set1_ps(scale);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const std::uint16_t* k0 = k + std::size_t(j) * stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < HD8; ++c) {
            a0 = _mm256_fmadd_ps(qv[c], L::load8(k0 + 8 * c), a0);
            a1 = _mm256_fmadd_ps(qv[c], L::load8(k0 + stride + 8 * c), a1);
            a2 = _mm256_fmadd_ps(qv[c], L::load8(k0 + 2 * stride + 8 * c), a2);
            a3 = _mm256_fmadd_ps(qv[c], L::load8(k0 + 3 * stride + 8 * c), a3);
        }
        _mm_storeu_ps(scores + j, _mm_mul_ps(hsum4(a0, a1, a2, a3), vscale));
    }
    for (; j < n; ++j) {
        const std::uint16_t* kj = k + std::size_t(j) * stride;
        __m256 a = _mm256_setzero_ps();
        for (int c = 0; c < HD8; ++c)
            a = _mm256_fmadd_ps(qv[c], L::load8(kj + 8 * c), a);
        scores[j] = scale * hsum(a);
    }
}

template <typename L>
void attnScores16(const float* q, const std::uint16_t* k, std::size_t stride, int n, int hd, float scale,
                  float* scores)
{
    if (hd == 64)
        return attnScores16Fixed<L, 8>(q, k, stride, n, scale, scores);
    if (hd == 128)
        return attnScores16Fixed<L, 16>(q, k, stride, n, scale, scores);
    for (int j = 0; j < n; ++j)
        scores[j] = scale * dot16<L>(q, k + std::size_t(j) * stride, hd);
}

template <typename L, int HD8>
void attnMix16Fixed(const float* p, const std::uint16_t* v, std::size_t stride, int n, float* out)
{
    __m256 o[HD8];
    for (int c = 0; c < HD8; ++c)
        o[c] = _mm256_setzero_ps();
    for (int j = 0; j < n; ++j) {
        const __m256 pj = _mm256_set1_ps(p[j]);
        const std::uint16_t* vj = v + std::size_t(j) * stride;
        for (int c = 0; c < HD8; ++c)
            o[c] = _mm256_fmadd_ps(pj, L::load8(vj + 8 * c), o[c]);
    }
    for (int c = 0; c < HD8; ++c)
        _mm256_storeu_ps(out + 8 * c, o[c]);
}

template <typename L>
void attnMix16(const float* p, const std::uint16_t* v, std::size_t stride, int n, int hd, float* out)
{
    if (hd == 64)
        return attnMix16Fixed<L, 8>(p, v, stride, n, out);
    if (hd == 128)
        return attnMix16Fixed<L, 16>(p, v, stride, n, out);
    for (int i = 0; i < hd; ++i)
        out[i] = 0.0f;
    for (int j = 0; j < n; ++j) {
        const std::uint16_t* vj = v + std::size_t(j) * stride;
        const __m256 pj = _mm256_set1_ps(p[j]);
        int i = 0;
        for (; i + 8 <= hd; i += 8)
            _mm256_storeu_ps(out + i, _mm256_fmadd_ps(pj, L::load8(vj + i), _mm256_loadu_ps(out + i)));
        for (; i < hd; ++i)
            out[i] += p[j] * L::load1(vj[i]);
    }
}

// ---- micro-kernels: one weight row r against NT token rows starting at t0 ----

template <int NT> struct Rows {
    const BlockQ16A* x[NT];
    Rows(const MatmulArgs& a, int t0)
    {
        for (int j = 0; j < NT; ++j)
            x[j] = reinterpret_cast<const BlockQ16A*>(a.x + std::size_t(t0 + j) * a.xStride);
    }
};

template <int NT>
inline void store(const MatmulArgs& a, std::int64_t r, int t0, const __m256* acc, const float* extra)
{
    for (int j = 0; j < NT; ++j) {
        float& o = a.out[std::size_t(t0 + j) * a.ldOut + std::size_t(r)];
        o = (a.accumulate ? o : 0.0f) + hsum(acc[j]) + extra[j];
    }
}

template <bool HasMin> struct KQ4 { // Q4_0 (HasMin = false: offset -8 d) and Q4_1
    template <int NT> static void run(const MatmulArgs& a, std::int64_t r, int t0)
    {
        const Rows<NT> x(a, t0);
        const std::int64_t nb = a.cols / 32;
        const __m128i m4 = _mm_set1_epi8(0x0F);
        __m256 acc[NT];
        float off[NT];
        for (int j = 0; j < NT; ++j) {
            acc[j] = _mm256_setzero_ps();
            off[j] = 0;
        }
        const std::byte* row = a.w + std::size_t(r) * a.wRowBytes;
        for (std::int64_t b = 0; b < nb; ++b) {
            float dw, mw;
            const std::uint8_t* qs;
            if constexpr (HasMin) {
                const auto* w = reinterpret_cast<const BlockQ4_1*>(row) + b;
                dw = h2f(w->d);
                mw = h2f(w->m);
                qs = w->qs;
            } else {
                const auto* w = reinterpret_cast<const BlockQ4_0*>(row) + b;
                dw = h2f(w->d);
                mw = -8.0f * dw;
                qs = w->qs;
            }
            const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
            const __m256i w0 = _mm256_cvtepu8_epi16(_mm_and_si128(q, m4));
            const __m256i w1 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(q, 4), m4));
            for (int j = 0; j < NT; ++j) {
                const BlockQ16A& xb = x.x[j][b];
                const __m256i p = _mm256_add_epi32(mul16(w0, xb.qs), mul16(w1, xb.qs + 16));
                acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * xb.d), acc[j]);
                off[j] += mw * xb.s;
            }
        }
        store<NT>(a, r, t0, acc, off);
    }
};

struct KQ8_0 {
    template <int NT> static void run(const MatmulArgs& a, std::int64_t r, int t0)
    {
        const Rows<NT> x(a, t0);
        const std::int64_t nb = a.cols / 32;
        __m256 acc[NT];
        float zero[NT];
        for (int j = 0; j < NT; ++j) {
            acc[j] = _mm256_setzero_ps();
            zero[j] = 0;
        }
        const auto* w = reinterpret_cast<const BlockQ8_0*>(a.w + std::size_t(r) * a.wRowBytes);
        for (std::int64_t b = 0; b < nb; ++b) {
            const float dw = h2f(w[b].d);
            const __m256i w0 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs)));
            const __m256i w1 =
                _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[b].qs + 16)));
            for (int j = 0; j < NT; ++j) {
                const BlockQ16A& xb = x.x[j][b];
                const __m256i p = _mm256_add_epi32(mul16(w0, xb.qs), mul16(w1, xb.qs + 16));
                acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * xb.d), acc[j]);
            }
        }
        store<NT>(a, r, t0, acc, zero);
    }
};

struct KQ4_K {
    template <int NT> static void run(const MatmulArgs& a, std::int64_t r, int t0)
    {
        const Rows<NT> x(a, t0);
        const std::int64_t nsb = a.cols / 256;
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        __m256 acc[NT];
        float off[NT];
        for (int j = 0; j < NT; ++j) {
            acc[j] = _mm256_setzero_ps();
            off[j] = 0;
        }
        const auto* w = reinterpret_cast<const BlockQ4_K*>(a.w + std::size_t(r) * a.wRowBytes);
        for (std::int64_t sb = 0; sb < nsb; ++sb) {
            const float d = h2f(w[sb].d), dmin = h2f(w[sb].dmin);
            int sc[8], mn[8];
            for (int k = 0; k < 8; ++k)
                scaleMinK(k, w[sb].scales, sc[k], mn[k]);
            for (int c = 0; c < 4; ++c) {
                const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[sb].qs + 32 * c));
                const __m256i lo = _mm256_and_si256(q, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                const __m256i lo0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(lo));
                const __m256i lo1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(lo, 1));
                const __m256i hi0 = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(hi));
                const __m256i hi1 = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(hi, 1));
                const float d0 = d * float(sc[2 * c]), d1 = d * float(sc[2 * c + 1]);
                const float o0 = dmin * float(mn[2 * c]), o1 = dmin * float(mn[2 * c + 1]);
                for (int j = 0; j < NT; ++j) {
                    const BlockQ16A& xa = x.x[j][sb * 8 + 2 * c];
                    const BlockQ16A& xb = x.x[j][sb * 8 + 2 * c + 1];
                    const __m256i pa = _mm256_add_epi32(mul16(lo0, xa.qs), mul16(lo1, xa.qs + 16));
                    const __m256i pb = _mm256_add_epi32(mul16(hi0, xb.qs), mul16(hi1, xb.qs + 16));
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pa), _mm256_set1_ps(d0 * xa.d), acc[j]);
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pb), _mm256_set1_ps(d1 * xb.d), acc[j]);
                    off[j] -= o0 * xa.s + o1 * xb.s;
                }
            }
        }
        store<NT>(a, r, t0, acc, off);
    }
};

struct KQ6_K {
    template <int NT> static void run(const MatmulArgs& a, std::int64_t r, int t0)
    {
        const Rows<NT> x(a, t0);
        const std::int64_t nsb = a.cols / 256;
        const __m256i m4 = _mm256_set1_epi8(0x0F);
        const __m256i m3 = _mm256_set1_epi8(0x03);
        const __m256i k32 = _mm256_set1_epi8(32);
        __m256 acc[NT];
        float zero[NT];
        for (int j = 0; j < NT; ++j) {
            acc[j] = _mm256_setzero_ps();
            zero[j] = 0;
        }
        const auto* w = reinterpret_cast<const BlockQ6_K*>(a.w + std::size_t(r) * a.wRowBytes);
        for (std::int64_t sb = 0; sb < nsb; ++sb) {
            const float d = h2f(w[sb].d);
            for (int half = 0; half < 2; ++half) {
                const std::uint8_t* ql = w[sb].ql + 64 * half;
                const std::int8_t* sc = w[sb].scales + 8 * half;
                const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
                const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
                const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[sb].qh + 32 * half));
                __m256i q[4];
                q[0] =
                    _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
                q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m3), 4));
                q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m3), 4));
                q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m3), 4));
                for (int k = 0; k < 4; ++k) {
                    const __m256i qs = _mm256_sub_epi8(q[k], k32);
                    const __m256i w0 = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(qs));
                    const __m256i w1 = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(qs, 1));
                    const float s0 = d * float(sc[2 * k]), s1 = d * float(sc[2 * k + 1]);
                    for (int j = 0; j < NT; ++j) {
                        const BlockQ16A& xb = x.x[j][sb * 8 + half * 4 + k];
                        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mul16(w0, xb.qs)),
                                                 _mm256_set1_ps(s0 * xb.d), acc[j]);
                        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mul16(w1, xb.qs + 16)),
                                                 _mm256_set1_ps(s1 * xb.d), acc[j]);
                    }
                }
            }
        }
        store<NT>(a, r, t0, acc, zero);
    }
};

// Float weights: F32, F16 (F16C) or BF16, widened 8 at a time.
template <GgmlType Type> inline __m256 load8(const std::byte* row, std::int64_t k)
{
    if constexpr (Type == GgmlType::F32) {
        return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
    } else if constexpr (Type == GgmlType::F16) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
    } else {
        const __m256i v =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    }
}

template <GgmlType Type> inline float load1(const std::byte* row, std::int64_t k)
{
    const auto* h = reinterpret_cast<const std::uint16_t*>(row);
    if constexpr (Type == GgmlType::F32)
        return reinterpret_cast<const float*>(row)[k];
    else if constexpr (Type == GgmlType::F16)
        return h2f(h[k]);
    else
        return _mm_cvtss_f32(_mm_castsi128_ps(_mm_cvtsi32_si128(int(std::uint32_t(h[k]) << 16))));
}

template <GgmlType Type> struct KFloat {
    template <int NT> static void run(const MatmulArgs& a, std::int64_t r, int t0)
    {
        const float* x[NT];
        __m256 acc[NT];
        float tail[NT];
        for (int j = 0; j < NT; ++j) {
            x[j] = reinterpret_cast<const float*>(a.x + std::size_t(t0 + j) * a.xStride);
            acc[j] = _mm256_setzero_ps();
            tail[j] = 0;
        }
        const std::byte* row = a.w + std::size_t(r) * a.wRowBytes;
        std::int64_t k = 0;
        for (; k + 8 <= a.cols; k += 8) {
            const __m256 w = load8<Type>(row, k);
            for (int j = 0; j < NT; ++j)
                acc[j] = _mm256_fmadd_ps(w, _mm256_loadu_ps(x[j] + k), acc[j]);
        }
        for (; k < a.cols; ++k) {
            const float w = load1<Type>(row, k);
            for (int j = 0; j < NT; ++j)
                tail[j] += w * x[j][k];
        }
        store<NT>(a, r, t0, acc, tail);
    }
};

// Rows in chunks of 8 so both the weight rows and a tile of four token rows stay in L1.
template <class K> void matmulTiled(const MatmulArgs& a, std::int64_t r0, std::int64_t r1)
{
    constexpr std::int64_t kRowChunk = 8;
    for (std::int64_t rc = r0; rc < r1; rc += kRowChunk) {
        const std::int64_t re = rc + kRowChunk < r1 ? rc + kRowChunk : r1;
        int t = 0;
        for (; t + 4 <= a.nTok; t += 4)
            for (std::int64_t r = rc; r < re; ++r)
                K::template run<4>(a, r, t);
        const int left = a.nTok - t;
        for (std::int64_t r = rc; r < re; ++r) {
            if (left == 3)
                K::template run<3>(a, r, t);
            else if (left == 2)
                K::template run<2>(a, r, t);
            else if (left == 1)
                K::template run<1>(a, r, t);
        }
    }
}

Kernels makeAvx2()
{
    Kernels k = scalarKernels(); // anything not overridden stays portable (Q5_K)
    k.name = "avx2";
    k.quantizeQ16A = quantizeQ16A;
    k.dot = dot;
    k.axpy = axpy;
    k.expSum = expSum;
    k.siluMul = siluMul;
    k.attnScores = attnScores;
    k.attnMix = attnMix;
    k.attnScoresF16 = attnScores16<LoadF16>;
    k.attnMixF16 = attnMix16<LoadF16>;
    k.attnScoresBf16 = attnScores16<LoadBf16>;
    k.attnMixBf16 = attnMix16<LoadBf16>;
    k.matmulQ16A[int(GgmlType::Q4_0)] = matmulTiled<KQ4<false>>;
    k.matmulQ16A[int(GgmlType::Q4_1)] = matmulTiled<KQ4<true>>;
    k.matmulQ16A[int(GgmlType::Q8_0)] = matmulTiled<KQ8_0>;
    k.matmulQ16A[int(GgmlType::Q4_K)] = matmulTiled<KQ4_K>;
    k.matmulQ16A[int(GgmlType::Q6_K)] = matmulTiled<KQ6_K>;
    k.matmulF32[int(GgmlType::F32)] = matmulTiled<KFloat<GgmlType::F32>>;
    k.matmulF32[int(GgmlType::F16)] = matmulTiled<KFloat<GgmlType::F16>>;
    k.matmulF32[int(GgmlType::BF16)] = matmulTiled<KFloat<GgmlType::BF16>>;
    return k;
}

} // namespace

const Kernels& avx2KernelTable()
{
    static const Kernels k = makeAvx2();
    return k;
}

} // namespace quire::inference::cpu

#endif // __AVX2__ && __FMA__ && __F16C__
