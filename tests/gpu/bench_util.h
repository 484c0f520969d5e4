// Shared pieces of the GPU benchmarks: random device data, event timing (median of repeats after
// warm-up) and the best cuBLAS bf16 GEMM figure over several algorithms (the baseline and the
// measured matrix peak). Errors end the benchmark with a message (exit 1); no device: exit 77.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace quire::gpubench {

inline void check(cudaError_t e, const char* what)
{
    if (e != cudaSuccess) {
        std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
        std::exit(1);
    }
}

inline void checkBlas(cublasStatus_t s, const char* what)
{
    if (s != CUBLAS_STATUS_SUCCESS) {
        std::fprintf(stderr, "%s: cuBLAS status %d\n", what, static_cast<int>(s));
        std::exit(1);
    }
}

inline void requireDevice()
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        std::printf("no CUDA device: benchmark skipped\n");
        std::exit(77);
    }
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, 0), "cudaGetDeviceProperties");
    std::printf("# device: %s, %d SMs, %.0f MB L2\n", p.name, p.multiProcessorCount, p.l2CacheSize / 1e6);
}

// Device buffer of bf16 values drawn uniformly from [-1, 1) (never zeros: they flatter the hardware).
struct DeviceBf16 {
    std::uint16_t* ptr = nullptr;
    std::size_t n = 0;
    explicit DeviceBf16(std::size_t count, std::uint64_t seed) : n(count)
    {
        check(cudaMalloc(&ptr, n * 2), "cudaMalloc");
        std::vector<std::uint16_t> host(std::min<std::size_t>(n, std::size_t(1) << 24));
        std::uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
        for (std::size_t done = 0; done < n; done += host.size()) {
            const std::size_t chunk = std::min(host.size(), n - done);
            for (std::size_t i = 0; i < chunk; ++i) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                // exponent of [1, 2), random mantissa and sign: then scaled to [-1, 1) by the exponent - 1
                const std::uint16_t mant = static_cast<std::uint16_t>(s & 0x7f);
                const std::uint16_t sign = static_cast<std::uint16_t>((s >> 7) & 1) << 15;
                const std::uint16_t expo = static_cast<std::uint16_t>(120 + ((s >> 8) % 7)); // 2^-7 .. 2^-1
                host[i] = static_cast<std::uint16_t>(sign | (expo << 7) | mant);
            }
            check(cudaMemcpy(ptr + done, host.data(), chunk * 2, cudaMemcpyHostToDevice), "upload");
        }
    }
    ~DeviceBf16() { cudaFree(ptr); }
    DeviceBf16(const DeviceBf16&) = delete;
    DeviceBf16& operator=(const DeviceBf16&) = delete;
};

// Median milliseconds of `reps` runs of f (each bracketed by events) after `warmup` runs.
inline float medianMs(const std::function<void()>& f, int warmup, int reps, cudaStream_t stream)
{
    for (int i = 0; i < warmup; ++i)
        f();
    check(cudaStreamSynchronize(stream), "warm-up");
    cudaEvent_t a, b;
    check(cudaEventCreate(&a), "event");
    check(cudaEventCreate(&b), "event");
    std::vector<float> t;
    for (int i = 0; i < reps; ++i) {
        check(cudaEventRecord(a, stream), "record");
        f();
        check(cudaEventRecord(b, stream), "record");
        check(cudaEventSynchronize(b), "sync");
        float ms = 0;
        check(cudaEventElapsedTime(&ms, a, b), "elapsed");
        t.push_back(ms);
    }
    check(cudaGetLastError(), "timed work");
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

struct CublasBest {
    double tflops = 0;
    const char* how = "";
    int algoIndex = -1;
};

// Best TFLOP/s of y[t][n] = x[t][k] . w[n][k]^T in bf16 (fp32 accumulation) over cublasGemmEx and the
// first `algos` cuBLASLt heuristic candidates.
inline CublasBest bestCublasGemm(int t, int n, int k, const std::uint16_t* x, const std::uint16_t* w,
                                 std::uint16_t* y, cudaStream_t stream, int algos = 8)
{
    const double flops = 2.0 * t * n * k;
    CublasBest best;
    {
        cublasHandle_t h;
        checkBlas(cublasCreate(&h), "cublasCreate");
        checkBlas(cublasSetStream(h, stream), "cublasSetStream");
        const float alpha = 1.f, beta = 0.f;
        const auto run = [&] {
            checkBlas(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, t, k, &alpha, w, CUDA_R_16BF, k, x,
                                   CUDA_R_16BF, k, &beta, y, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT),
                      "cublasGemmEx");
        };
        const float ms = medianMs(run, 3, 10, stream);
        best = {flops / (ms * 1e-3) / 1e12, "cublasGemmEx", -1};
        cublasDestroy(h);
    }
    cublasLtHandle_t lt;
    checkBlas(cublasLtCreate(&lt), "cublasLtCreate");
    cublasLtMatmulDesc_t desc;
    checkBlas(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), "desc");
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta);
    cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb);
    cublasLtMatrixLayout_t la, lb, lc;
    checkBlas(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, k, n, k), "layout");
    checkBlas(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, k, t, k), "layout");
    checkBlas(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, n, t, n), "layout");
    std::size_t wsBytes = std::size_t(64) << 20;
    void* ws = nullptr;
    check(cudaMalloc(&ws, wsBytes), "workspace");
    cublasLtMatmulPreference_t pref;
    checkBlas(cublasLtMatmulPreferenceCreate(&pref), "pref");
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsBytes,
                                         sizeof wsBytes);
    std::vector<cublasLtMatmulHeuristicResult_t> res(static_cast<std::size_t>(algos));
    int found = 0;
    checkBlas(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, algos, res.data(), &found),
              "heuristic");
    const float alpha = 1.f, beta = 0.f;
    for (int i = 0; i < found; ++i) {
        bool ok = true;
        const auto run = [&] {
            if (cublasLtMatmul(lt, desc, &alpha, w, la, x, lb, &beta, y, lc, y, lc,
                               &res[static_cast<std::size_t>(i)].algo, ws, wsBytes,
                               stream) != CUBLAS_STATUS_SUCCESS)
                ok = false;
        };
        const float ms = medianMs(run, 2, 8, stream);
        const double tf = flops / (ms * 1e-3) / 1e12;
        if (ok && tf > best.tflops)
            best = {tf, "cuBLASLt", i};
    }
    cudaFree(ws);
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(desc);
    cublasLtDestroy(lt);
    return best;
}

} // namespace quire::gpubench
