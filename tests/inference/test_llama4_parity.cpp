// f32 parity of the Llama 4 forward passes with Hugging Face transformers 5.24 on two tiny random
// models (tests/reference/make_tiny_llama4.py): moe_chunked (every layer MoE, chunk 16, 80 tokens,
// NoPE layer 3 with temperature tuning) and dense_moe_mix (dense layers 0 and 2, the llama3 blend
// band, decoding across chunk boundaries). Whole-prompt prefill and token-by-token decode must stay
// within 1e-4 relative error at every position, on the reference runner, the fast runner and the
// fast runner with the portable kernels.
#include <QTest>

#include "cpu/llama4_runner.h"
#include "inference/llama4_test_util.h"
#include "quire/inference/backend.h"
#include "quire/inference/llama4.h"

using namespace quire::inference;
using quire::test::loadLlama4Golden;
using quire::test::worstRelativeError;

namespace {

constexpr double kTolerance = 1e-4;

std::unique_ptr<Runner> makeRunner(const std::shared_ptr<const ModelWeights>& w, const QString& backend)
{
    RunnerOptions options;
    options.threads = 2;
    std::expected<std::unique_ptr<Runner>, Error> r;
    if (backend == "cpu-scalar")
        r = cpu::makeLlama4CpuRunner(w, options, &cpu::llama4ScalarKernels());
    else
        r = (*findBackend(backend.toStdString()))->createRunner(w, options);
    if (!r)
        qFatal("%s", r.error().message.c_str());
    return std::move(*r);
}

// A shallow copy of a tiny model's weights with an edited configuration.
template <typename Edit> std::shared_ptr<const ModelWeights> variant(const char* model, Edit edit)
{
    auto w = loadLlama4Weights(quire::test::kLlama4Data / model);
    if (!w)
        qFatal("%s", w.error().message.c_str());
    auto v = std::make_shared<Llama4Weights>();
    v->llama4 = (*w)->llama4;
    edit(v->llama4);
    v->config = (*w)->config;
    v->blocks = (*w)->blocks;
    v->embedding = (*w)->embedding;
    v->lmHead = (*w)->lmHead;
    v->outputNorm = (*w)->outputNorm;
    v->ropeFrequencies = (*w)->ropeFrequencies;
    v->storage = *w; // keeps the original (and its buffers) alive
    return v;
}

std::shared_ptr<const ModelWeights> load(const QString& model)
{
    auto w = loadLlama4ModelWeights(quire::test::kLlama4Data / model.toStdString());
    if (!w)
        qFatal("%s", w.error().message.c_str());
    return *w;
}

} // namespace

class TestLlama4Parity : public QObject {
    Q_OBJECT
private slots:
    void matchesTransformers_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("backend");
        for (const char* model : {"moe_chunked", "dense_moe_mix"})
            for (const char* backend : {"cpu-reference", "cpu", "cpu-scalar"})
                QTest::newRow((std::string(model) + "/" + backend).c_str()) << model << backend;
    }

    void matchesTransformers()
    {
        QFETCH(QString, model);
        QFETCH(QString, backend);
        const auto weights = load(model);
        const auto g = loadLlama4Golden(model.toStdString());
        QCOMPARE((*asLlama4(*weights)).llama4.vocabSize, g.vocab);
        auto runner = makeRunner(weights, backend);
        const auto V = std::size_t(g.vocab);

        // Whole prompt at once, logits at every position.
        std::vector<float> logits(g.logits.size(), NAN);
        QVERIFY(runner->forward(g.tokens, logits, true).has_value());
        int where = -1;
        const double prefillErr =
            worstRelativeError(logits.data(), g.logits.data(), g.tokens.size(), g.vocab, &where);
        qInfo("%s %s prefill: worst relative error %.3g (position %d)", qPrintable(model),
              qPrintable(backend), prefillErr, where);
        QVERIFY2(prefillErr < kTolerance,
                 qPrintable(QString("prefill error %1 at %2").arg(prefillErr).arg(where)));

        // Prefill P tokens, then one token at a time (HF's decode goldens).
        runner->truncate(0);
        QCOMPARE(runner->position(), 0);
        const auto P = std::size_t(g.decodePrefix);
        std::vector<float> dec(g.decodeLogits.size(), NAN);
        QVERIFY(runner->forward(std::span(g.tokens).first(P), std::span(dec).first(V), false).has_value());
        for (std::size_t t = P; t < g.tokens.size(); ++t)
            QVERIFY(runner
                        ->forward(std::span(g.tokens).subspan(t, 1),
                                  std::span(dec).subspan((t - P + 1) * V, V), false)
                        .has_value());
        QCOMPARE(runner->position(), int(g.tokens.size()));
        const double decodeErr =
            worstRelativeError(dec.data(), g.decodeLogits.data(), g.tokens.size() - P + 1, g.vocab, &where);
        qInfo("%s %s decode: worst relative error %.3g (row %d)", qPrintable(model), qPrintable(backend),
              decodeErr, where);
        QVERIFY2(decodeErr < kTolerance,
                 qPrintable(QString("decode error %1 at row %2").arg(decodeErr).arg(where)));
    }

    // Rolling back into a chunk whose ring slots were overwritten replays that chunk's start.
    void truncateIntoOverwrittenChunk_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("cpu-reference") << "cpu-reference";
        QTest::newRow("cpu") << "cpu";
    }
    void truncateIntoOverwrittenChunk()
    {
        QFETCH(QString, backend);
        const auto weights = load("moe_chunked");
        const auto g = loadLlama4Golden("moe_chunked");
        auto runner = makeRunner(weights, backend);
        const auto V = std::size_t(g.vocab);
        std::vector<float> all(g.logits.size());
        QVERIFY(runner->forward(g.tokens, all, true).has_value()); // rings now hold chunk 4 (64..79)
        for (const int back : {37, 48, 70}) { // inside chunk 2, at chunk 3's start, inside chunk 4
            runner->truncate(back);
            QCOMPARE(runner->position(), back);
            std::vector<float> rest((g.tokens.size() - std::size_t(back)) * V, NAN);
            QVERIFY(runner->forward(std::span(g.tokens).subspan(std::size_t(back)), rest, true).has_value());
            const double err = worstRelativeError(rest.data(), g.logits.data() + std::size_t(back) * V,
                                                  g.tokens.size() - std::size_t(back), g.vocab);
            QVERIFY2(err < kTolerance,
                     qPrintable(QString("after truncate(%1): error %2").arg(back).arg(err)));
        }
    }

    // The chunk rule must hold during decode too: a model whose RoPE layers saw the whole context
    // (the Meta reference's decode bug, spec 10.3) would give different logits after position 16.
    void chunkMaskChangesLogits()
    {
        auto global =
            variant("moe_chunked", [](Llama4Config& c) { std::ranges::fill(c.chunked, std::uint8_t(0)); });
        const auto g = loadLlama4Golden("moe_chunked");
        auto runner = makeRunner(global, "cpu");
        std::vector<float> logits(g.logits.size());
        QVERIFY(runner->forward(g.tokens, logits, true).has_value());
        const auto V = std::size_t(g.vocab);
        QVERIFY(worstRelativeError(logits.data(), g.logits.data(), 16, g.vocab) <
                kTolerance); // chunk 0 agrees
        QVERIFY(worstRelativeError(logits.data() + 16 * V, g.logits.data() + 16 * V, 64, g.vocab) > 1e-2);
    }

    // num_experts_per_tok 2 (spec 13.3 variant 2): the two sigmoid-weighted experts are summed
    // without renormalisation; the fast path and the oracle must agree, and differ from top-1.
    void twoExpertsPerToken()
    {
        auto two = variant("moe_chunked", [](Llama4Config& c) { c.expertsPerToken = 2; });
        const auto g = loadLlama4Golden("moe_chunked");
        std::vector<float> fast(g.logits.size()), ref(g.logits.size());
        QVERIFY(makeRunner(two, "cpu")->forward(g.tokens, fast, true).has_value());
        QVERIFY(makeRunner(two, "cpu-reference")->forward(g.tokens, ref, true).has_value());
        QVERIFY(worstRelativeError(fast.data(), ref.data(), g.tokens.size(), g.vocab) < 1e-5);
        QVERIFY(worstRelativeError(fast.data(), g.logits.data(), g.tokens.size(), g.vocab) > 1e-2);
    }

    void rejectsBadCalls()
    {
        const auto weights = load("moe_chunked");
        RunnerOptions options;
        options.maxContext = 8;
        auto runner = cpuBackend()->createRunner(weights, options);
        QVERIFY(runner.has_value());
        std::vector<float> logits(4096);
        const std::vector<std::int32_t> outOfVocab = {1, 4096};
        auto r = (*runner)->forward(outOfVocab, logits, false);
        QVERIFY(!r && r.error().message.find("vocabulary") != std::string::npos);
        const std::vector<std::int32_t> tooMany(9, 1);
        r = (*runner)->forward(tooMany, logits, false);
        QVERIFY(!r && r.error().message.find("context full") != std::string::npos);
        QCOMPARE((*runner)->position(), 0);
    }
};

QTEST_GUILESS_MAIN(TestLlama4Parity)
#include "test_llama4_parity.moc"
