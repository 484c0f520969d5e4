// `quire-cli logits` end to end: the tiny Llama 4 models' logits, written as raw f32 and as text,
// by whole-prompt prefill and by prefill + one-token steps, against the transformers goldens.
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "inference/llama4_test_util.h"

using quire::test::loadLlama4Golden;
using quire::test::worstRelativeError;

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out, err;
};

Run cli(const QStringList& args)
{
    QProcess p;
    p.start(QUIRE_CLI, QStringList{"logits"} + args);
    if (!p.waitForFinished(120000))
        qFatal("quire-cli did not finish");
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}

QString tokenList(const std::vector<std::int32_t>& tokens)
{
    QStringList parts;
    for (const auto t : tokens)
        parts << QString::number(t);
    return parts.join(',');
}

std::vector<float> readFloats(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QByteArray bytes = f.readAll();
    std::vector<float> v(std::size_t(bytes.size()) / 4);
    std::memcpy(v.data(), bytes.data(), v.size() * 4);
    return v;
}

} // namespace

class TestLlama4Cli : public QObject {
    Q_OBJECT
private slots:
    void rawOutputMatchesGoldens_data()
    {
        QTest::addColumn<QString>("model");
        QTest::newRow("moe_chunked") << "moe_chunked";
        QTest::newRow("dense_moe_mix") << "dense_moe_mix";
    }
    void rawOutputMatchesGoldens()
    {
        QFETCH(QString, model);
        const auto g = loadLlama4Golden(model.toStdString());
        const QString dir = QString::fromStdString((quire::test::kLlama4Data / model.toStdString()).string());
        QTemporaryDir tmp;
        const QString out = tmp.filePath("logits.f32");
        const Run r = cli({"--model", dir, "--tokens", tokenList(g.tokens), "--out", out, "--threads", "2"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.out.trimmed(), QByteArray("shape ") + QByteArray::number(qulonglong(g.tokens.size())) +
                                      " " + QByteArray::number(g.vocab));
        const auto logits = readFloats(out);
        QCOMPARE(logits.size(), g.logits.size());
        QVERIFY(worstRelativeError(logits.data(), g.logits.data(), g.tokens.size(), g.vocab) < 1e-4);

        // Decode path: the prefix at once, then one token per step.
        const Run d = cli({"--model", dir, "--tokens", tokenList(g.tokens), "--out", out, "--prefill",
                           QString::number(g.decodePrefix), "--backend", "cpu-reference"});
        QVERIFY2(d.exitCode == 0, d.err.constData());
        const auto steps = readFloats(out);
        QCOMPARE(steps.size(), g.logits.size());
        const std::size_t P = std::size_t(g.decodePrefix), V = std::size_t(g.vocab);
        QVERIFY(worstRelativeError(steps.data() + (P - 1) * V, g.decodeLogits.data(), g.tokens.size() - P + 1,
                                   g.vocab) < 1e-4);
    }

    void textOutput()
    {
        const auto g = loadLlama4Golden("moe_chunked");
        const std::vector<std::int32_t> first(g.tokens.begin(), g.tokens.begin() + 3);
        const Run r =
            cli({"--model", QString::fromStdString((quire::test::kLlama4Data / "moe_chunked").string()),
                 "--tokens", tokenList(first)});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 4);
        QCOMPARE(lines[0], QByteArray("shape 3 4096"));
        for (int t = 0; t < 3; ++t) {
            const QList<QByteArray> values = lines[t + 1].split(' ');
            QCOMPARE(values.size(), 4096);
            std::vector<float> row;
            for (const QByteArray& v : values)
                row.push_back(v.toFloat());
            QVERIFY(worstRelativeError(row.data(), g.logits.data() + std::size_t(t) * 4096, 1, 4096) < 1e-4);
        }
    }

    void badInput()
    {
        const QString dir = QString::fromStdString((quire::test::kLlama4Data / "moe_chunked").string());
        QCOMPARE(cli({"--model", dir}).exitCode, 2);                    // no tokens
        QCOMPARE(cli({"--model", dir, "--tokens", "1,x"}).exitCode, 2); // not an id
        const Run range = cli({"--model", dir, "--tokens", "1,99999"}); // outside the vocabulary
        QCOMPARE(range.exitCode, 1);
        QVERIFY(range.err.contains("vocabulary"));
        QCOMPARE(cli({"--model", "/nonexistent", "--tokens", "1"}).exitCode, 1);
        QCOMPARE(cli({"--model", dir, "--tokens", "1", "--quant", "q3"}).exitCode, 1);
    }
};

QTEST_GUILESS_MAIN(TestLlama4Cli)
#include "test_llama4_cli.moc"
