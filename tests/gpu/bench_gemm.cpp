// BENCH gpu_gemm: our bf16 GEMM path (Blas::gemm: cuBLASLt, the heuristic's first algorithm, cached)
// against the best cuBLAS figure measured in the same run (cublasGemmEx and the top cuBLASLt candidates),
// on the square 8192^3 product and two prefill-shaped products.
#include <cstdio>

#include "bench_util.h"
#include "quire/inference/cuda/blas.h"
#include "quire/inference/cuda/stream.h"

using namespace quire::gpubench;
namespace qc = quire::inference::cuda;

int main()
{
    requireDevice();
    auto stream = qc::Stream::create();
    auto blas = qc::Blas::create();
    if (!stream || !blas) {
        std::fprintf(stderr, "cannot create a stream or a cuBLASLt handle\n");
        return 1;
    }
    struct Shape {
        int t, n, k;
        const char* what;
    };
    const Shape shapes[] = {{8192, 8192, 8192, "square"},
                            {8192, 5120, 5120, "prefill 8K tokens, 5120 -> 5120 (attention output)"},
                            {8192, 16384, 5120, "prefill 8K tokens, 5120 -> 2x8192 (fused gate/up)"}};
    double ours0 = 0, base0 = 0;
    for (const Shape& s : shapes) {
        DeviceBf16 x(static_cast<std::size_t>(s.t) * s.k, 1), w(static_cast<std::size_t>(s.n) * s.k, 2),
            y(static_cast<std::size_t>(s.t) * s.n, 3);
        const double flops = 2.0 * s.t * s.n * s.k;
        bool ok = true;
        const auto run = [&] {
            if (!blas->gemm(x.ptr, w.ptr, y.ptr, s.t, s.n, s.k, qc::GemmOut::Bf16, stream->get()))
                ok = false;
        };
        const float ms = medianMs(run, 3, 20, stream->get());
        if (!ok) {
            std::fprintf(stderr, "Blas::gemm failed for %dx%dx%d\n", s.t, s.n, s.k);
            return 1;
        }
        const double ours = flops / (ms * 1e-3) / 1e12;
        const CublasBest best = bestCublasGemm(s.t, s.n, s.k, x.ptr, w.ptr, y.ptr, stream->get());
        std::printf("# gemm %dx%dx%d (%s): ours %.1f TFLOP/s (%.3f ms), best cuBLAS %.1f TFLOP/s (%s #%d)\n",
                    s.t, s.n, s.k, s.what, ours, ms, best.tflops, best.how, best.algoIndex);
        if (&s == &shapes[0]) {
            ours0 = ours;
            base0 = best.tflops;
        }
    }
    std::printf("BENCH gpu_gemm ours=%.1f TFLOP/s baseline=%.1f TFLOP/s (best of cublasGemmEx and 8 cuBLASLt "
                "algorithms, bf16 8192^3) ratio=%.3f\n",
                ours0, base0, ours0 / base0);
    return 0;
}
