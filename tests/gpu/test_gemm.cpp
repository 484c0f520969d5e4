// The cuBLASLt bf16 GEMM wrapper against a CPU product in double precision, bf16 and f32 outputs,
// beta accumulation, and the streams/events wrappers around it.
#include <cstdint>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/blas.h"
#include "quire/inference/cuda/stream.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;

namespace {

std::vector<float> cpuGemm(const std::vector<std::uint16_t>& x, const std::vector<std::uint16_t>& w, int t,
                           int n, int k)
{
    std::vector<float> y(static_cast<std::size_t>(t) * n);
    for (int i = 0; i < t; ++i)
        for (int j = 0; j < n; ++j) {
            double acc = 0;
            for (int c = 0; c < k; ++c)
                acc += static_cast<double>(qc::bf16ToFloat(x[static_cast<std::size_t>(i) * k + c])) *
                       qc::bf16ToFloat(w[static_cast<std::size_t>(j) * k + c]);
            y[static_cast<std::size_t>(i) * n + j] = static_cast<float>(acc);
        }
    return y;
}

} // namespace

GPU_TEST(gemmMatchesCpuProduct)
{
    Rng rng(50);
    auto blas = qc::Blas::create();
    GPU_CHECK_MSG(blas.has_value(), blas.error().message);
    auto stream = qc::Stream::create();
    GPU_CHECK(stream.has_value());
    struct Shape {
        int t, n, k;
    };
    for (const Shape s : {Shape{1, 576, 576}, Shape{37, 1536, 576}, Shape{256, 512, 1024}}) {
        const auto x = rng.bf16(static_cast<std::size_t>(s.t) * s.k);
        const auto w = rng.bf16(static_cast<std::size_t>(s.n) * s.k, 0.05f);
        const auto ref = cpuGemm(x, w, s.t, s.n, s.k);
        DevArray<std::uint16_t> dx(x), dw(w), dyb(ref.size());
        DevArray<float> dyf(ref.size());
        auto r1 = blas->gemm(dx.get(), dw.get(), dyb.get(), s.t, s.n, s.k, qc::GemmOut::Bf16, stream->get());
        GPU_CHECK_MSG(r1.has_value(), r1.error().message);
        auto r2 = blas->gemm(dx.get(), dw.get(), dyf.get(), s.t, s.n, s.k, qc::GemmOut::F32, stream->get());
        GPU_CHECK_MSG(r2.has_value(), r2.error().message);
        GPU_CHECK(stream->synchronize().has_value());
        const double eb = relError(toFloat(dyb.download()), ref);
        const double ef = relError(dyf.download(), ref);
        GPU_CHECK_MSG(eb < 5e-3, s.t << "x" << s.n << "x" << s.k << " bf16 out: rel error " << eb);
        GPU_CHECK_MSG(ef < 1e-4, s.t << "x" << s.n << "x" << s.k << " f32 out: rel error " << ef);

        // beta = 1 adds the product to what y holds: y = 2 * product.
        auto r3 =
            blas->gemm(dx.get(), dw.get(), dyf.get(), s.t, s.n, s.k, qc::GemmOut::F32, stream->get(), 1.0f);
        GPU_CHECK_MSG(r3.has_value(), r3.error().message);
        GPU_CHECK(stream->synchronize().has_value());
        std::vector<float> twice(ref);
        for (auto& v : twice)
            v *= 2;
        const double e2 = relError(dyf.download(), twice);
        GPU_CHECK_MSG(e2 < 1e-4, "beta accumulation: rel error " << e2);
    }
    GPU_CHECK(blas->cachedPlans() == 6);
}

GPU_TEST(gemmRejectsBadShapes)
{
    auto blas = qc::Blas::create(0);
    GPU_CHECK(blas.has_value());
    DevArray<std::uint16_t> buf(1024);
    auto r = blas->gemm(buf.get(), buf.get(), buf.get(), 4, 10, 16, qc::GemmOut::Bf16, nullptr);
    GPU_CHECK(!r.has_value());
    GPU_CHECK(r.error().code == quire::inference::ErrorCode::InvalidArgument);
}

GPU_TEST(eventsTimeAStream)
{
    auto stream = qc::Stream::create();
    auto start = qc::Event::create(), stop = qc::Event::create();
    GPU_CHECK(stream && start && stop);
    DevArray<std::uint8_t> a(std::size_t(64) << 20), b(std::size_t(64) << 20);
    GPU_CHECK(start->record(stream->get()).has_value());
    cudaCheck(cudaMemcpyAsync(b.get(), a.get(), a.size(), cudaMemcpyDeviceToDevice, stream->get()), "copy");
    GPU_CHECK(stop->record(stream->get()).has_value());
    GPU_CHECK(stop->synchronize().has_value());
    auto ms = stop->elapsedSince(*start);
    GPU_CHECK(ms.has_value());
    GPU_CHECK(*ms > 0.0f);
}
