// Portable Llama 4 kernels, the run-time choice of table, and the tiled matrix product driver.
#include "cpu/llama4_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

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

}  // namespace

const Llama4Kernels& llama4ScalarKernels()
{
    static const Llama4Kernels k{"scalar", decodeRowsScalar, gemmScalar, dotScalar, axpyScalar};
    return k;
}

#if QUIRE_HAVE_AVX2_KERNELS
const Llama4Kernels& llama4Avx2KernelTable();  // llama4_kernels_avx2.cpp: only after the CPU check
#endif

const Llama4Kernels* llama4Avx2Kernels()
{
#if QUIRE_HAVE_AVX2_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        return &llama4Avx2KernelTable();
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

void llama4MatmulRows(const Llama4Kernels& k, const WeightMatrix& w, const float* x, std::size_t ldx, int nTok,
                      float* out, std::size_t ldOut, std::int64_t r0, std::int64_t r1, bool accumulate,
                      float* scratch)
{
    const auto cols = std::size_t(w.cols);
    for (std::int64_t r = r0; r < r1; r += kLlama4TileRows) {
        const std::int64_t n = std::min(kLlama4TileRows, r1 - r);
        const float* tile;
        std::size_t ldw = cols;
        if (w.format == WeightFormat::F32) {
            tile = reinterpret_cast<const float*>(w.row(r));
            ldw = w.rowBytes / 4;
        } else {
            if (w.format == WeightFormat::Ggml)
                decodeRowsScalar(w, r, n, scratch);
            else
                k.decodeRows(w, r, n, scratch);
            tile = scratch;
        }
        k.gemm(tile, ldw, n, x, ldx, nTok, w.cols, out + r, ldOut, accumulate);
    }
}

}  // namespace quire::inference::cpu
