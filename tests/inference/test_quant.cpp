// Dequantisation: hand-built blocks with values worked out by hand, random blocks against the
// gguf-py goldens (tests/reference/make_dequant_goldens.py), and rows of the default model.
#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <vector>

#include "quire/inference/gguf.h"
#include "quire/inference/model_weights.h"
#include "quire/inference/quant.h"
#include "quire/inference/safetensors.h"

using namespace quire::inference;

namespace {

const std::filesystem::path kGolden =
    std::filesystem::path(QUIRE_TEST_DATA_DIR) / "inference" / "dequant_golden.safetensors";

template <typename Block> std::vector<float> dequant(const Block& b, GgmlType type, int n)
{
    std::vector<float> out(static_cast<std::size_t>(n), NAN);
    auto ok = dequantizeRow(type, reinterpret_cast<const std::byte*>(&b), out.data(), n);
    if (!ok)
        qFatal("%s", ok.error().message.c_str());
    return out;
}

// Packs 6-bit scales and mins the way Q4_K/Q5_K store them (the inverse of kScaleMin).
void packScales(std::uint8_t* q, const int (&sc)[8], const int (&mn)[8])
{
    for (int j = 0; j < 4; ++j) {
        q[j] = std::uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = std::uint8_t((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        q[j + 8] = std::uint8_t((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
    }
}

std::vector<float> floats(const SafeTensor& t)
{
    std::vector<float> v(static_cast<std::size_t>(t.elements()));
    std::memcpy(v.data(), t.data.data(), t.data.size());
    return v;
}

} // namespace

class TestQuant : public QObject {
    Q_OBJECT
private slots:
    void halfConversions()
    {
        QCOMPARE(fp16ToFp32(0x3C00), 1.0f);
        QCOMPARE(fp16ToFp32(0xC000), -2.0f);
        QCOMPARE(fp16ToFp32(0x7BFF), 65504.0f);
        QCOMPARE(fp16ToFp32(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
        QVERIFY(std::isinf(fp16ToFp32(0x7C00)));
        QVERIFY(std::isnan(fp16ToFp32(0x7E00)));
        QCOMPARE(fp32ToFp16(1.0f), std::uint16_t(0x3C00));
        QCOMPARE(fp32ToFp16(65504.0f), std::uint16_t(0x7BFF));
        QCOMPARE(fp32ToFp16(1e6f), std::uint16_t(0x7C00));
        QCOMPARE(fp32ToFp16(std::ldexp(1.0f, -24)), std::uint16_t(0x0001));
        QCOMPARE(fp32ToFp16(1.0f + std::ldexp(1.0f, -11)), std::uint16_t(0x3C00)); // tie to even
        for (std::uint32_t h = 0; h < 0x7C00; h += 7) // round trip of every 7th finite half
            QCOMPARE(fp32ToFp16(fp16ToFp32(std::uint16_t(h))), std::uint16_t(h));
        QCOMPARE(bf16ToFp32(0x3F80), 1.0f);
        QCOMPARE(fp32ToBf16(1.0f), std::uint16_t(0x3F80));
        QCOMPARE(fp32ToBf16(-3.0f), std::uint16_t(0xC040));
    }

    void q4_0ByHand()
    {
        BlockQ4_0 b{};
        b.d = 0x3800; // 0.5
        for (int j = 0; j < 16; ++j)
            b.qs[j] = std::uint8_t(j | ((15 - j) << 4));
        const auto v = dequant(b, GgmlType::Q4_0, 32);
        QCOMPARE(v[0], -4.0f); // (0 - 8) * 0.5
        QCOMPARE(v[15], 3.5f); // (15 - 8) * 0.5
        QCOMPARE(v[16], 3.5f); // high nibble of qs[0] = 15
        QCOMPARE(v[31], -4.0f);
    }

    void q4_1ByHand()
    {
        BlockQ4_1 b{};
        b.d = 0x3400; // 0.25
        b.m = 0xBC00; // -1
        for (int j = 0; j < 16; ++j)
            b.qs[j] = std::uint8_t(j | (3 << 4));
        const auto v = dequant(b, GgmlType::Q4_1, 32);
        QCOMPARE(v[0], -1.0f);
        QCOMPARE(v[15], 2.75f);
        QCOMPARE(v[20], -0.25f); // 3 * 0.25 - 1
    }

    void q8_0ByHand()
    {
        BlockQ8_0 b{};
        b.d = 0x4000; // 2
        for (int j = 0; j < 32; ++j)
            b.qs[j] = std::int8_t(j - 16);
        const auto v = dequant(b, GgmlType::Q8_0, 32);
        QCOMPARE(v[0], -32.0f);
        QCOMPARE(v[31], 30.0f);
    }

    void q4_kByHand()
    {
        BlockQ4_K b{};
        b.d = 0x3C00;    // 1
        b.dmin = 0x3800; // 0.5
        const int sc[8] = {1, 2, 3, 4, 5, 6, 7, 63}, mn[8] = {0, 1, 2, 3, 10, 20, 30, 40};
        packScales(b.scales, sc, mn);
        for (int i = 0; i < 8; ++i) {
            std::uint8_t s, m;
            kScaleMin(i, b.scales, s, m);
            QCOMPARE(int(s), sc[i]);
            QCOMPARE(int(m), mn[i]);
        }
        std::memset(b.qs, 0x31, sizeof(b.qs)); // low nibble 1, high nibble 3
        const auto v = dequant(b, GgmlType::Q4_K, 256);
        QCOMPARE(v[0], 1.0f);     // sub-block 0: 1*1*1 - 0.5*0
        QCOMPARE(v[32], 5.5f);    // sub-block 1 (high nibbles): 1*2*3 - 0.5*1
        QCOMPARE(v[128], 0.0f);   // sub-block 4: 5*1 - 0.5*10
        QCOMPARE(v[255], 169.0f); // sub-block 7: 63*3 - 0.5*40
    }

    void q5_kByHand()
    {
        BlockQ5_K b{};
        b.d = 0x3C00;
        b.dmin = 0x3800;
        const int sc[8] = {1, 2, 3, 4, 5, 6, 7, 63}, mn[8] = {0, 1, 2, 3, 10, 20, 30, 40};
        packScales(b.scales, sc, mn);
        std::memset(b.qs, 0x31, sizeof(b.qs));
        b.qh[0] = 0xFF; // fifth bit set for element 0 of every 32-element half
        const auto v = dequant(b, GgmlType::Q5_K, 256);
        QCOMPARE(v[0], 17.0f); // (1 | 16) * 1
        QCOMPARE(v[1], 1.0f);
        QCOMPARE(v[32], 37.5f);            // (3 | 16) * 2 - 0.5
        QCOMPARE(v[224], 63.0f * 19 - 20); // sub-block 7, element 0 of its half
    }

    void q6_kByHand()
    {
        BlockQ6_K b{};
        b.d = 0x3800; // 0.5
        for (int i = 0; i < 16; ++i)
            b.scales[i] = std::int8_t(i - 8);
        std::memset(b.ql, 0x21, sizeof(b.ql)); // low 1, high 2
        std::memset(b.qh, 0xE4, sizeof(b.qh)); // 2-bit fields 0, 1, 2, 3
        const auto v = dequant(b, GgmlType::Q6_K, 256);
        QCOMPARE(v[0], 124.0f);  // q = 1 - 32, scale -8
        QCOMPARE(v[32], 45.0f);  // q = 17 - 32, scale -6
        QCOMPARE(v[64], -4.0f);  // q = 34 - 32, scale -4
        QCOMPARE(v[96], -18.0f); // q = 50 - 32, scale -2
        QCOMPARE(v[128], 0.0f);  // scale 0
        QCOMPARE(v[255], 63.0f); // q = 18, scale 7
    }

    void matchesGgufPy()
    {
        auto file = SafetensorsFile::open(kGolden);
        QVERIFY2(file.has_value(), file ? "" : file.error().message.c_str());
        const std::pair<const char*, GgmlType> types[] = {{"Q4_0", GgmlType::Q4_0}, {"Q4_1", GgmlType::Q4_1},
                                                          {"Q8_0", GgmlType::Q8_0}, {"Q4_K", GgmlType::Q4_K},
                                                          {"Q5_K", GgmlType::Q5_K}, {"Q6_K", GgmlType::Q6_K},
                                                          {"F16", GgmlType::F16},   {"BF16", GgmlType::BF16}};
        for (const auto& [name, type] : types) {
            const SafeTensor* raw = file->tensor(std::string(name) + ".raw");
            const SafeTensor* f32 = file->tensor(std::string(name) + ".f32");
            QVERIFY(raw && f32);
            const std::vector<float> expect = floats(*f32);
            std::vector<float> got(expect.size(), NAN);
            QVERIFY(dequantizeRow(type, raw->data.data(), got.data(), std::int64_t(got.size())).has_value());
            for (std::size_t i = 0; i < got.size(); ++i)
                if (std::fabs(got[i] - expect[i]) > 1e-6f * std::max(1.0f, std::fabs(expect[i])))
                    QFAIL(qPrintable(
                        QString("%1 element %2: %3 != %4").arg(name).arg(i).arg(got[i]).arg(expect[i])));
        }
    }

    void matchesGgufPyOnTheDefaultModel()
    {
        const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
        const std::string path = env ? env
                                     : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") +
                                           "/.local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf";
        if (!std::filesystem::exists(path))
            QSKIP("default model not present");
        auto gguf = GgufFile::open(path);
        QVERIFY(gguf.has_value());
        auto golden = SafetensorsFile::open(kGolden);
        QVERIFY(golden.has_value());
        int checked = 0;
        for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight"}) {
            const GgufTensor* t = gguf->tensor(name);
            const SafeTensor* rows = golden->tensor(std::string("model.") + name + ".rows");
            const SafeTensor* f32 = golden->tensor(std::string("model.") + name + ".f32");
            QVERIFY(t && rows && f32);
            const std::int64_t cols = t->shape[0];
            const std::vector<float> expect = floats(*f32);
            const std::size_t bytes = *rowBytes(t->type, cols);
            std::vector<float> got(static_cast<std::size_t>(cols));
            for (std::int64_t i = 0; i < rows->elements(); ++i) {
                std::int64_t r;
                std::memcpy(&r, rows->data.data() + 8 * i, 8);
                QVERIFY(dequantizeRow(t->type, t->data.data() + std::size_t(r) * bytes, got.data(), cols)
                            .has_value());
                for (std::int64_t c = 0; c < cols; ++c)
                    QCOMPARE(got[std::size_t(c)], expect[std::size_t(i * cols + c)]);
                ++checked;
            }
        }
        QCOMPARE(checked, 10);
    }

    void quantizersRoundTrip()
    {
        std::vector<float> x(64);
        for (std::size_t i = 0; i < x.size(); ++i)
            x[i] = std::sin(float(i) * 0.7f) * 3.0f;
        BlockQ8_0 q8[2];
        quantizeRowQ8_0(x.data(), q8, 64);
        BlockQ4_1 q41[2];
        quantizeRowQ4_1(x.data(), q41, 64);
        BlockQ4_0 q40[2];
        quantizeRowQ4_0(x.data(), q40, 64);
        std::vector<float> y(64);
        QVERIFY(
            dequantizeRow(GgmlType::Q8_0, reinterpret_cast<const std::byte*>(q8), y.data(), 64).has_value());
        for (std::size_t i = 0; i < 64; ++i)
            QVERIFY(std::fabs(y[i] - x[i]) <= 3.0f / 127 * 0.51f + 1e-3f);
        QVERIFY(
            dequantizeRow(GgmlType::Q4_1, reinterpret_cast<const std::byte*>(q41), y.data(), 64).has_value());
        for (std::size_t i = 0; i < 64; ++i)
            QVERIFY(std::fabs(y[i] - x[i]) <= 6.0f / 15 * 0.51f + 1e-2f);
        QVERIFY(
            dequantizeRow(GgmlType::Q4_0, reinterpret_cast<const std::byte*>(q40), y.data(), 64).has_value());
        for (std::size_t i = 0; i < 64; ++i)
            QVERIFY(std::fabs(y[i] - x[i]) <= 3.0f / 8 + 1e-2f); // the +max side may clip by one step
    }

    void rejectsBadRows()
    {
        float out[32];
        std::byte raw[64] = {};
        auto r = dequantizeRow(GgmlType::Q4_K, raw, out, 32); // not a whole super-block
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::InvalidArgument);
        r = dequantizeRow(GgmlType::Q2_K, raw, out, 256);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::Unsupported);
        QVERIFY(!rowBytes(GgmlType::Q8_0, 33));
        QCOMPARE(*rowBytes(GgmlType::Q6_K, 512), std::size_t(420));
    }
};

QTEST_GUILESS_MAIN(TestQuant)
#include "test_quant.moc"
