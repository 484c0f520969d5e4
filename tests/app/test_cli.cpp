#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

namespace {
struct Result {
    int code;
    QByteArray out;
    QByteArray err;
};

Result runCli(const QStringList& args, const QString& dataDir)
{
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert("QUIRE_DATA_DIR", dataDir);
    p.setProcessEnvironment(env);
    p.start(QUIRE_CLI, args);
    p.waitForFinished(60000);
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}
} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void versionAndHelp()
    {
        QTemporaryDir dir;
        auto v = runCli({"--version"}, dir.path());
        QCOMPARE(v.code, 0);
        QVERIFY(v.out.startsWith("quire-cli 0."));
        auto h = runCli({"--help"}, dir.path());
        QCOMPARE(h.code, 0);
        QVERIFY(h.out.contains("Commands:"));
        QVERIFY(h.out.contains("workspace"));
    }
    void unknownCommandIsAUsageError()
    {
        QTemporaryDir dir;
        auto r = runCli({"frobnicate"}, dir.path());
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown command"));
    }
    void workspacesPersistAcrossRuns()
    {
        QTemporaryDir dir;
        QCOMPARE(runCli({"workspace", "create", "contracts"}, dir.path()).code, 0);
        QCOMPARE(runCli({"workspace", "create", "meetings"}, dir.path()).code, 0);
        auto dup = runCli({"workspace", "create", "contracts"}, dir.path());
        QCOMPARE(dup.code, 1);
        QVERIFY(dup.err.contains("UNIQUE"));
        auto list = runCli({"workspace", "list"}, dir.path());
        QCOMPARE(list.code, 0);
        QCOMPARE(list.out, QByteArray("1\tcontracts\n2\tmeetings\n"));
        QVERIFY(QFile::exists(dir.path() + "/logs/quire.log"));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
