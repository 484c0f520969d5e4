// f32 parity of the dense Llama forward passes with Hugging Face transformers on tiny random
// models (tests/reference/make_tiny_llama.py wrote the weights and the golden logits).
#include <QTest>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "cpu/kernels.h"
#include "cpu/runners.h"
#include "quire/inference/backend.h"
#include "quire/inference/model_weights.h"
#include "quire/inference/safetensors.h"

using namespace quire::inference;

namespace {

const std::filesystem::path kData = std::filesystem::path(QUIRE_TEST_DATA_DIR) / "inference";
constexpr double kTolerance = 1e-4; // max |ours - golden| / max |golden|, per position

struct Golden {
    std::vector<std::int32_t> tokens;
    std::vector<float> logits; // [T][vocab]
};

Golden loadGolden(const std::filesystem::path& dir)
{
    Golden g;
    auto file = SafetensorsFile::open(dir / "golden.safetensors");
    if (!file)
        qFatal("%s", file.error().message.c_str());
    const SafeTensor* tokens = file->tensor("tokens");
    const SafeTensor* logits = file->tensor("logits");
    if (!tokens || !logits || tokens->dtype != "I64" || logits->dtype != "F32")
        qFatal("bad golden file");
    for (std::int64_t i = 0; i < tokens->elements(); ++i) {
        std::int64_t v;
        std::memcpy(&v, tokens->data.data() + 8 * i, 8);
        g.tokens.push_back(std::int32_t(v));
    }
    g.logits.resize(std::size_t(logits->elements()));
    std::memcpy(g.logits.data(), logits->data.data(), logits->data.size());
    return g;
}

// Worst relative error over positions; also reports the position.
double worstError(const std::vector<float>& ours, const std::vector<float>& golden, int vocab,
                  int* where = nullptr)
{
    double worst = 0;
    for (std::size_t t = 0; t * std::size_t(vocab) < golden.size(); ++t) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < vocab; ++i) {
            const std::size_t k = t * std::size_t(vocab) + std::size_t(i);
            maxDiff = std::max(maxDiff, std::fabs(double(ours[k]) - golden[k]));
            maxRef = std::max(maxRef, std::fabs(double(golden[k])));
        }
        const double rel = maxDiff / maxRef;
        if (!(rel <= worst)) { // NaN counts as the worst
            worst = std::isnan(rel) ? INFINITY : rel;
            if (where)
                *where = int(t);
        }
    }
    return worst;
}

} // namespace

class TestLlamaTiny : public QObject {
    Q_OBJECT
private slots:
    void matchesTransformers_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("backend");
        for (const char* model : {"tiny_llama", "tiny_qwen2"})
            for (const char* backend : {"cpu-reference", "cpu", "cpu-scalar"})
                QTest::newRow((std::string(model) + "/" + backend).c_str()) << model << backend;
    }

    void matchesTransformers()
    {
        QFETCH(QString, model);
        QFETCH(QString, backend);
        const auto dir = kData / model.toStdString();
        auto weights = loadLlamaWeightsHf(dir);
        QVERIFY2(weights.has_value(), weights ? "" : weights.error().message.c_str());
        const Golden golden = loadGolden(dir);
        const int vocab = (*weights)->config.vocabSize;
        QCOMPARE(golden.logits.size(), golden.tokens.size() * std::size_t(vocab));

        RunnerOptions options;
        options.threads = 2;
        std::expected<std::unique_ptr<Runner>, Error> runner;
        if (backend == "cpu-scalar")
            runner = cpu::makeLlamaCpuRunner(*weights, options, &cpu::scalarKernels());
        else
            runner = (*findBackend(backend.toStdString()))->createRunner(*weights, options);
        QVERIFY(runner.has_value());

        // Whole sequence at once, logits at every position.
        std::vector<float> logits(golden.logits.size(), NAN);
        QVERIFY((*runner)->forward(golden.tokens, logits, true).has_value());
        int where = -1;
        const double err = worstError(logits, golden.logits, vocab, &where);
        qInfo("%s on %s: worst relative error %.3g at position %d", qPrintable(backend), qPrintable(model),
              err, where);
        QVERIFY2(err < kTolerance,
                 qPrintable(QString("relative error %1 at position %2").arg(err).arg(where)));

        // Incremental: a prefix, then one token at a time through the KV cache.
        (*runner)->truncate(0);
        QCOMPARE((*runner)->position(), 0);
        std::vector<float> step(golden.logits.size(), NAN);
        const std::size_t prefix = 5;
        QVERIFY((*runner)->forward(std::span(golden.tokens).first(prefix), step, true).has_value());
        for (std::size_t t = prefix; t < golden.tokens.size(); ++t)
            QVERIFY((*runner)
                        ->forward(std::span(golden.tokens).subspan(t, 1),
                                  std::span(step).subspan(t * std::size_t(vocab), std::size_t(vocab)), false)
                        .has_value());
        QCOMPARE((*runner)->position(), int(golden.tokens.size()));
        QVERIFY(worstError(step, golden.logits, vocab) < kTolerance);
    }

    void rejectsBadCalls()
    {
        auto weights = loadLlamaWeightsHf(kData / "tiny_llama");
        QVERIFY(weights.has_value());
        RunnerOptions options;
        options.maxContext = 8;
        auto runner = cpuBackend()->createRunner(*weights, options);
        QVERIFY(runner.has_value());
        std::vector<float> logits(96);
        const std::vector<std::int32_t> outOfVocab = {1, 96};
        auto r = (*runner)->forward(outOfVocab, logits, false);
        QVERIFY(!r);
        QVERIFY(r.error().message.find("vocabulary") != std::string::npos);
        const std::vector<std::int32_t> tooMany(9, 1);
        r = (*runner)->forward(tooMany, logits, false);
        QVERIFY(!r);
        QVERIFY(r.error().message.find("context full") != std::string::npos);
        QCOMPARE((*runner)->position(), 0);
    }

    void configIsRead()
    {
        auto c = loadHfConfig(kData / "tiny_llama");
        QVERIFY(c.has_value());
        QCOMPARE(c->nHeads, 4);
        QCOMPARE(c->nKvHeads, 2);
        QCOMPARE(c->headDim, 8);
        QCOMPARE(c->ropeStyle, RopeStyle::NeoX);
        QCOMPARE(c->ropeScaling.type, RopeScaling::Type::Llama3);
        QCOMPARE(c->ropeScaling.originalContext, 32);
        auto q = loadHfConfig(kData / "tiny_qwen2");
        QVERIFY(q.has_value());
        QCOMPARE(q->arch, ModelArch::Qwen2);
        QVERIFY(q->tiedEmbeddings);
        QCOMPARE(q->ropeTheta, 1000000.0f);
        auto w = loadLlamaWeightsHf(kData / "tiny_qwen2");
        QVERIFY(w.has_value());
        QCOMPARE((*w)->layers[0].bq.size(), std::size_t(32));
        QCOMPARE((*w)->output.data, (*w)->tokenEmbedding.data);
    }
};

QTEST_GUILESS_MAIN(TestLlamaTiny)
#include "test_llama_tiny.moc"
