// `quire-cli info --model` end to end on Scout's config.json alone: the memory plan's lines, a context that
// fits (exit 0), one that does not (exit 1, the numbers on stderr), and host memory making it fit.
#include <QProcess>
#include <QTest>

namespace {

struct Run {
    int exitCode = -1;
    QString out, err;
};

Run info(const QStringList& args)
{
    QProcess p;
    p.start(QUIRE_CLI,
            QStringList{"info", "--model", QString(QUIRE_TEST_DATA_DIR) + "/llama4/scout_config"} + args);
    if (!p.waitForFinished(60000))
        qFatal("quire-cli did not finish");
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

} // namespace

class TestInfoCli : public QObject {
    Q_OBJECT
private slots:
    void planOfScoutOnAnH100()
    {
        const Run r = info({"--gpu-memory", "79", "--context", "131072"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("48 layers, 16 experts"), qPrintable(r.out));
        QVERIFY2(r.out.contains("weights                   68.56 GiB"), qPrintable(r.out));
        QVERIFY2(r.out.contains("max context on the GPU 257280 tokens"), qPrintable(r.out));
        QVERIFY2(r.out.contains("a context of 131072 tokens fits"), qPrintable(r.out));
    }

    void tooLongContextIsRefused()
    {
        const Run r = info({"--gpu-memory", "79", "--context", "1048576"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("room for 257280 tokens"), qPrintable(r.err));
        QVERIFY2(r.err.contains("at most 257280"), qPrintable(r.err));
        const Run host = info({"--gpu-memory", "79", "--host-memory", "64", "--context", "1048576"});
        QCOMPARE(host.exitCode, 0);
        QVERIFY2(host.out.contains("max context with host 1771776 tokens"), qPrintable(host.out));
        QVERIFY2(host.out.contains("does not use host memory yet"), qPrintable(host.out));
    }

    void badOptionsAreUsageErrors()
    {
        QCOMPARE(info({"--gpu-memory", "lots"}).exitCode, 2);
        QCOMPARE(info({"--quant", "int3"}).exitCode, 2);
        QCOMPARE(info({"--frobnicate", "1"}).exitCode, 2);
    }
};

QTEST_GUILESS_MAIN(TestInfoCli)
#include "test_info_cli.moc"
