// The CPU twins on their own (no GPU): the attention twins against the naive double-precision
// softmax(QK^T)V, RoPE's defining properties, the sampling twin against a full sort, and the GGUF block
// readers against blocks packed by hand from the documented layouts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/bf16.h"
#include "quire/inference/cuda/twins/attention.h"
#include "quire/inference/cuda/twins/quant.h"
#include "quire/inference/cuda/twins/rmsnorm.h"
#include "quire/inference/cuda/twins/rope.h"
#include "quire/inference/cuda/twins/sampling.h"
#include "quire/inference/quant.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;

namespace {

double prefillTwinError(int d, int hq, int hkv, int lq, int lkv, int offset, int chunk, Rng& rng)
{
    qc::PrefillAttention a;
    const auto q = rng.bf16(static_cast<std::size_t>(lq) * hq * d);
    const auto k = rng.bf16(static_cast<std::size_t>(lkv) * hkv * d);
    const auto v = rng.bf16(static_cast<std::size_t>(lkv) * hkv * d);
    std::vector<std::uint16_t> o(static_cast<std::size_t>(lq) * hq * d, 0xffff);
    a.q = q.data();
    a.k = k.data();
    a.v = v.data();
    a.o = o.data();
    a.qStride = a.oStride = static_cast<long long>(hq) * d;
    a.kStride = a.vStride = static_cast<long long>(hkv) * d;
    a.lq = lq;
    a.lkv = lkv;
    a.qPosOffset = offset;
    a.numQHeads = hq;
    a.numKvHeads = hkv;
    a.headDim = d;
    a.chunkSize = chunk;
    a.scale = 1.0f / std::sqrt(static_cast<float>(d));
    tw::attentionPrefill(a);
    return relError(toFloat(o), tw::attentionPrefillReference(a));
}

} // namespace

GPU_TEST(prefillTwinMatchesNaiveAttention)
{
    Rng rng(100);
    double e = prefillTwinError(64, 4, 2, 150, 150, 0, 0, rng);
    GPU_CHECK_MSG(e < 1e-2, "causal: " << e);
    e = prefillTwinError(128, 2, 1, 70, 200, 130, 0, rng);
    GPU_CHECK_MSG(e < 1e-2, "offset: " << e);
    e = prefillTwinError(64, 3, 3, 260, 300, 40, 48, rng);
    GPU_CHECK_MSG(e < 1e-2, "chunked: " << e);
    e = prefillTwinError(64, 1, 1, 20, 5, 500, 64, rng); // nothing visible: all zeros on both sides
    GPU_CHECK_MSG(e == 0, "empty rows: " << e);
}

GPU_TEST(prefillTwinMaskIsCausalAndChunked)
{
    // A key past the query, or before its chunk, must not change the output.
    Rng rng(101);
    const int d = 64, l = 40, chunk = 16;
    auto q = rng.bf16(static_cast<std::size_t>(l) * d), k = rng.bf16(static_cast<std::size_t>(l) * d),
         v = rng.bf16(static_cast<std::size_t>(l) * d);
    const auto run = [&](const std::vector<std::uint16_t>& kk, const std::vector<std::uint16_t>& vv) {
        std::vector<std::uint16_t> o(static_cast<std::size_t>(l) * d);
        qc::PrefillAttention a;
        a.q = q.data();
        a.k = kk.data();
        a.v = vv.data();
        a.o = o.data();
        a.qStride = a.kStride = a.vStride = a.oStride = d;
        a.lq = a.lkv = l;
        a.numQHeads = a.numKvHeads = 1;
        a.headDim = d;
        a.chunkSize = chunk;
        a.scale = 0.125f;
        tw::attentionPrefill(a);
        return o;
    };
    const auto base = run(k, v);
    auto k2 = k, v2 = v;
    for (int c = 0; c < d; ++c) { // change key/value 20 (chunk 1): rows 0-19 and 32-39 must not move
        k2[static_cast<std::size_t>(20 * d + c)] = qc::floatToBf16(5.0f);
        v2[static_cast<std::size_t>(20 * d + c)] = qc::floatToBf16(-7.0f);
    }
    const auto moved = run(k2, v2);
    for (int i = 0; i < l; ++i) {
        const bool sees = i >= 20 && i < 32;
        bool same = true;
        for (int c = 0; c < d; ++c)
            same = same &&
                   base[static_cast<std::size_t>(i * d + c)] == moved[static_cast<std::size_t>(i * d + c)];
        GPU_CHECK_MSG(same != sees, "row " << i);
    }
}

GPU_TEST(decodeTwinMatchesNaiveAttention)
{
    Rng rng(102);
    const int d = 64, hq = 6, hkv = 2, page = 16, batch = 3;
    const std::vector<std::int32_t> lens = {1, 150, 333};
    const int maxPages = (333 + page - 1) / page;
    std::vector<std::int32_t> table(static_cast<std::size_t>(batch) * maxPages);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), rng.engine());
    const std::size_t cacheN = table.size() * page * hkv * d;
    const auto kc = rng.bf16(cacheN), vc = rng.bf16(cacheN),
               q = rng.bf16(static_cast<std::size_t>(batch) * hq * d);
    for (const int chunk : {0, 100})
        for (const int split : {64, 128, 1024}) {
            std::vector<std::uint16_t> out(static_cast<std::size_t>(batch) * hq * d, 0xffff);
            qc::DecodeAttention a;
            a.q = q.data();
            a.kCache = kc.data();
            a.vCache = vc.data();
            a.pageTable = table.data();
            a.seqLens = lens.data();
            a.out = out.data();
            a.batch = batch;
            a.numQHeads = hq;
            a.numKvHeads = hkv;
            a.headDim = d;
            a.pageSize = page;
            a.maxPagesPerSeq = maxPages;
            a.maxSeqLen = 333;
            a.chunkSize = chunk;
            a.splitTokens = split;
            a.scale = 0.125f;
            tw::attentionDecode(a);
            const double e = relError(toFloat(out), tw::attentionDecodeReference(a));
            GPU_CHECK_MSG(e < 5e-3, "chunk " << chunk << " split " << split << ": " << e);
        }
}

GPU_TEST(ropeTwinProperties)
{
    Rng rng(103);
    const int d = 128, heads = 2;
    const auto inv = tw::ropeInvFreq(d, 500000.0f);
    auto x = rng.bf16(static_cast<std::size_t>(heads) * d);

    // Position 0 is the identity.
    auto y = x;
    const std::int32_t zero = 0;
    tw::rope(y.data(), 1, heads, d, heads * d, &zero, inv.data(), qc::RopeMode::NeoxHalves);
    GPU_CHECK(y == x);

    // Each pair keeps its length (up to bf16 rounding).
    y = x;
    const std::int32_t p = 12345;
    tw::rope(y.data(), 1, heads, d, heads * d, &p, inv.data(), qc::RopeMode::NeoxHalves);
    for (int i = 0; i < d / 2; ++i) {
        const auto len = [&](const std::vector<std::uint16_t>& v) {
            return std::hypot(qc::bf16ToFloat(v[static_cast<std::size_t>(i)]),
                              qc::bf16ToFloat(v[static_cast<std::size_t>(i + d / 2)]));
        };
        GPU_CHECK(std::abs(len(y) - len(x)) <= 0.01f * len(x) + 1e-6f);
    }

    // The interleaved layout is the halves layout with the dimensions permuted: bit-identical.
    std::vector<std::uint16_t> inter(static_cast<std::size_t>(d)), half(x.begin(), x.begin() + d);
    for (int i = 0; i < d / 2; ++i) {
        inter[static_cast<std::size_t>(2 * i)] = half[static_cast<std::size_t>(i)];
        inter[static_cast<std::size_t>(2 * i + 1)] = half[static_cast<std::size_t>(i + d / 2)];
    }
    tw::rope(half.data(), 1, 1, d, d, &p, inv.data(), qc::RopeMode::NeoxHalves);
    tw::rope(inter.data(), 1, 1, d, d, &p, inv.data(), qc::RopeMode::InterleavedPairs);
    for (int i = 0; i < d / 2; ++i) {
        GPU_CHECK(inter[static_cast<std::size_t>(2 * i)] == half[static_cast<std::size_t>(i)]);
        GPU_CHECK(inter[static_cast<std::size_t>(2 * i + 1)] == half[static_cast<std::size_t>(i + d / 2)]);
    }

    // q.k after rotation depends only on the distance between the positions.
    const auto q = rng.bf16(static_cast<std::size_t>(d)), k = rng.bf16(static_cast<std::size_t>(d));
    const auto rotatedDot = [&](std::int32_t pq, std::int32_t pk) {
        auto a = q, b = k;
        tw::rope(a.data(), 1, 1, d, d, &pq, inv.data(), qc::RopeMode::NeoxHalves);
        tw::rope(b.data(), 1, 1, d, d, &pk, inv.data(), qc::RopeMode::NeoxHalves);
        double s = 0;
        for (int i = 0; i < d; ++i)
            s += static_cast<double>(qc::bf16ToFloat(a[static_cast<std::size_t>(i)])) *
                 qc::bf16ToFloat(b[static_cast<std::size_t>(i)]);
        return s;
    };
    double norm = 0;
    for (int i = 0; i < d; ++i)
        norm += std::abs(qc::bf16ToFloat(q[static_cast<std::size_t>(i)]) *
                         qc::bf16ToFloat(k[static_cast<std::size_t>(i)]));
    const double d1 = rotatedDot(10, 3), d2 = rotatedDot(1010, 1003);
    GPU_CHECK_MSG(std::abs(d1 - d2) < 0.02 * norm, d1 << " vs " << d2);
    double spread = 0; // while other distances give other scores
    for (int dist = 0; dist < 64; dist += 3)
        spread = std::max(spread, std::abs(rotatedDot(100 + dist, 100) - d1));
    GPU_CHECK_MSG(spread > 0.05 * norm, "scores do not depend on the distance: " << spread);
}

GPU_TEST(llama3FrequencyScaling)
{
    tw::Llama3RopeScaling s; // factor 8, low 1, high 4, original 8192
    const int d = 128;
    const auto plain = tw::ropeInvFreq(d, 500000.0f);
    const auto scaled = tw::ropeInvFreq(d, 500000.0f, &s);
    GPU_CHECK(plain[0] == 1.0f && scaled[0] == 1.0f);               // short wavelengths are kept
    const float lowPlain = plain.back(), lowScaled = scaled.back(); // the longest wavelength is stretched 8x
    GPU_CHECK_MSG(std::abs(lowScaled * 8.0f - lowPlain) <= 1e-6f * lowPlain, lowScaled << " vs " << lowPlain);
    for (std::size_t i = 1; i < scaled.size(); ++i) {
        GPU_CHECK(scaled[i] < scaled[i - 1]); // still strictly decreasing
        GPU_CHECK(scaled[i] <= plain[i] && scaled[i] * 8.0f >= plain[i] * (1.0f - 1e-6f));
    }
}

GPU_TEST(samplingTwinMatchesFullSort)
{
    Rng rng(104);
    for (int trial = 0; trial < 40; ++trial) {
        const int vocab = rng.integer(2, 3000);
        std::vector<float> l(static_cast<std::size_t>(vocab));
        for (auto& x : l)
            x = std::round(rng.normal(2.0f) * 4.0f) / 4.0f; // coarse values: many ties
        if (trial % 5 == 0)
            l[static_cast<std::size_t>(rng.integer(0, vocab - 1))] = std::nanf("");
        const float t = rng.uniform(0.3f, 2.0f), p = rng.uniform(0.1f, 1.0f), u = rng.uniform(0.0f, 1.0f);
        const int k = rng.integer(0, 1200);
        const int a = tw::sampleTopKTopP(l.data(), vocab, t, k, p, u);
        const int b = tw::sampleTopKTopPReference(l.data(), vocab, t, k, p, u);
        GPU_CHECK_MSG(a == b, "trial " << trial << ": " << a << " vs " << b);
        GPU_CHECK(tw::sampleTopKTopP(l.data(), vocab, t, 1, p, u) == tw::argmax(l.data(), vocab));
    }
    const std::vector<float> sorted = {-INFINITY, -3.5f, -1e-30f, 0.0f, 1e-30f, 2.0f, INFINITY};
    for (std::size_t i = 1; i < sorted.size(); ++i)
        GPU_CHECK(tw::logitKey(sorted[i]) > tw::logitKey(sorted[i - 1]));
    GPU_CHECK(tw::logitKey(-0.0f) == tw::logitKey(0.0f));
    GPU_CHECK(tw::logitKey(std::nanf("")) < tw::logitKey(-INFINITY));
}

namespace {

void putHalf(std::uint8_t* p, float v)
{
    const std::uint16_t h = qc::floatToHalf(v);
    p[0] = static_cast<std::uint8_t>(h & 0xff);
    p[1] = static_cast<std::uint8_t>(h >> 8);
}

} // namespace

GPU_TEST(q8_0BlocksDecodeAsDocumented)
{
    std::uint8_t block[34];
    putHalf(block, 0.5f);
    for (int i = 0; i < 32; ++i)
        block[2 + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(i - 16));
    float y[32];
    tw::dequantizeRow(qc::QuantType::Q8_0, block, 32, y);
    for (int i = 0; i < 32; ++i)
        GPU_CHECK(y[i] == 0.5f * static_cast<float>(i - 16));
}

GPU_TEST(q4_KBlocksDecodeAsDocumented)
{
    Rng rng(105);
    int sc[8], mn[8], q[256];
    for (int j = 0; j < 8; ++j) {
        sc[j] = rng.integer(0, 63);
        mn[j] = rng.integer(0, 63);
    }
    for (int& v : q)
        v = rng.integer(0, 15);
    std::uint8_t block[144] = {};
    const float d = 0.25f, dmin = 0.125f;
    putHalf(block, d);
    putHalf(block + 2, dmin);
    std::uint8_t* s = block + 4;
    for (int j = 0; j < 8; ++j) { // 6-bit scales and mins, packed into 12 bytes
        if (j < 4) {
            s[j] |= static_cast<std::uint8_t>(sc[j]);
            s[j + 4] |= static_cast<std::uint8_t>(mn[j]);
        } else {
            s[j + 4] = static_cast<std::uint8_t>((sc[j] & 0x0f) | ((mn[j] & 0x0f) << 4));
            s[j - 4] |= static_cast<std::uint8_t>((sc[j] >> 4) << 6);
            s[j] |= static_cast<std::uint8_t>((mn[j] >> 4) << 6);
        }
    }
    for (int e = 0; e < 256; ++e) { // per 64 values: 32 bytes, low nibbles then high nibbles
        const int c = e / 64, pos = e % 64;
        std::uint8_t& byte = block[16 + 32 * c + (pos % 32)];
        byte |= static_cast<std::uint8_t>(pos < 32 ? q[e] : q[e] << 4);
    }
    float y[256];
    tw::dequantizeRow(qc::QuantType::Q4_K, block, 256, y);
    for (int e = 0; e < 256; ++e) {
        const int j = e / 32;
        const float want =
            d * static_cast<float>(sc[j]) * static_cast<float>(q[e]) - dmin * static_cast<float>(mn[j]);
        GPU_CHECK_MSG(y[e] == want, "value " << e << ": " << y[e] << " vs " << want);
    }
}

GPU_TEST(q6_KBlocksDecodeAsDocumented)
{
    Rng rng(106);
    int q[256], sc[16];
    for (int& v : q)
        v = rng.integer(0, 63);
    for (int& v : sc)
        v = rng.integer(-128, 127);
    std::uint8_t block[210] = {};
    const float d = 0.0625f;
    for (int e = 0; e < 256; ++e) { // ql: low 4 bits, qh: high 2 bits, by halves of 128 and quarters of 32
        const int n = e / 128, r = e % 128, qq = r / 32, l = r % 32;
        std::uint8_t& low = block[64 * n + l + (qq & 1) * 32];
        low |= static_cast<std::uint8_t>(qq >= 2 ? (q[e] & 0x0f) << 4 : (q[e] & 0x0f));
        block[128 + 32 * n + l] |= static_cast<std::uint8_t>((q[e] >> 4) << (2 * qq));
    }
    for (int i = 0; i < 16; ++i)
        block[192 + i] = static_cast<std::uint8_t>(static_cast<std::int8_t>(sc[i]));
    putHalf(block + 208, d);
    float y[256];
    tw::dequantizeRow(qc::QuantType::Q6_K, block, 256, y);
    for (int e = 0; e < 256; ++e) {
        const float want = d * static_cast<float>(sc[e / 16]) * static_cast<float>(q[e] - 32);
        GPU_CHECK_MSG(y[e] == want, "value " << e << ": " << y[e] << " vs " << want);
    }
}

// The twins' block decoders against the engine's own (inference/quant.h), written separately: every
// format the CUDA backend computes on, random bytes with sane fp16 scales.
GPU_TEST(quantTwinsAgreeWithTheEngine)
{
    Rng rng(108);
    const qc::QuantType types[] = {qc::QuantType::Q4_0, qc::QuantType::Q4_1, qc::QuantType::Q8_0,
                                   qc::QuantType::Q4_K, qc::QuantType::Q6_K};
    for (const qc::QuantType t : types) {
        const int k = 512;
        std::vector<std::uint8_t> row(qc::quantRowBytes(t, k));
        for (auto& b : row)
            b = rng.byte();
        for (std::size_t off = 0; off < row.size(); off += static_cast<std::size_t>(qc::quantBlockBytes(t))) {
            if (t == qc::QuantType::Q6_K) {
                putHalf(&row[off + 208], rng.normal(0.01f));
            } else {
                putHalf(&row[off], rng.normal(0.01f));
                if (t == qc::QuantType::Q4_1 || t == qc::QuantType::Q4_K)
                    putHalf(&row[off + 2], rng.normal(0.01f));
            }
        }
        std::vector<float> ours(static_cast<std::size_t>(k)), engine(static_cast<std::size_t>(k));
        tw::dequantizeRow(t, row.data(), k, ours.data());
        const auto ok =
            quire::inference::dequantizeRow(static_cast<quire::inference::GgmlType>(static_cast<int>(t)),
                                            reinterpret_cast<const std::byte*>(row.data()), engine.data(), k);
        GPU_CHECK(ok.has_value());
        for (int i = 0; i < k; ++i) {
            const float a = ours[static_cast<std::size_t>(i)], b = engine[static_cast<std::size_t>(i)];
            GPU_CHECK_MSG(std::fabs(a - b) <= 1e-6f * std::fabs(b) + 1e-30f,
                          "type " << static_cast<int>(t) << " value " << i << ": " << a << " vs " << b);
        }
    }
}

GPU_TEST(rmsNormTwinNormalises)
{
    Rng rng(107);
    const int dim = 256;
    auto x = rng.f32(dim, 3.0f);
    std::vector<std::uint16_t> out(dim);
    tw::rmsNormResidual(x.data(), nullptr, nullptr, out.data(), 1, dim, 0.0f);
    double ss = 0;
    for (auto v : out)
        ss += static_cast<double>(qc::bf16ToFloat(v)) * qc::bf16ToFloat(v);
    GPU_CHECK(std::abs(std::sqrt(ss / dim) - 1.0) < 5e-3);
}

GPU_TEST(halfConversionsRoundTrip)
{
    for (const float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f})
        GPU_CHECK_MSG(qc::halfToFloat(qc::floatToHalf(v)) == v, v);
    GPU_CHECK(qc::bf16ToFloat(qc::floatToBf16(1.00390625f)) == 1.0f); // ties to even
    GPU_CHECK(std::isnan(qc::bf16ToFloat(qc::floatToBf16(std::nanf("")))));
}
