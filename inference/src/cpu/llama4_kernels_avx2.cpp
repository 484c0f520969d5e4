// AVX2 + FMA + F16C Llama 4 kernels. Only this file is compiled with -mavx2 -mfma -mf16c; it is
// entered through llama4Avx2KernelTable(), which llama4_kernels.cpp calls after checking the
// CPU. No inline functions from project headers (see kernels.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/llama4_kernels.h"
#include "llama4_formats.h"

namespace quire::inference::cpu {

namespace {

inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Not WeightMatrix::row(): no inline function from a project header may be compiled here.
const std::byte* rowPtr(const WeightMatrix& w, std::int64_t r)
{
    return w.data + std::size_t(r) * w.rowBytes;
}

inline float loadScale(const std::byte* p)
{
    float s;
    std::memcpy(&s, p, 4);
    return s;
}

// 8 e4m3fn bytes to floats (no NaN inputs: the encoder saturates). Normal values rebias the
// exponent by integer addition; subnormals (exponent 0) are m * 2^-9.
inline __m256 fp8x8(const std::uint8_t* p)
{
    const __m256i t = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m256i mag = _mm256_and_si256(t, _mm256_set1_epi32(0x7F));
    const __m256i normalBits = _mm256_add_epi32(_mm256_slli_epi32(mag, 20), _mm256_set1_epi32(120 << 23));
    const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(mag, _mm256_set1_epi32(7))),
                                     _mm256_set1_ps(1.0f / 512.0f));
    const __m256 isSub = _mm256_castsi256_ps(
        _mm256_cmpeq_epi32(_mm256_and_si256(mag, _mm256_set1_epi32(0x78)), _mm256_setzero_si256()));
    const __m256 v = _mm256_blendv_ps(_mm256_castsi256_ps(normalBits), sub, isSub);
    const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(t, _mm256_set1_epi32(0x80)), 24);
    return _mm256_or_ps(v, _mm256_castsi256_ps(sign));
}

void decodeRowAvx2(const WeightMatrix& w, std::int64_t r, float* dst)
{
    const std::byte* row = rowPtr(w, r);
    const std::int64_t n = w.cols;
    std::int64_t i = 0;
    switch (w.format) {
    case WeightFormat::F32:
        std::memcpy(dst, row, std::size_t(n) * 4);
        return;
    case WeightFormat::F16: {
        const auto* h = reinterpret_cast<const std::uint16_t*>(row);
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i,
                             _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
        for (; i < n; ++i)
            dst[i] = _cvtsh_ss(h[i]);
        return;
    }
    case WeightFormat::BF16: {
        const auto* h = reinterpret_cast<const std::uint16_t*>(row);
        for (; i + 8 <= n; i += 8) {
            const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i)));
            _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
        for (; i < n; ++i) {
            const std::uint32_t bits = std::uint32_t(h[i]) << 16;
            std::memcpy(dst + i, &bits, 4);
        }
        return;
    }
    case WeightFormat::Int8: {
        const float scale = loadScale(row);
        const auto* q = reinterpret_cast<const std::int8_t*>(row + 4);
        const __m256 s = _mm256_set1_ps(scale);
        for (; i + 8 <= n; i += 8) {
            const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
            _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), s));
        }
        for (; i < n; ++i)
            dst[i] = float(q[i]) * scale;
        return;
    }
    case WeightFormat::Fp8E4M3: {
        const float scale = loadScale(row);
        const auto* q = reinterpret_cast<const std::uint8_t*>(row + 4);
        const __m256 s = _mm256_set1_ps(scale);
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(dst + i, _mm256_mul_ps(fp8x8(q + i), s));
        for (; i < n; ++i)
            dst[i] = l4::fp8ToFloat(q[i]) * scale;
        return;
    }
    case WeightFormat::Int4: {
        const std::int64_t g = w.groupSize;
        const std::int64_t groups = (n + g - 1) / g;
        const auto* packed = reinterpret_cast<const std::uint8_t*>(row + 4 * groups);
        const __m128i low = _mm_set1_epi8(0x0F);
        const __m256i eight = _mm256_set1_epi32(8);
        if (g % 32 == 0) {
            // 32 elements (16 bytes) at a time, always inside one group.
            for (; i + 32 <= n; i += 32) {
                const __m256 s = _mm256_set1_ps(loadScale(row + 4 * (i / g)));
                const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + i / 2));
                const __m128i lo = _mm_and_si128(b, low);
                const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), low);
                const __m128i e0 = _mm_unpacklo_epi8(lo, hi); // elements 0..15
                const __m128i e1 = _mm_unpackhi_epi8(lo, hi); // elements 16..31
                const __m128i parts[4] = {e0, _mm_srli_si128(e0, 8), e1, _mm_srli_si128(e1, 8)};
                for (int k = 0; k < 4; ++k) {
                    const __m256i v = _mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[k]), eight);
                    _mm256_storeu_ps(dst + i + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(v), s));
                }
            }
        }
        for (; i < n; ++i) {
            const int q = (i & 1) ? packed[i / 2] >> 4 : packed[i / 2] & 0xF;
            dst[i] = float(q - 8) * loadScale(row + 4 * (i / g));
        }
        return;
    }
    case WeightFormat::Ggml:
    case WeightFormat::Source:
        break;
    }
    l4::decodeRow(w, r, dst);
}

void decodeRowsAvx2(const WeightMatrix& w, std::int64_t r0, std::int64_t n, float* dst)
{
    for (std::int64_t i = 0; i < n; ++i)
        decodeRowAvx2(w, r0 + i, dst + std::size_t(i) * std::size_t(w.cols));
}

// R weight rows times TT token rows, dot products over `cols`.
template <int R, int TT>
void block(const float* w, std::size_t ldw, const float* x, std::size_t ldx, std::int64_t cols, float* out,
           std::size_t ldOut, bool accumulate)
{
    __m256 acc[R][TT];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int t = 0; t < TT; ++t)
            acc[r][t] = _mm256_setzero_ps();
    std::int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        __m256 wv[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r)
            wv[r] = _mm256_loadu_ps(w + std::size_t(r) * ldw + std::size_t(c));
#pragma GCC unroll 8
        for (int t = 0; t < TT; ++t) {
            const __m256 xv = _mm256_loadu_ps(x + std::size_t(t) * ldx + std::size_t(c));
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r)
                acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t)
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            float s = hsum(acc[r][t]);
            for (std::int64_t k = c; k < cols; ++k)
                s += w[std::size_t(r) * ldw + std::size_t(k)] * x[std::size_t(t) * ldx + std::size_t(k)];
            float& o = out[std::size_t(t) * ldOut + std::size_t(r)];
            o = accumulate ? o + s : s;
        }
}

template <int TT>
void rowsBlock(const float* w, std::size_t ldw, std::int64_t n, const float* x, std::size_t ldx,
               std::int64_t cols, float* out, std::size_t ldOut, bool accumulate)
{
    constexpr int R = TT == 1 ? 8 : 4;
    std::int64_t i = 0;
    for (; i + R <= n; i += R)
        block<R, TT>(w + std::size_t(i) * ldw, ldw, x, ldx, cols, out + i, ldOut, accumulate);
    for (; i + 2 <= n; i += 2)
        block<2, TT>(w + std::size_t(i) * ldw, ldw, x, ldx, cols, out + i, ldOut, accumulate);
    for (; i < n; ++i)
        block<1, TT>(w + std::size_t(i) * ldw, ldw, x, ldx, cols, out + i, ldOut, accumulate);
}

void gemmAvx2(const float* w, std::size_t ldw, std::int64_t n, const float* x, std::size_t ldx, int nTok,
              std::int64_t cols, float* out, std::size_t ldOut, bool accumulate)
{
    int t = 0;
    for (; t + 2 <= nTok; t += 2)
        rowsBlock<2>(w, ldw, n, x + std::size_t(t) * ldx, ldx, cols, out + std::size_t(t) * ldOut, ldOut,
                     accumulate);
    for (; t < nTok; ++t)
        rowsBlock<1>(w, ldw, n, x + std::size_t(t) * ldx, ldx, cols, out + std::size_t(t) * ldOut, ldOut,
                     accumulate);
}

// ---- prefill: packed tokens ----

// R weight rows (broadcast) times V vectors of 8 packed tokens, over inputs [k0, k1).
template <int R, int V>
void packedBlock(const float* w, std::size_t ldw, const float* block, int width, std::int64_t k0,
                 std::int64_t k1, int t0, int nTok, float* out, std::size_t ldOut, bool accumulate)
{
    __m256 acc[R][V];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v)
            acc[r][v] = _mm256_setzero_ps();
    const float* p = block + std::size_t(k0) * std::size_t(width);
    for (std::int64_t k = k0; k < k1; ++k, p += width) {
        __m256 xv[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v)
            xv[v] = _mm256_loadu_ps(p + 8 * v);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const __m256 wr = _mm256_broadcast_ss(w + std::size_t(r) * ldw + std::size_t(k));
#pragma GCC unroll 8
            for (int v = 0; v < V; ++v)
                acc[r][v] = _mm256_fmadd_ps(wr, xv[v], acc[r][v]);
        }
    }
    alignas(32) float lanes[8];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) {
            _mm256_store_ps(lanes, acc[r][v]);
            for (int j = 0; j < 8; ++j) {
                const int t = t0 + 8 * v + j;
                if (t >= nTok)
                    break;
                float& o = out[std::size_t(t) * ldOut + std::size_t(r)];
                o = accumulate ? o + lanes[j] : lanes[j];
            }
        }
}

template <int V>
void packedRows(const float* w, std::size_t ldw, std::int64_t n, const float* block, int width,
                std::int64_t k0, std::int64_t k1, int t0, int nTok, float* out, std::size_t ldOut,
                bool accumulate)
{
    std::int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        packedBlock<4, V>(w + std::size_t(i) * ldw, ldw, block, width, k0, k1, t0, nTok, out + i, ldOut,
                          accumulate);
    for (; i + 2 <= n; i += 2)
        packedBlock<2, V>(w + std::size_t(i) * ldw, ldw, block, width, k0, k1, t0, nTok, out + i, ldOut,
                          accumulate);
    for (; i < n; ++i)
        packedBlock<1, V>(w + std::size_t(i) * ldw, ldw, block, width, k0, k1, t0, nTok, out + i, ldOut,
                          accumulate);
}

void gemmPackedAvx2(const float* w, std::size_t ldw, std::int64_t n, const float* packed, int nTok,
                    std::int64_t cols, std::int64_t k0, std::int64_t k1, float* out, std::size_t ldOut,
                    bool accumulate)
{
    for (int t0 = 0; t0 < nTok; t0 += kLlama4TokenBlock) {
        const int valid = nTok - t0 < kLlama4TokenBlock ? nTok - t0 : kLlama4TokenBlock;
        const int width = (valid + 7) / 8 * 8;
        const float* block = packed + std::size_t(t0) * std::size_t(cols);
        if (width == 24)
            packedRows<3>(w, ldw, n, block, width, k0, k1, t0, nTok, out, ldOut, accumulate);
        else if (width == 16)
            packedRows<2>(w, ldw, n, block, width, k0, k1, t0, nTok, out, ldOut, accumulate);
        else
            packedRows<1>(w, ldw, n, block, width, k0, k1, t0, nTok, out, ldOut, accumulate);
    }
}

// ---- decode: one token, straight from the stored format ----

// Eight weights of row `row` starting at element i, as floats (without the row's scale for
// int8 / fp8; int4 handled separately).
template <WeightFormat F> inline __m256 load8(const std::byte* data, std::int64_t i)
{
    if constexpr (F == WeightFormat::F32)
        return _mm256_loadu_ps(reinterpret_cast<const float*>(data) + i);
    if constexpr (F == WeightFormat::F16)
        return _mm256_cvtph_ps(_mm_loadu_si128(
            reinterpret_cast<const __m128i*>(reinterpret_cast<const std::uint16_t*>(data) + i)));
    if constexpr (F == WeightFormat::BF16) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(
            reinterpret_cast<const __m128i*>(reinterpret_cast<const std::uint16_t*>(data) + i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    }
    if constexpr (F == WeightFormat::Int8)
        return _mm256_cvtepi32_ps(
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(data + i))));
    if constexpr (F == WeightFormat::Fp8E4M3)
        return fp8x8(reinterpret_cast<const std::uint8_t*>(data) + i);
    return _mm256_setzero_ps();
}

// Element j of a row, unscaled (the tails of the vector loops).
template <WeightFormat F> inline float valueAt(const std::byte* data, std::int64_t j)
{
    if constexpr (F == WeightFormat::F32)
        return reinterpret_cast<const float*>(data)[j];
    if constexpr (F == WeightFormat::F16)
        return _cvtsh_ss(reinterpret_cast<const std::uint16_t*>(data)[j]);
    if constexpr (F == WeightFormat::BF16) {
        const std::uint32_t bits = std::uint32_t(reinterpret_cast<const std::uint16_t*>(data)[j]) << 16;
        float v;
        std::memcpy(&v, &bits, 4);
        return v;
    }
    if constexpr (F == WeightFormat::Int8)
        return float(reinterpret_cast<const std::int8_t*>(data)[j]);
    return l4::fp8ToFloat(reinterpret_cast<const std::uint8_t*>(data)[j]);
}

// Two rows (r, r + 1) or one, for the byte-per-element and float formats: the values start at
// `offset` bytes into each row; int8 / fp8 multiply by the row scale at the end.
template <WeightFormat F, int R>
void gemvRows(const WeightMatrix& w, std::int64_t r, const float* x, float* out, bool accumulate)
{
    constexpr std::size_t offset = (F == WeightFormat::Int8 || F == WeightFormat::Fp8E4M3) ? 4 : 0;
    const std::int64_t n = w.cols;
    const std::byte* rows[R];
    __m256 acc[R][2];
#pragma GCC unroll 8
    for (int k = 0; k < R; ++k) {
        rows[k] = rowPtr(w, r + k) + offset;
        acc[k][0] = acc[k][1] = _mm256_setzero_ps();
    }
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
#pragma GCC unroll 8
        for (int k = 0; k < R; ++k) {
            acc[k][0] = _mm256_fmadd_ps(load8<F>(rows[k], i), x0, acc[k][0]);
            acc[k][1] = _mm256_fmadd_ps(load8<F>(rows[k], i + 8), x1, acc[k][1]);
        }
    }
    float tail[R] = {};
#pragma GCC unroll 8
    for (int k = 0; k < R; ++k)
        for (std::int64_t j = i; j < n; ++j)
            tail[k] += valueAt<F>(rows[k], j) * x[j];
#pragma GCC unroll 8
    for (int k = 0; k < R; ++k) {
        float s = hsum(_mm256_add_ps(acc[k][0], acc[k][1])) + tail[k];
        if constexpr (offset > 0)
            s *= loadScale(rowPtr(w, r + k));
        out[k] = accumulate ? out[k] + s : s;
    }
}

// Int4 rows with groups that are a multiple of 32: 32 nibbles per step, unpacked to signed
// bytes (q - 8), widened to floats and multiplied as they come; the group scale once per group.
template <int R>
void gemvInt4Rows(const WeightMatrix& w, std::int64_t r, const float* x, float* out, bool accumulate)
{
    const std::int64_t n = w.cols, g = w.groupSize;
    const std::int64_t groups = (n + g - 1) / g;
    const std::byte* rows[R];
    const std::uint8_t* packed[R];
    __m256 total[R];
    float tail[R];
#pragma GCC unroll 8
    for (int k = 0; k < R; ++k) {
        rows[k] = rowPtr(w, r + k);
        packed[k] = reinterpret_cast<const std::uint8_t*>(rows[k] + 4 * groups);
        total[k] = _mm256_setzero_ps();
        tail[k] = 0.0f;
    }
    const __m128i low = _mm_set1_epi8(0x0F), eight = _mm_set1_epi8(8);
    for (std::int64_t gi = 0; gi < groups; ++gi) {
        const std::int64_t b = gi * g, e = b + g < n ? b + g : n;
        const std::int64_t simdEnd = b + (e - b) / 32 * 32;
        __m256 acc[R];
#pragma GCC unroll 8
        for (int k = 0; k < R; ++k)
            acc[k] = _mm256_setzero_ps();
        for (std::int64_t i = b; i < simdEnd; i += 32) {
            const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
            const __m256 x2 = _mm256_loadu_ps(x + i + 16), x3 = _mm256_loadu_ps(x + i + 24);
#pragma GCC unroll 8
            for (int k = 0; k < R; ++k) {
                const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed[k] + i / 2));
                const __m128i lo = _mm_and_si128(bytes, low);
                const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low);
                const __m128i e0 = _mm_sub_epi8(_mm_unpacklo_epi8(lo, hi), eight); // elements 0..15
                const __m128i e1 = _mm_sub_epi8(_mm_unpackhi_epi8(lo, hi), eight); // elements 16..31
                acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e0)), x0, acc[k]);
                acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(e0, 8))), x1,
                                         acc[k]);
                acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(e1)), x2, acc[k]);
                acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(e1, 8))), x3,
                                         acc[k]);
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < R; ++k) {
            const float scale = loadScale(rows[k] + 4 * gi);
            total[k] = _mm256_fmadd_ps(acc[k], _mm256_set1_ps(scale), total[k]);
            for (std::int64_t i = simdEnd; i < e; ++i) {
                const int q = (i & 1) ? packed[k][i / 2] >> 4 : packed[k][i / 2] & 0xF;
                tail[k] += float(q - 8) * scale * x[i];
            }
        }
    }
#pragma GCC unroll 8
    for (int k = 0; k < R; ++k) {
        const float s = hsum(total[k]) + tail[k];
        out[k] = accumulate ? out[k] + s : s;
    }
}

template <WeightFormat F>
void gemvFormat(const WeightMatrix& w, std::int64_t r0, std::int64_t n, const float* x, float* out,
                bool accumulate)
{
    std::int64_t i = 0;
    for (; i + 2 <= n; i += 2)
        gemvRows<F, 2>(w, r0 + i, x, out + i, accumulate);
    for (; i < n; ++i)
        gemvRows<F, 1>(w, r0 + i, x, out + i, accumulate);
}

bool gemvAvx2(const WeightMatrix& w, std::int64_t r0, std::int64_t n, const float* x, float* out,
              bool accumulate)
{
    switch (w.format) {
    case WeightFormat::F32:
        gemvFormat<WeightFormat::F32>(w, r0, n, x, out, accumulate);
        return true;
    case WeightFormat::F16:
        gemvFormat<WeightFormat::F16>(w, r0, n, x, out, accumulate);
        return true;
    case WeightFormat::BF16:
        gemvFormat<WeightFormat::BF16>(w, r0, n, x, out, accumulate);
        return true;
    case WeightFormat::Int8:
        gemvFormat<WeightFormat::Int8>(w, r0, n, x, out, accumulate);
        return true;
    case WeightFormat::Fp8E4M3:
        gemvFormat<WeightFormat::Fp8E4M3>(w, r0, n, x, out, accumulate);
        return true;
    case WeightFormat::Int4: {
        if (w.groupSize % 32 != 0)
            return false;
        std::int64_t i = 0;
        for (; i + 2 <= n; i += 2)
            gemvInt4Rows<2>(w, r0 + i, x, out + i, accumulate);
        for (; i < n; ++i)
            gemvInt4Rows<1>(w, r0 + i, x, out + i, accumulate);
        return true;
    }
    default:
        return false;
    }
}

float dotAvx2(const float* a, const float* b, std::int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < n; ++i)
        s += a[i] * b[i];
    return s;
}

void axpyAvx2(float a, const float* x, float* y, std::int64_t n)
{
    const __m256 av = _mm256_set1_ps(a);
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i)
        y[i] += a * x[i];
}

} // namespace

const Llama4Kernels& llama4Avx2KernelTable()
{
    static const Llama4Kernels k{"avx2",   decodeRowsAvx2, gemmAvx2, gemmPackedAvx2,
                                 gemvAvx2, dotAvx2,        axpyAvx2};
    return k;
}

} // namespace quire::inference::cpu
