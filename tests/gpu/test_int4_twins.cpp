// The int4 and MoE CPU twins on their own (no GPU): the quantizer against a group worked by hand and
// against the CPU engine's Int4 format (the same candidate scales), [in, out] and [out, in] sources
// alike, and the GEMV / GEMM twins against a double-precision dequantise-and-multiply reference.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gpu_test.h"
#include "llama4_formats.h" // the engine's Int4 row encoder (inference/src)
#include "quire/inference/cuda/bf16.h"
#include "quire/inference/cuda/twins/int4.h"
#include "quire/inference/cuda/twins/moe.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;

namespace {

int nibble(const tw::Int4Host& w, int r, int c)
{
    const std::uint8_t b = w.q[std::size_t(r) * std::size_t(w.k / 2) + std::size_t(c / 2)];
    return (c & 1) ? b >> 4 : b & 0x0f;
}

// Reference y[b][r] = sum_c dequant(w)[r][c] * x[b][c] in double.
std::vector<float> reference(const tw::Int4Host& w, const std::vector<std::uint16_t>& x, int rows,
                             const std::vector<std::int32_t>& expertOfRow)
{
    std::vector<float> y(std::size_t(rows) * std::size_t(w.n)), row(static_cast<std::size_t>(w.k));
    for (int b = 0; b < rows; ++b)
        for (int r = 0; r < w.n; ++r) {
            tw::int4DequantizeRow(w, expertOfRow.empty() ? 0 : expertOfRow[std::size_t(b)], r, row.data());
            double s = 0;
            for (int c = 0; c < w.k; ++c)
                s += double(row[std::size_t(c)]) *
                     qc::bf16ToFloat(x[std::size_t(b) * std::size_t(w.k) + std::size_t(c)]);
            y[std::size_t(b) * std::size_t(w.n) + std::size_t(r)] = float(s);
        }
    return y;
}

} // namespace

// One group of 128 values 0.07 * (i - 64): the scale is the candidate |w|max / (7 + j/8), j in {0, 2, 4, 6,
// 8}, whose codes round(w / scale) clamped to -8..7 give the least squared error (recomputed here in double),
// and each code is that rounding.
GPU_TEST(int4TwinQuantizesAGroupByHand)
{
    std::vector<std::uint16_t> w(128);
    for (int i = 0; i < 128; ++i)
        w[std::size_t(i)] = qc::floatToBf16(0.07f * float(i - 64));
    tw::Int4Host q;
    q.n = 1;
    q.k = 128;
    tw::int4Quantize(w.data(), 128, false, q);
    const float amax = std::fabs(qc::bf16ToFloat(w[0])); // 4.48 in bf16: 4.46875
    GPU_CHECK(amax == 4.46875f);
    float best = 0;
    double bestErr = INFINITY;
    for (int j = 0; j <= 8; j += 2) {
        const float scale = amax / (7.0f + 0.125f * float(j));
        double err = 0;
        for (int i = 0; i < 128; ++i) {
            const double v = qc::bf16ToFloat(w[std::size_t(i)]);
            const double code = std::min(std::max(std::nearbyint(v / scale), -8.0), 7.0);
            err += (code * scale - v) * (code * scale - v);
        }
        if (err < bestErr) {
            bestErr = err;
            best = scale;
        }
    }
    GPU_CHECK_MSG(q.scales[0] == best, "scale " << q.scales[0] << ", least-squares candidate " << best);
    for (int i = 0; i < 128; ++i) {
        const float v = qc::bf16ToFloat(w[std::size_t(i)]) * (1.0f / q.scales[0]);
        const int expect = int(std::min(std::max(std::nearbyint(v), -8.0f), 7.0f)) + 8;
        GPU_CHECK_MSG(nibble(q, 0, i) == expect,
                      "value " << i << ": code " << nibble(q, 0, i) << " != " << expect);
    }
    GPU_CHECK(nibble(q, 0, 0) == 0 && nibble(q, 0, 64) == 8); // -|w|max takes code -8; 0 stays 0
}

// The twin picks the scales the CPU engine's Int4 encoder picks (the same candidates; the sums differ
// only in order, so a near-tie may go the other way in a rare group), and [in, out] sources give the
// same codes as [out, in].
GPU_TEST(int4TwinAgreesWithEngineInt4)
{
    Rng rng(60);
    const int n = 48, k = 320, G = 128; // groups of 128, 128 and 64
    const auto w = rng.bf16(std::size_t(n) * k, 0.05f);
    tw::Int4Host q;
    q.n = n;
    q.k = k;
    q.groupSize = G;
    tw::int4Quantize(w.data(), k, false, q);

    std::vector<std::uint16_t> wt(w.size()); // [k][n]
    for (int r = 0; r < n; ++r)
        for (int c = 0; c < k; ++c)
            wt[std::size_t(c) * n + std::size_t(r)] = w[std::size_t(r) * k + std::size_t(c)];
    tw::Int4Host qt = q;
    tw::int4Quantize(wt.data(), n, true, qt);
    GPU_CHECK(qt.q == q.q && qt.scales == q.scales);

    namespace inf = quire::inference;
    const std::size_t rowBytes = inf::weightRowBytes(inf::WeightFormat::Int4, k, G);
    std::vector<std::byte> enc(rowBytes);
    std::vector<float> src(static_cast<std::size_t>(k));
    int same = 0, groups = 0;
    for (int r = 0; r < n; ++r) {
        for (int c = 0; c < k; ++c)
            src[std::size_t(c)] = qc::bf16ToFloat(w[std::size_t(r) * k + std::size_t(c)]);
        inf::l4::encodeRow(inf::WeightFormat::Int4, src.data(), enc.data(), k, G);
        for (int g = 0; g < 3; ++g, ++groups) {
            float s;
            std::memcpy(&s, enc.data() + 4 * g, 4);
            same += s == q.scales[std::size_t(g) * n + std::size_t(r)];
        }
    }
    GPU_CHECK_MSG(same >= groups * 95 / 100, same << " of " << groups << " groups chose the engine's scale");
}

GPU_TEST(int4TwinProductsMatchDequantizedReference)
{
    Rng rng(61);
    tw::Int4Host w;
    w.n = 40;
    w.k = 192;
    w.groupSize = 64;
    w.experts = 3;
    for (int e = 0; e < 3; ++e) {
        const auto src = rng.bf16(std::size_t(w.n) * w.k, 0.1f);
        tw::int4Quantize(src.data(), w.k, false, w, e);
    }
    const int rows = 7;
    const auto x = rng.bf16(std::size_t(rows) * w.k);
    const std::vector<std::int32_t> ids = {2, 0, 1, 1, 2, 0, 2};
    std::vector<float> y(std::size_t(rows) * w.n);
    tw::int4Gemv(w, x.data(), rows, ids.data(), y.data());
    double err = relError(y, reference(w, x, rows, ids));
    GPU_CHECK_MSG(err < 1e-5, "gemv rel error " << err);

    const std::vector<std::int32_t> offsets = {0, 2, 2, 7}; // expert 1 has no rows
    const std::vector<std::int32_t> ofRow = {0, 0, 2, 2, 2, 2, 2};
    tw::int4Gemm(x.data(), w, offsets.data(), rows, y.data());
    err = relError(y, reference(w, x, rows, ofRow));
    GPU_CHECK_MSG(err < 1e-5, "gemm rel error " << err);
}

// The MoE twin's routing: top-1 by value with ties to the lower index, and the router logits.
GPU_TEST(moeTwinRoutesTopOne)
{
    const float tie[4] = {0.5f, 2.0f, 2.0f, -1.0f};
    GPU_CHECK(tw::moeTopExpert(tie, 4) == 1);
    const float last[3] = {-3.0f, -2.0f, -1.0f};
    GPU_CHECK(tw::moeTopExpert(last, 3) == 2);
    const std::vector<std::uint16_t> m = {qc::floatToBf16(1.0f), qc::floatToBf16(-2.0f)};
    const std::vector<float> router = {1.0f, 1.0f, 0.5f, -1.0f};
    float logits[2];
    tw::moeRouterLogits(m.data(), 1, router.data(), 2, 2, logits);
    GPU_CHECK(logits[0] == -1.0f && logits[1] == 2.5f);
}
