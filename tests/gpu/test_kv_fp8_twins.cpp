// The fp8 KV twins on their own (no GPU): e4m3 encoding against the CPU engine's independent encoder and
// round trips over every code, the per-page scale (|x|max / 448) with re-encoding when a later token of
// the same page is larger, and decode attention over the pages close to attention over the original bf16.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gpu_test.h"
#include "llama4_formats.h" // the engine's e4m3 encoder (inference/src)
#include "quire/inference/cuda/bf16.h"
#include "quire/inference/cuda/twins/kv_fp8.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;

GPU_TEST(fp8TwinEncodesLikeTheEngine)
{
    for (int b = 0; b < 256; ++b) {
        if ((b & 0x7f) == 0x7f)
            continue; // NaN
        const float f = tw::fp8E4M3ToFloat(std::uint8_t(b));
        GPU_CHECK_MSG(tw::floatToFp8E4M3(f) == b, "code " << b << " -> " << f);
        GPU_CHECK(quire::inference::l4::fp8ToFloat(std::uint8_t(b)) == f);
    }
    GPU_CHECK(tw::fp8E4M3ToFloat(0x7E) == 448.0f && tw::fp8E4M3ToFloat(0x01) == std::ldexp(1.0f, -9));
    Rng rng(90);
    int differ = 0;
    for (int i = 0; i < 200000; ++i) {
        // Magnitudes from the subnormals to past the maximum, and exact midpoints between codes.
        float x = std::ldexp(rng.uniform(-1.0f, 1.0f), rng.integer(-12, 10));
        if (i % 4 == 0) {
            const int c = rng.integer(0, 0x7D);
            x = 0.5f * (tw::fp8E4M3ToFloat(std::uint8_t(c)) + tw::fp8E4M3ToFloat(std::uint8_t(c + 1)));
        }
        differ += tw::floatToFp8E4M3(x) != quire::inference::l4::floatToFp8(x);
    }
    GPU_CHECK_MSG(differ == 0, differ << " values encode differently");
}

GPU_TEST(fp8TwinAppendGrowsThePageScale)
{
    tw::Fp8KvHost c;
    c.allocate(4, 8, 1, 32);
    const std::vector<std::int32_t> table = {2, 0, 3, 1};
    std::vector<std::uint16_t> k1(32), v1(32), k2(32), v2(32);
    for (int d = 0; d < 32; ++d) {
        k1[d] = qc::floatToBf16(0.01f * float(d - 16));
        v1[d] = qc::floatToBf16(0.5f);
        k2[d] = qc::floatToBf16(float(d - 16)); // 100x larger: the page's scale grows
        v2[d] = qc::floatToBf16(0.25f);
    }
    tw::kvFp8Append(c, table.data(), 0, 1, k1.data(), 32, v1.data(), 32);
    const float s1 = c.kScales[2];
    GPU_CHECK(s1 == std::fabs(qc::bf16ToFloat(k1[0])) / 448.0f); // |k1|max is token 0's first value
    GPU_CHECK(c.vScales[2] == 0.5f / 448.0f);
    GPU_CHECK(tw::fp8E4M3ToFloat(c.v[2 * 8 * 32]) == 448.0f); // |x|max maps to the largest code
    tw::kvFp8Append(c, table.data(), 1, 1, k2.data(), 32, v2.data(), 32);
    GPU_CHECK(c.kScales[2] == 16.0f / 448.0f); // |k2|max = 16
    GPU_CHECK(c.vScales[2] == 0.5f / 448.0f);  // unchanged: 0.25 fits
    // Token 0's keys, re-encoded with the 100x coarser step, are rounded twice: within two half-steps
    // (|x| / 8) of their value; token 1's are rounded once (|x| / 16).
    std::vector<std::uint16_t> kOut(2 * 32), vOut(2 * 32);
    tw::kvFp8Gather(c, table.data(), 2, kOut.data(), vOut.data());
    for (int d = 0; d < 32; ++d) {
        const float x = qc::bf16ToFloat(k1[d]), y = qc::bf16ToFloat(kOut[d]);
        GPU_CHECK_MSG(std::fabs(x - y) <= std::max(std::fabs(x) / 8.0f, std::ldexp(16.0f / 448.0f, -9)),
                      "dim " << d << ": " << x << " -> " << y);
        const float x2 = qc::bf16ToFloat(k2[d]), y2 = qc::bf16ToFloat(kOut[32 + d]);
        GPU_CHECK_MSG(std::fabs(x2 - y2) <= std::fabs(x2) / 16.0f,
                      "token 1 dim " << d << ": " << x2 << " -> " << y2);
    }
    GPU_CHECK(qc::bf16ToFloat(vOut[32]) == 0.25f);
}

GPU_TEST(fp8TwinDecodeAttentionIsCloseToBf16)
{
    Rng rng(91);
    const int len = 300, G = 2, H = 6, D = 64, ps = 16;
    tw::Fp8KvHost c;
    c.allocate((len + ps - 1) / ps, ps, G, D);
    std::vector<std::int32_t> table(std::size_t(c.pages));
    std::iota(table.begin(), table.end(), 0);
    std::reverse(table.begin(), table.end());
    const auto k = rng.bf16(std::size_t(len) * G * D), v = rng.bf16(std::size_t(len) * G * D);
    tw::kvFp8Append(c, table.data(), 0, 200, k.data(), G * D, v.data(), G * D);
    for (int t = 200; t < len; ++t) // decode-style appends of one token
        tw::kvFp8Append(c, table.data(), t, 1, k.data() + std::size_t(t) * G * D, G * D,
                        v.data() + std::size_t(t) * G * D, G * D);
    const auto q = rng.bf16(std::size_t(H) * D);
    std::vector<float> out(std::size_t(H) * D), ref(out.size());
    const float scale = 1.0f / std::sqrt(float(D));
    tw::attentionDecodeFp8(c, table.data(), len, q.data(), H, scale, out.data());
    for (int hq = 0; hq < H; ++hq) { // exact attention over the bf16 values
        const int h = hq / (H / G);
        std::vector<double> s(len);
        double m = -INFINITY, l = 0;
        for (int j = 0; j < len; ++j) {
            double dot = 0;
            for (int d = 0; d < D; ++d)
                dot += double(qc::bf16ToFloat(q[std::size_t(hq) * D + d])) *
                       qc::bf16ToFloat(k[(std::size_t(j) * G + h) * D + d]);
            m = std::max(m, s[j] = dot * scale);
        }
        for (int j = 0; j < len; ++j)
            l += (s[j] = std::exp(s[j] - m));
        for (int d = 0; d < D; ++d) {
            double o = 0;
            for (int j = 0; j < len; ++j)
                o += s[j] * qc::bf16ToFloat(v[(std::size_t(j) * G + h) * D + d]);
            ref[std::size_t(hq) * D + d] = float(o / l);
        }
    }
    const double err = relError(out, ref);
    GPU_CHECK_MSG(err < 0.08, "fp8 attention vs bf16: rel error " << err); // e4m3 keeps 3 mantissa bits
    GPU_CHECK_MSG(err > 1e-4, "suspiciously exact: " << err);
}
