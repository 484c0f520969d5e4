// Portable Llama 4 kernels, the run-time choice of table, and the tiled matrix product driver.
#include "cpu/llama4_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "cpu/kernels.h"
#include "llama4_formats.h"

namespace quire::inference::cpu {

namespace {

void decodeRowsScalar(const WeightMatrix& w, std::int64_t r0, std::int64_t n, float* dst)
{
    for (std::int64_t i = 0; i < n; ++i)
        l4::decodeRow(w, r0 + i, dst + std::size_t(i) * std::size_t(w.cols));
}

void gemmScalar(const float* w, std::size_t ldw, std::int64_t n, const float* x, std::size_t ldx, int nTok,
                std::int64_t cols, float* out, std::size_t ldOut, bool accumulate)
{
    for (int t = 0; t < nTok; ++t)
        for (std::int64_t i = 0; i < n; ++i) {
            const float* a = w + std::size_t(i) * ldw;
            const float* b = x + std::size_t(t) * ldx;
            float s = 0.0f;
            for (std::int64_t c = 0; c < cols; ++c)
                s += a[c] * b[c];
            float& o = out[std::size_t(t) * ldOut + std::size_t(i)];
            o = accumulate ? o + s : s;
        }
}

void gemmPackedScalar(const float* w, std::size_t ldw, std::int64_t n, const float* packed, int nTok,
                      std::int64_t cols, std::int64_t k0, std::int64_t k1, float* out, std::size_t ldOut,
                      bool accumulate)
{
    for (int b = 0; b * kLlama4TokenBlock < nTok; ++b) {
        const int t0 = b * kLlama4TokenBlock, valid = std::min(kLlama4TokenBlock, nTok - t0);
        const int width = (valid + 7) / 8 * 8;
        const float* block = packed + std::size_t(t0) * std::size_t(cols);
        for (std::int64_t i = 0; i < n; ++i)
            for (int j = 0; j < valid; ++j) {
                float s = 0.0f;
                for (std::int64_t k = k0; k < k1; ++k)
                    s += w[std::size_t(i) * ldw + std::size_t(k)] *
                         block[std::size_t(k) * std::size_t(width) + std::size_t(j)];
                float& o = out[std::size_t(t0 + j) * ldOut + std::size_t(i)];
                o = accumulate ? o + s : s;
            }
    }
}

float dotScalar(const float* a, const float* b, std::int64_t n)
{
    float s = 0.0f;
    for (std::int64_t i = 0; i < n; ++i)
        s += a[i] * b[i];
    return s;
}

void axpyScalar(float a, const float* x, float* y, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        y[i] += a * x[i];
}

} // namespace

namespace {

// The 16-bit KV attention kernels are shared with the dense runner's table of the same kind.
void withKvAttention(Llama4Kernels& t, const Kernels& k)
{
    t.attnScoresF16 = k.attnScoresF16;
    t.attnMixF16 = k.attnMixF16;
    t.attnScoresBf16 = k.attnScoresBf16;
    t.attnMixBf16 = k.attnMixBf16;
}

} // namespace

const Llama4Kernels& llama4ScalarKernels()
{
    static const Llama4Kernels k = [] {
        Llama4Kernels t{"scalar", decodeRowsScalar, gemmScalar, gemmPackedScalar,
                        nullptr,  dotScalar,        axpyScalar};
        withKvAttention(t, scalarKernels());
        return t;
    }();
    return k;
}

#if QUIRE_HAVE_AVX2_KERNELS
const Llama4Kernels& llama4Avx2KernelTable(); // llama4_kernels_avx2.cpp: only after the CPU check
#endif

const Llama4Kernels* llama4Avx2Kernels()
{
#if QUIRE_HAVE_AVX2_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        static const Llama4Kernels k = [] {
            Llama4Kernels t = llama4Avx2KernelTable();
            withKvAttention(t, *avx2Kernels());
            return t;
        }();
        return &k;
    }
#endif
    return nullptr;
}

const Llama4Kernels& llama4BestKernels()
{
    static const Llama4Kernels* best = [] {
        const char* force = std::getenv("QUIRE_CPU_KERNELS");
        if (force && std::string_view(force) == "scalar")
            return &llama4ScalarKernels();
        const Llama4Kernels* avx2 = llama4Avx2Kernels();
        return avx2 ? avx2 : &llama4ScalarKernels();
    }();
    return *best;
}

std::size_t llama4MatmulScratch(std::int64_t cols, int nTok)
{
    if (nTok < kLlama4PackedMinTokens)
        return std::size_t(kLlama4TileRows) * std::size_t(cols);
    return std::size_t(kLlama4PackedTileRows + (nTok + 7) / 8 * 8) * std::size_t(cols);
}

void llama4PackTokens(const float* x, std::size_t ldx, int nTok, std::int64_t cols, float* packed)
{
    for (int t0 = 0; t0 < nTok; t0 += kLlama4TokenBlock) {
        const int valid = std::min(kLlama4TokenBlock, nTok - t0);
        const int width = (valid + 7) / 8 * 8;
        float* block = packed + std::size_t(t0) * std::size_t(cols);
        for (std::int64_t k = 0; k < cols; ++k) {
            float* dst = block + std::size_t(k) * std::size_t(width);
            for (int j = 0; j < valid; ++j)
                dst[j] = x[std::size_t(t0 + j) * ldx + std::size_t(k)];
            for (int j = valid; j < width; ++j)
                dst[j] = 0.0f;
        }
    }
}

void llama4MatmulRows(const Llama4Kernels& k, const WeightMatrix& w, const float* x, std::size_t ldx,
                      int nTok, float* out, std::size_t ldOut, std::int64_t r0, std::int64_t r1,
                      bool accumulate, std::vector<float>& scratch)
{
    if (r0 >= r1 || nTok <= 0)
        return;
    if (nTok == 1 && k.gemv && k.gemv(w, r0, r1 - r0, x, out + r0, accumulate))
        return;
    const auto cols = std::size_t(w.cols);
    const std::size_t need = llama4MatmulScratch(w.cols, nTok);
    if (scratch.size() < need)
        scratch.resize(need);
    float* tileBuf = scratch.data();
    float* packed = nullptr;
    std::int64_t tileRows = kLlama4TileRows;
    if (nTok >= kLlama4PackedMinTokens) {
        tileRows = kLlama4PackedTileRows;
        packed = tileBuf + std::size_t(tileRows) * cols;
        llama4PackTokens(x, ldx, nTok, w.cols, packed);
    }
    for (std::int64_t r = r0; r < r1; r += tileRows) {
        const std::int64_t n = std::min(tileRows, r1 - r);
        const float* tile;
        std::size_t ldw = cols;
        if (w.format == WeightFormat::F32) {
            tile = reinterpret_cast<const float*>(w.row(r));
            ldw = w.rowBytes / 4;
        } else {
            if (w.format == WeightFormat::Ggml)
                decodeRowsScalar(w, r, n, tileBuf);
            else
                k.decodeRows(w, r, n, tileBuf);
            tile = tileBuf;
        }
        if (!packed) {
            k.gemm(tile, ldw, n, x, ldx, nTok, w.cols, out + r, ldOut, accumulate);
            continue;
        }
        for (std::int64_t k0 = 0; k0 < w.cols; k0 += kLlama4KBlock)
            k.gemmPacked(tile, ldw, n, packed, nTok, w.cols, k0, std::min(w.cols, k0 + kLlama4KBlock),
                         out + r, ldOut, k0 > 0 || accumulate);
    }
}

} // namespace quire::inference::cpu
