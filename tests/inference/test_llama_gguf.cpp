// Dense Llama-family models from GGUF files built at run time (tests/inference/test_gguf_builder.h):
// every weight format through the whole forward pass, fast path (AVX2 and scalar) against the
// reference oracle; Qwen2 with biases; malformed files.
#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "cpu/kernels.h"
#include "cpu/runners.h"
#include "quire/inference/backend.h"
#include "quire/inference/gguf.h"
#include "quire/inference/model_weights.h"
#include "quire/inference/quant.h"
// GCC 12 reports a false -Wstringop-overflow inside the builder once it is inlined here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#include "test_gguf_builder.h"
#pragma GCC diagnostic pop

using namespace quire::inference;
using quire::test::GgufBuilder;

namespace {

constexpr int kDim = 256, kFfn = 512, kHeads = 4, kKvHeads = 2, kLayers = 2, kVocab = 64;

struct Spec {
    std::string arch = "llama";
    GgmlType type = GgmlType::Q4_0; // the layers' matrices
    bool biases = false;
    bool tied = true;
    std::string skipTensor;     // leave this tensor out
    std::string badShapeTensor; // give this tensor a wrong shape
    bool nanNorm = false;
};

std::vector<std::uint8_t> encode(GgmlType type, const std::vector<float>& v, std::mt19937& rng)
{
    const std::size_t n = v.size();
    std::vector<std::uint8_t> out(*rowBytes(type, std::int64_t(n)));
    switch (type) {
    case GgmlType::F32:
        std::memcpy(out.data(), v.data(), 4 * n);
        break;
    case GgmlType::F16:
    case GgmlType::BF16:
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint16_t h = type == GgmlType::F16 ? fp32ToFp16(v[i]) : fp32ToBf16(v[i]);
            std::memcpy(out.data() + 2 * i, &h, 2);
        }
        break;
    case GgmlType::Q8_0:
        quantizeRowQ8_0(v.data(), reinterpret_cast<BlockQ8_0*>(out.data()), std::int64_t(n));
        break;
    case GgmlType::Q4_0:
        quantizeRowQ4_0(v.data(), reinterpret_cast<BlockQ4_0*>(out.data()), std::int64_t(n));
        break;
    case GgmlType::Q4_1:
        quantizeRowQ4_1(v.data(), reinterpret_cast<BlockQ4_1*>(out.data()), std::int64_t(n));
        break;
    default: {
        // k-quants: random blocks with small scales (values of the order of 0.05)
        std::uniform_int_distribution<int> byte(0, 255);
        for (auto& b : out)
            b = std::uint8_t(byte(rng));
        const std::size_t blockBytes = weightBlockLayout(type)->second;
        for (std::size_t o = 0; o < out.size(); o += blockBytes) {
            const std::uint16_t d = fp32ToFp16(type == GgmlType::Q6_K ? 0.0015f : 0.003f);
            const std::uint16_t dmin = fp32ToFp16(0.002f);
            if (type == GgmlType::Q6_K) {
                std::memcpy(out.data() + o + 208, &d, 2);
                for (int s = 0; s < 16; ++s) // moderate int8 scales
                    out[o + 192 + std::size_t(s)] = std::uint8_t(std::int8_t(byte(rng) % 32 - 16));
            } else {
                std::memcpy(out.data() + o, &d, 2);
                std::memcpy(out.data() + o + 2, &dmin, 2);
            }
        }
    }
    }
    return out;
}

std::vector<std::uint8_t> buildModel(const Spec& s, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0, 1);
    GgufBuilder b;
    b.kvString("general.architecture", s.arch);
    b.kvString("general.name", "test");
    const std::string a = s.arch + ".";
    b.kvU32(a + "block_count", kLayers);
    b.kvU32(a + "embedding_length", kDim);
    b.kvU32(a + "feed_forward_length", kFfn);
    b.kvU32(a + "attention.head_count", kHeads);
    b.kvU32(a + "attention.head_count_kv", kKvHeads);
    b.kvU32(a + "context_length", 256);
    b.key(a + "attention.layer_norm_rms_epsilon", GgufBuilder::F32);
    const float eps = 1e-5f;
    GgufBuilder::putRaw(b.kvBytes(), &eps, 4);
    b.key(a + "rope.freq_base", GgufBuilder::F32);
    const float theta = 10000.0f;
    GgufBuilder::putRaw(b.kvBytes(), &theta, 4);

    auto add = [&](const std::string& name, std::vector<std::uint64_t> dims, GgmlType type, float scale,
                   float offset = 0) {
        if (name == s.skipTensor)
            return;
        std::size_t n = 1;
        for (auto d : dims)
            n *= d;
        std::vector<float> v(n);
        for (auto& x : v)
            x = offset + scale * nd(rng);
        if (s.nanNorm && name == "blk.1.ffn_norm.weight")
            v[5] = NAN;
        if (name == s.badShapeTensor)
            dims[0] /= 2, v.resize(v.size() / 2);
        b.tensor(name, dims, std::uint32_t(type), encode(type, v, rng));
    };
    const std::uint64_t hd = kDim / kHeads, kv = hd * kKvHeads;
    add("token_embd.weight", {kDim, kVocab}, GgmlType::F16, 1.0f);
    add("output_norm.weight", {kDim}, GgmlType::F32, 0.1f, 1.0f);
    if (!s.tied)
        add("output.weight", {kDim, kVocab}, GgmlType::Q8_0, 0.05f);
    for (int l = 0; l < kLayers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_norm.weight", {kDim}, GgmlType::F32, 0.1f, 1.0f);
        add(p + "ffn_norm.weight", {kDim}, GgmlType::F32, 0.1f, 1.0f);
        add(p + "attn_q.weight", {kDim, kDim}, s.type, 0.06f);
        add(p + "attn_k.weight", {kDim, kv}, s.type, 0.06f);
        add(p + "attn_v.weight", {kDim, kv}, s.type, 0.06f);
        add(p + "attn_output.weight", {kDim, kDim}, s.type, 0.06f);
        add(p + "ffn_gate.weight", {kDim, kFfn}, s.type, 0.06f);
        add(p + "ffn_up.weight", {kDim, kFfn}, s.type, 0.06f);
        add(p + "ffn_down.weight", {kFfn, kDim}, s.type, 0.04f);
        if (s.biases) {
            add(p + "attn_q.bias", {kDim}, GgmlType::F32, 0.5f);
            add(p + "attn_k.bias", {kv}, GgmlType::F32, 0.5f);
            add(p + "attn_v.bias", {kv}, GgmlType::F32, 0.5f);
        }
    }
    return b.build();
}

std::expected<std::shared_ptr<const ModelWeights>, Error> load(const QTemporaryDir& dir, const Spec& s,
                                                               std::uint32_t seed = 1)
{
    const std::string path = dir.path().toStdString() + "/m.gguf";
    const auto bytes = buildModel(s, seed);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    auto file = GgufFile::open(path);
    if (!file)
        return std::unexpected(file.error());
    return loadLlamaWeights(std::make_shared<const GgufFile>(std::move(*file)));
}

std::vector<float> run(const std::shared_ptr<const ModelWeights>& w, const std::string& which,
                       const std::vector<std::int32_t>& tokens)
{
    RunnerOptions o;
    o.threads = 2;
    o.maxContext = 64;
    std::expected<std::unique_ptr<Runner>, Error> r =
        which == "reference" ? cpu::makeLlamaReferenceRunner(w, o)
        : which == "scalar"  ? cpu::makeLlamaCpuRunner(w, o, &cpu::scalarKernels())
                             : cpu::makeLlamaCpuRunner(w, o);
    if (!r)
        qFatal("%s", r.error().message.c_str());
    std::vector<float> logits(tokens.size() * kVocab, NAN);
    // In two calls, so the second runs through the KV cache of the first.
    const std::size_t half = tokens.size() / 2;
    if (!(*r)->forward(std::span(tokens).first(half), std::span(logits).first(half * kVocab), true) ||
        !(*r)->forward(std::span(tokens).subspan(half), std::span(logits).subspan(half * kVocab), true))
        qFatal("forward failed");
    return logits;
}

double relativeError(const std::vector<float>& a, const std::vector<float>& ref)
{
    double worst = 0;
    for (std::size_t t = 0; t < ref.size() / kVocab; ++t) {
        double maxDiff = 0, maxRef = 0;
        for (std::size_t i = t * kVocab; i < (t + 1) * kVocab; ++i) {
            maxDiff = std::max(maxDiff, std::fabs(double(a[i]) - ref[i]));
            maxRef = std::max(maxRef, std::fabs(double(ref[i])));
        }
        const double e = maxDiff / maxRef;
        worst = std::isnan(e) ? INFINITY : std::max(worst, e);
    }
    return worst;
}

const std::vector<std::int32_t> kTokens = {1, 5, 9, 33, 2, 63, 17, 40, 8, 8, 21, 50};

} // namespace

class TestLlamaGguf : public QObject {
    Q_OBJECT
private slots:
    void everyFormatMatchesTheOracle_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<QString>("arch");
        for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K})
            QTest::newRow(toString(t)) << int(t) << "llama";
        QTest::newRow("qwen2 Q4_1 with biases") << int(GgmlType::Q4_1) << "qwen2";
    }

    void everyFormatMatchesTheOracle()
    {
        QFETCH(int, type);
        QFETCH(QString, arch);
        QTemporaryDir dir;
        Spec s;
        s.type = GgmlType(type);
        s.arch = arch.toStdString();
        s.biases = arch == "qwen2";
        s.tied = arch == "qwen2";
        auto w = load(dir, s);
        QVERIFY2(w.has_value(), w ? "" : w.error().message.c_str());
        QCOMPARE((*w)->config.ropeStyle, arch == "qwen2" ? RopeStyle::NeoX : RopeStyle::Interleaved);
        const auto ref = run(*w, "reference", kTokens);
        // The logits must be informative (not all equal) for the comparison to mean anything.
        QVERIFY(*std::max_element(ref.begin(), ref.end()) - *std::min_element(ref.begin(), ref.end()) > 1.0f);
        const double fast = relativeError(run(*w, "fast", kTokens), ref);
        const double scalar = relativeError(run(*w, "scalar", kTokens), ref);
        qInfo("%s %s: fast %.2g, scalar %.2g", qPrintable(arch), toString(GgmlType(type)), fast, scalar);
        // f32 activations for float weights; int16 activation blocks for quantized ones.
        const double tol = usesQuantized(GgmlType(type)) ? 1e-3 : 1e-4;
        QVERIFY(fast < tol);
        QVERIFY(scalar < tol);
    }

    void malformedModelsGiveClearErrors()
    {
        QTemporaryDir dir;
        Spec s;
        s.skipTensor = "blk.1.ffn_up.weight";
        auto w = load(dir, s);
        QVERIFY(!w);
        QVERIFY2(w.error().message.find("missing tensor blk.1.ffn_up.weight") != std::string::npos,
                 w.error().message.c_str());

        s = {};
        s.badShapeTensor = "blk.0.attn_k.weight";
        w = load(dir, s);
        QVERIFY(!w);
        QVERIFY2(w.error().message.find("blk.0.attn_k.weight has shape") != std::string::npos,
                 w.error().message.c_str());

        s = {};
        s.nanNorm = true;
        w = load(dir, s);
        QVERIFY(!w);
        QVERIFY2(w.error().message.find("NaN") != std::string::npos, w.error().message.c_str());

        s = {};
        s.arch = "mamba";
        w = load(dir, s);
        QVERIFY(!w);
        QCOMPARE(w.error().code, ErrorCode::Unsupported);

        s = {};
        s.skipTensor = "token_embd.weight";
        QVERIFY(!load(dir, s));
    }

private:
    static bool usesQuantized(GgmlType t) { return cpu::usesQ16Activations(t); }
};

QTEST_GUILESS_MAIN(TestLlamaGguf)
#include "test_llama_gguf.moc"
