// The W4A16 kernels on the device: quantization on load bit-exact with the twin (from [out, in] and
// [in, out] bf16, with a short last group), and the GEMV and GEMM (dense and grouped over experts, with
// an expert that gets no rows and tiles cut short in both dimensions) against a CPU
// dequantise-and-multiply reference in double.
#include <cstdint>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/kernels/int4.cuh"
#include "quire/inference/cuda/twins/int4.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;

namespace {

// Device copy of a twin's matrices.
struct DevInt4 {
    DevArray<std::uint8_t> q;
    DevArray<float> scales;
    qc::Int4Weights w;
    explicit DevInt4(const tw::Int4Host& h) : q(h.q), scales(h.scales)
    {
        w.q = q.get();
        w.scales = scales.get();
        w.n = h.n;
        w.k = h.k;
        w.groupSize = h.groupSize;
        w.qExpertBytes = static_cast<long long>(h.qExpertBytes());
        w.scaleExpertFloats = static_cast<long long>(h.scaleExpertFloats());
    }
};

tw::Int4Host randomInt4(Rng& rng, int n, int k, int groupSize, int experts)
{
    tw::Int4Host h;
    h.n = n;
    h.k = k;
    h.groupSize = groupSize;
    h.experts = experts;
    for (int e = 0; e < experts; ++e) {
        const auto src = rng.bf16(static_cast<std::size_t>(n) * k, 0.05f);
        tw::int4Quantize(src.data(), k, false, h, e);
    }
    return h;
}

// y[b][r] = sum_c dequant(w_e(b))[r][c] * x[b][c] in double.
std::vector<float> reference(const tw::Int4Host& w, const std::vector<std::uint16_t>& x, int rows,
                             const std::vector<std::int32_t>& expertOfRow)
{
    std::vector<float> y(static_cast<std::size_t>(rows) * w.n), row(static_cast<std::size_t>(w.k));
    for (int b = 0; b < rows; ++b)
        for (int r = 0; r < w.n; ++r) {
            tw::int4DequantizeRow(w, expertOfRow.empty() ? 0 : expertOfRow[b], r, row.data());
            double s = 0;
            for (int c = 0; c < w.k; ++c)
                s += double(row[c]) * qc::bf16ToFloat(x[static_cast<std::size_t>(b) * w.k + c]);
            y[static_cast<std::size_t>(b) * w.n + r] = static_cast<float>(s);
        }
    return y;
}

} // namespace

GPU_TEST(int4QuantizeIsBitExactWithTwin)
{
    Rng rng(70);
    struct Shape {
        int n, k, g;
    };
    for (const Shape s :
         {Shape{300, 320, 128}, Shape{64, 128, 64}, Shape{33, 64, 128}, Shape{128, 5120, 128}})
        for (const bool inputMajor : {false, true}) {
            const auto src = rng.bf16(static_cast<std::size_t>(s.n) * s.k, 0.02f);
            const long long ld = inputMajor ? s.n : s.k;
            // The twin takes the same layout; for [in, out] the source is read as [k][n].
            tw::Int4Host h;
            h.n = s.n;
            h.k = s.k;
            h.groupSize = s.g;
            tw::int4Quantize(src.data(), ld, inputMajor, h);
            DevArray<std::uint16_t> dsrc(src);
            DevArray<std::uint8_t> dq(qc::int4QBytes(s.n, s.k));
            DevArray<float> ds(qc::int4ScaleCount(s.n, s.k, s.g));
            cudaCheck(qc::launchInt4Quantize(dsrc.get(), ld, inputMajor, s.n, s.k, s.g, dq.get(), ds.get(),
                                             nullptr),
                      "quantize");
            const auto q = dq.download();
            const auto sc = ds.download();
            std::size_t qDiff = 0, sDiff = 0;
            for (std::size_t i = 0; i < q.size(); ++i)
                qDiff += q[i] != h.q[i];
            for (std::size_t i = 0; i < sc.size(); ++i)
                sDiff += sc[i] != h.scales[i];
            GPU_CHECK_MSG(qDiff == 0 && sDiff == 0, s.n << "x" << s.k << " g" << s.g
                                                        << (inputMajor ? " [in,out]" : "") << ": " << qDiff
                                                        << " code bytes and " << sDiff << " scales differ");
        }
}

GPU_TEST(int4GemvMatchesReference)
{
    Rng rng(71);
    // 520 outputs: the warp-per-row kernel; 512 (a multiple of 16, groups of 128): the tensor-core kernel.
    for (const int n : {520, 512}) {
        const auto h = randomInt4(rng, n, 1024, 128, 3);
        DevInt4 d(h);
        for (const int batch : {1, 3, 8}) {
            const auto x = rng.bf16(static_cast<std::size_t>(batch) * h.k);
            DevArray<std::uint16_t> dx(x);
            DevArray<float> dy(static_cast<std::size_t>(batch) * h.n);
            DevArray<std::uint16_t> dyb(static_cast<std::size_t>(batch) * h.n);
            // Shared weights (expert 0).
            cudaCheck(qc::launchInt4Gemv(d.w, dx.get(), h.k, batch, nullptr, dy.get(), h.n, false, nullptr),
                      "gemv");
            cudaCheck(qc::launchInt4Gemv(d.w, dx.get(), h.k, batch, nullptr, dyb.get(), h.n, true, nullptr),
                      "gemv bf16");
            const auto ref = reference(h, x, batch, {});
            double err = relError(dy.download(), ref), errB = relError(toFloat(dyb.download()), ref);
            GPU_CHECK_MSG(err < 1e-5 && errB < 5e-3, "n " << n << ", batch " << batch << ": rel error " << err
                                                          << " (bf16 out " << errB << ")");
            // A device-side expert per row.
            std::vector<std::int32_t> ids(static_cast<std::size_t>(batch));
            for (auto& id : ids)
                id = rng.integer(0, 2);
            DevArray<std::int32_t> dids(ids);
            dy.poison();
            cudaCheck(
                qc::launchInt4Gemv(d.w, dx.get(), h.k, batch, dids.get(), dy.get(), h.n, false, nullptr),
                "gemv experts");
            err = relError(dy.download(), reference(h, x, batch, ids));
            GPU_CHECK_MSG(err < 1e-5,
                          "n " << n << ", batch " << batch << " with expert ids: rel error " << err);
        }
    }
}

GPU_TEST(int4GemmMatchesReference)
{
    Rng rng(72);
    // Dense: rows and outputs not multiples of the 128 x 128 tile; a short last group (320 = 128 + 128 + 64).
    {
        const auto h = randomInt4(rng, 264, 320, 128, 1);
        DevInt4 d(h);
        const int rows = 300;
        const auto a = rng.bf16(static_cast<std::size_t>(rows) * h.k);
        DevArray<std::uint16_t> da(a), dc(static_cast<std::size_t>(rows) * h.n);
        cudaCheck(qc::launchInt4Gemm(da.get(), h.k, d.w, nullptr, 1, rows, dc.get(), h.n, nullptr), "gemm");
        const double err = relError(toFloat(dc.download()), reference(h, a, rows, {}));
        GPU_CHECK_MSG(err < 5e-3, "dense: rel error " << err);
    }
    // Grouped over 4 experts with 70, 0, 200 and 1 rows; group size 64.
    {
        const auto h = randomInt4(rng, 136, 256, 64, 4);
        DevInt4 d(h);
        const std::vector<std::int32_t> offsets = {0, 70, 70, 270, 271};
        const int rows = offsets.back();
        std::vector<std::int32_t> ofRow(static_cast<std::size_t>(rows));
        for (int e = 0; e < 4; ++e)
            for (int i = offsets[e]; i < offsets[e + 1]; ++i)
                ofRow[i] = e;
        const auto a = rng.bf16(static_cast<std::size_t>(rows) * h.k);
        DevArray<std::uint16_t> da(a), dc(static_cast<std::size_t>(rows) * h.n);
        DevArray<std::int32_t> doff(offsets);
        cudaCheck(qc::launchInt4Gemm(da.get(), h.k, d.w, doff.get(), 4, rows + 57, dc.get(), h.n, nullptr),
                  "grouped gemm");
        const double err = relError(toFloat(dc.download()), reference(h, a, rows, ofRow));
        GPU_CHECK_MSG(err < 5e-3, "grouped: rel error " << err);
    }
}

GPU_TEST(int4RejectsBadShapes)
{
    DevArray<std::uint8_t> q(4096);
    DevArray<float> s(256);
    DevArray<std::uint16_t> x(4096), y(4096);
    qc::Int4Weights w;
    w.q = q.get();
    w.scales = s.get();
    w.n = 8;
    w.k = 96; // not a multiple of the GEMM's 64
    w.groupSize = 32;
    GPU_CHECK(qc::launchInt4Gemm(x.get(), 96, w, nullptr, 1, 4, y.get(), 8, nullptr) ==
              cudaErrorInvalidValue);
    GPU_CHECK(qc::launchInt4Gemv(w, x.get(), 96, 9, nullptr, y.get(), 8, true, nullptr) ==
              cudaErrorInvalidValue);
    GPU_CHECK(qc::launchInt4Quantize(x.get(), 96, false, 8, 96, 100, q.get(), s.get(), nullptr) ==
              cudaErrorInvalidValue);
}
