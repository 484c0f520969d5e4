// The default model (SmolLM2-135M-Instruct Q4_1, QUIRE_DEFAULT_MODEL) with its CPU KV cache in f16
// and bf16: logits close to the f32 cache's over a prompt that spans two internal prefill batches,
// the same greedy answer, readKv/writeKv into a second runner bit for bit. Skipped without the
// model.
#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "quire/inference/engine.h"

using namespace quire::inference;

namespace {

// Stated tolerances against the f32 cache, per position: max |diff| over the vocabulary divided by
// that position's logit spread (max - min; about 30-40 on this model). Measured over the 541-token
// prompt: f16 7.5e-4 of the spread at worst (max |diff| 0.03), bf16 5.6e-3 (max |diff| 0.20); the
// argmax agreed at every position (797 tokens gave 1.2e-3 and 5.6e-3).
constexpr double kF16Tolerance = 5e-3;
constexpr double kBf16Tolerance = 2e-2;

std::filesystem::path modelPath()
{
    const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
    return env ? std::filesystem::path(env) : std::filesystem::path();
}

double spreadError(std::span<const float> a, std::span<const float> b)
{
    const auto [lo, hi] = std::ranges::minmax(b);
    double diff = 0;
    for (std::size_t i = 0; i < b.size(); ++i)
        diff = std::max(diff, std::fabs(double(a[i]) - b[i]));
    return diff / (double(hi) - lo);
}

} // namespace

class TestKvDtypeModel : public QObject {
    Q_OBJECT
    std::shared_ptr<const Model> m_model;
    std::vector<TokenId> m_prompt, m_question;
    std::vector<float> m_f32; // the f32 cache's logits [prompt][vocab]

    std::unique_ptr<Runner> runner(KvDtype d, int maxContext = 1024)
    {
        RunnerOptions o;
        o.threads = 2;
        o.maxContext = maxContext;
        o.kvDtype = d;
        auto r = cpuBackend()->createRunner(m_model->weights(), o);
        if (!r)
            qFatal("%s", r.error().message.c_str());
        return std::move(*r);
    }

    std::vector<TokenId> greedy(Runner& r, int n)
    {
        const auto V = std::size_t(m_model->config().vocabSize);
        std::vector<float> logits(V);
        r.truncate(0);
        if (!r.forward(m_question, logits, false))
            qFatal("prefill failed");
        std::vector<TokenId> out;
        for (int i = 0; i < n; ++i) {
            out.push_back(TokenId(std::ranges::max_element(logits) - logits.begin()));
            if (!r.forward(std::span(&out.back(), 1), logits, false))
                qFatal("decode failed");
        }
        return out;
    }

private slots:
    void initTestCase()
    {
        if (modelPath().empty() || !std::filesystem::exists(modelPath()))
            QSKIP("QUIRE_DEFAULT_MODEL not set or missing");
        auto m = Model::load(modelPath());
        QVERIFY2(m.has_value(), m ? "" : m.error().message.c_str());
        m_model = *m;
        std::string text;
        for (int i = 0; i < 16; ++i)
            text += "Section " + std::to_string(i + 1) +
                    ": the tenant pays the rent on the first day of each month, and the landlord repairs the "
                    "heating within five days of a written notice. ";
        const std::vector<ChatMessage> chat = {{"user", text + "\nWhen is the rent due?"}};
        m_prompt = m_model->encodeChat(chat);
        QVERIFY2(m_prompt.size() > 512 && m_prompt.size() < 700, std::to_string(m_prompt.size()).c_str());
        const std::vector<ChatMessage> question = {{"user", "What is the capital of France?"}};
        m_question = m_model->encodeChat(question);
        m_f32.assign(m_prompt.size() * std::size_t(m_model->config().vocabSize), NAN);
        QVERIFY(runner(KvDtype::F32)->forward(m_prompt, m_f32, true).has_value());
    }

    // Every position of a prompt longer than one 512-token batch.
    void logitsCloseToF32_data()
    {
        QTest::addColumn<int>("dtype");
        QTest::newRow("f16") << int(KvDtype::F16);
        QTest::newRow("bf16") << int(KvDtype::BF16);
    }
    void logitsCloseToF32()
    {
        QFETCH(int, dtype);
        const auto d = KvDtype(dtype);
        const auto V = std::size_t(m_model->config().vocabSize);
        const std::vector<float>& want = m_f32;
        std::vector<float> got(want.size(), NAN);
        auto half = runner(d);
        QVERIFY(half->kvLayout()->dtype == d);
        QVERIFY(half->forward(m_prompt, got, true).has_value());
        double worst = 0, maxAbs = 0;
        int argmaxAgree = 0;
        for (std::size_t t = 0; t < m_prompt.size(); ++t) {
            const std::span<const float> a = std::span(got).subspan(t * V, V),
                                         b = std::span(want).subspan(t * V, V);
            worst = std::max(worst, spreadError(a, b));
            for (std::size_t i = 0; i < V; ++i)
                maxAbs = std::max(maxAbs, std::fabs(double(a[i]) - b[i]));
            argmaxAgree += std::ranges::max_element(a) - a.begin() == std::ranges::max_element(b) - b.begin();
        }
        qInfo("%s KV vs f32 over %zu positions: max|diff| %.4f, %.3g of the spread, argmax agrees at %d",
              toString(d).data(), m_prompt.size(), maxAbs, worst, argmaxAgree);
        QVERIFY(worst > 0);
        QVERIFY2(worst < (d == KvDtype::F16 ? kF16Tolerance : kBf16Tolerance),
                 qPrintable(QString::number(worst)));
        QVERIFY(argmaxAgree >= int(m_prompt.size()) * 98 / 100);
    }

    void greedyAnswerUnchanged()
    {
        auto ref = runner(KvDtype::F32);
        const auto want = greedy(*ref, 16);
        QVERIFY(m_model->tokenizer().decode(want).find("Paris") != std::string::npos);
        for (const KvDtype d : {KvDtype::F16, KvDtype::BF16}) {
            auto half = runner(d);
            const auto got = greedy(*half, 16);
            qInfo("%s: %s", toString(d).data(), m_model->tokenizer().decode(got).c_str());
            QVERIFY2(got == want, toString(d).data());
        }
    }

    void readWriteRoundTrip()
    {
        auto src = runner(KvDtype::F16);
        const auto a = std::span<const TokenId>(m_prompt).first(150);
        const auto b = std::span<const TokenId>(m_prompt).subspan(150, 20);
        QVERIFY(src->forward(a, {}, false).has_value());
        auto dst = runner(KvDtype::F16);
        QVERIFY(dst->appendUncomputed(a).has_value());
        const KvLayout l = *src->kvLayout();
        QCOMPARE(l.rowBytes(), std::size_t(l.kvDim()) * 2);
        std::vector<std::byte> k(150 * l.rowBytes()), v(k.size()), k2(k.size()), v2(k.size());
        for (int layer = 0; layer < l.nLayers; ++layer) {
            QVERIFY(src->readKv(layer, 0, 150, k, v).has_value());
            QVERIFY(dst->writeKv(layer, 0, 150, k, v).has_value());
            QVERIFY(dst->readKv(layer, 0, 150, k2, v2).has_value());
            QVERIFY(k == k2 && v == v2);
        }
        const auto V = std::size_t(m_model->config().vocabSize);
        std::vector<float> x(b.size() * V, NAN), y(x.size(), NAN);
        QVERIFY(src->forward(b, x, true).has_value());
        QVERIFY(dst->forward(b, y, true).has_value());
        QVERIFY(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0);
    }
};

QTEST_GUILESS_MAIN(TestKvDtypeModel)
#include "test_kv_dtype_model.moc"
