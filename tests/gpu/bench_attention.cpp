// BENCH gpu_attn_prefill_8k / gpu_attn_prefill_32k: causal prefill attention, head dim 128, 40 query and
// 8 KV heads, TFLOP/s (4 * headDim * heads * visible (q, k) pairs) against the bf16 matrix peak measured
// in the same run (best cuBLAS 8192^3 GEMM). BENCH gpu_attn_decode: split-K decode over a paged cache
// (4 sequences of 32K tokens, 64-token pages in shuffled order), GB/s of K and V read against a measured
// device-to-device cudaMemcpy (bytes read + written).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "bench_util.h"
#include "quire/inference/cuda/kernels/attention_decode.cuh"
#include "quire/inference/cuda/kernels/attention_prefill.cuh"

using namespace quire::gpubench;
namespace qc = quire::inference::cuda;

namespace {

constexpr int kHeadDim = 128, kQHeads = 40, kKvHeads = 8;

double prefillTflops(int len, cudaStream_t stream, int reps)
{
    DeviceBf16 q(static_cast<std::size_t>(len) * kQHeads * kHeadDim, 11),
        k(static_cast<std::size_t>(len) * kKvHeads * kHeadDim, 12),
        v(static_cast<std::size_t>(len) * kKvHeads * kHeadDim, 13),
        o(static_cast<std::size_t>(len) * kQHeads * kHeadDim, 14);
    qc::PrefillAttention a;
    a.q = q.ptr;
    a.k = k.ptr;
    a.v = v.ptr;
    a.o = o.ptr;
    a.qStride = a.oStride = kQHeads * kHeadDim;
    a.kStride = a.vStride = kKvHeads * kHeadDim;
    a.lq = a.lkv = len;
    a.numQHeads = kQHeads;
    a.numKvHeads = kKvHeads;
    a.headDim = kHeadDim;
    a.scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
    cudaError_t err = cudaSuccess;
    const auto run = [&] {
        if (auto e = qc::launchAttentionPrefill(a, stream); e != cudaSuccess)
            err = e;
    };
    const float ms = medianMs(run, 2, reps, stream);
    check(err, "launchAttentionPrefill");
    const double pairs = static_cast<double>(len) * (len + 1) / 2.0;
    const double tf = 4.0 * kHeadDim * kQHeads * pairs / (ms * 1e-3) / 1e12;
    std::printf("# prefill %d tokens: %.3f ms, %.1f TFLOP/s\n", len, ms, tf);
    return tf;
}

} // namespace

int main()
{
    requireDevice();
    cudaStream_t stream;
    check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
    int sms = 0;
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "attribute");

    double peak = 0;
    {
        const int n = 8192;
        DeviceBf16 x(static_cast<std::size_t>(n) * n, 1), w(static_cast<std::size_t>(n) * n, 2),
            y(static_cast<std::size_t>(n) * n, 3);
        const CublasBest best = bestCublasGemm(n, n, n, x.ptr, w.ptr, y.ptr, stream);
        peak = best.tflops;
        std::printf("# bf16 matrix peak (best cuBLAS 8192^3): %.1f TFLOP/s (%s #%d)\n", peak, best.how,
                    best.algoIndex);
    }

    const double p8 = prefillTflops(8192, stream, 10);
    std::printf(
        "BENCH gpu_attn_prefill_8k ours=%.1f TFLOP/s baseline=%.1f TFLOP/s (bf16 matrix peak: best cuBLAS "
        "8192^3 GEMM) ratio=%.3f\n",
        p8, peak, p8 / peak);
    const double p32 = prefillTflops(32768, stream, 5);
    std::printf(
        "BENCH gpu_attn_prefill_32k ours=%.1f TFLOP/s baseline=%.1f TFLOP/s (bf16 matrix peak: best cuBLAS "
        "8192^3 GEMM) ratio=%.3f\n",
        p32, peak, p32 / peak);

    // Copy bandwidth: 1 GiB device to device, counting bytes read and written.
    double copyGBs = 0;
    {
        const std::size_t bytes = std::size_t(1) << 30;
        void *src, *dst;
        check(cudaMalloc(&src, bytes), "cudaMalloc");
        check(cudaMalloc(&dst, bytes), "cudaMalloc");
        check(cudaMemset(src, 0x5a, bytes), "memset");
        const float ms = medianMs(
            [&] { check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), "copy"); }, 2, 10,
            stream);
        copyGBs = 2.0 * bytes / (ms * 1e-3) / 1e9;
        cudaFree(src);
        cudaFree(dst);
    }

    // Decode: 4 sequences of 32K tokens in 64-token pages handed out in shuffled order.
    {
        const int batch = 4, len = 32768, page = 64;
        const int pagesPerSeq = len / page, totalPages = batch * pagesPerSeq;
        const std::size_t cacheN = static_cast<std::size_t>(totalPages) * page * kKvHeads * kHeadDim;
        DeviceBf16 kc(cacheN, 21), vc(cacheN, 22),
            q(static_cast<std::size_t>(batch) * kQHeads * kHeadDim, 23),
            out(static_cast<std::size_t>(batch) * kQHeads * kHeadDim, 24);
        std::vector<int> table(static_cast<std::size_t>(totalPages));
        std::iota(table.begin(), table.end(), 0);
        std::shuffle(table.begin(), table.end(), std::mt19937(7));
        std::vector<int> lens(batch, len);
        int *dTable, *dLens;
        check(cudaMalloc(&dTable, table.size() * 4), "cudaMalloc");
        check(cudaMalloc(&dLens, lens.size() * 4), "cudaMalloc");
        check(cudaMemcpy(dTable, table.data(), table.size() * 4, cudaMemcpyHostToDevice), "upload");
        check(cudaMemcpy(dLens, lens.data(), lens.size() * 4, cudaMemcpyHostToDevice), "upload");
        qc::DecodeAttention a;
        a.q = q.ptr;
        a.kCache = kc.ptr;
        a.vCache = vc.ptr;
        a.pageTable = dTable;
        a.seqLens = dLens;
        a.out = out.ptr;
        a.batch = batch;
        a.numQHeads = kQHeads;
        a.numKvHeads = kKvHeads;
        a.headDim = kHeadDim;
        a.pageSize = page;
        a.maxPagesPerSeq = pagesPerSeq;
        a.maxSeqLen = len;
        a.splitTokens = qc::decodeSplitTokens(batch, kKvHeads, len, 0, sms);
        a.scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
        float* ws;
        check(cudaMalloc(&ws, qc::decodeWorkspaceBytes(batch, kQHeads, kHeadDim, len, 0, a.splitTokens)),
              "cudaMalloc");
        a.workspace = ws;
        cudaError_t err = cudaSuccess;
        const float ms = medianMs(
            [&] {
                if (auto e = qc::launchAttentionDecode(a, stream); e != cudaSuccess)
                    err = e;
            },
            3, 20, stream);
        check(err, "launchAttentionDecode");
        const double bytes = 2.0 * batch * len * kKvHeads * kHeadDim * 2;
        const double gbs = bytes / (ms * 1e-3) / 1e9;
        std::printf("# decode %d x %d tokens, split %d: %.3f ms, %.0f GB/s of K/V; copy %.0f GB/s\n", batch,
                    len, a.splitTokens, ms, gbs, copyGBs);
        std::printf(
            "BENCH gpu_attn_decode ours=%.0f GB/s baseline=%.0f GB/s (device-to-device cudaMemcpy, read + "
            "write) ratio=%.3f\n",
            gbs, copyGBs, gbs / copyGBs);
        cudaFree(ws);
        cudaFree(dTable);
        cudaFree(dLens);
    }
    cudaStreamDestroy(stream);
    return 0;
}
