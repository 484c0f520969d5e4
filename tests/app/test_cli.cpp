#include <QDir>
#include <QFile>
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
        QVERIFY(dup.err.contains("exists already"));
        auto list = runCli({"workspace", "list"}, dir.path());
        QCOMPARE(list.code, 0);
        QVERIFY2(list.out.startsWith("1\tcontracts\tgeneral\t0 document(s)"), list.out.constData());
        QVERIFY(list.out.contains("\n2\tmeetings\t"));
        QVERIFY(QFile::exists(dir.path() + "/logs/quire.log"));
    }
    void workspaceFlowWithoutAModel()
    {
        QTemporaryDir dir;
        const QString corpus = dir.path() + "/corpus";
        QDir().mkpath(corpus + "/src");
        auto write = [](const QString& path, const QByteArray& text) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text);
        };
        write(corpus + "/minutes.txt", "The board approved the budget for the harbour bridge.\n");
        write(corpus + "/src/main.c", "int main(void) { return 0; }\n");
        const QString data = dir.path() + "/data";
        QCOMPARE(runCli({"workspace", "create", "w", "--preset", "legal"}, data).code, 0);
        auto add = runCli({"workspace", "add", "w", corpus}, data);
        QCOMPARE(add.code, 0);
        QVERIFY2(add.out.contains("2 file(s) found: 2 ingested"), add.out.constData());
        auto show = runCli({"workspace", "show", "w"}, data);
        QCOMPARE(show.code, 0);
        QVERIFY2(show.out.contains("preset legal"), show.out.constData());
        QVERIFY(show.out.contains("minutes.txt"));
        QVERIFY(show.out.contains("src/main.c"));
        auto again = runCli({"ingest", "w"}, data);
        QCOMPARE(again.code, 0);
        QVERIFY(again.out.contains("2 unchanged"));
        auto search = runCli({"search", "w", "harbour bridge"}, data);
        QCOMPARE(search.code, 0);
        QVERIFY2(search.out.startsWith("[doc 1 L1]"), search.out.constData());
        QVERIFY(search.out.contains("[harbour]"));
        QCOMPARE(runCli({"workspace", "set", "w", "--exclude", "2"}, data).code, 0);
        QVERIFY(runCli({"workspace", "show", "w"}, data).out.contains("excluded"));
        // No session yet, nothing to export.
        auto exp = runCli({"export", "w"}, data);
        QCOMPARE(exp.code, 1);
        QVERIFY(exp.err.contains("no session"));
        QCOMPARE(runCli({"workspace", "remove", "w", corpus + "/src"}, data).code, 0);
        QVERIFY(!runCli({"workspace", "show", "w"}, data).out.contains("main.c"));
        QCOMPARE(runCli({"workspace", "remove", "w"}, data).code, 0);
        QCOMPARE(runCli({"workspace", "list"}, data).out, QByteArray());
    }
    void sampleWorkspaceIsSetUpAndIngested()
    {
        QTemporaryDir dir;
        auto r = runCli({"sample"}, dir.path());
        QVERIFY2(r.code == 0, r.err.constData());
        QVERIFY2(r.out.contains("6 file(s) found: 6 ingested"), r.out.constData());
        auto show = runCli({"workspace", "show", "Sample"}, dir.path());
        QVERIFY(show.out.contains("pdf    ingested     contract.pdf"));
        QVERIFY(show.out.contains("audio  ingested     standup.ogg"));
        QVERIFY(show.out.contains("code   ingested     code/thermostat/controller.py"));
        // Contract clauses are searchable with their page.
        auto search = runCli({"search", "Sample", "governing law"}, dir.path());
        QVERIFY2(search.out.contains(" p.2]"), search.out.constData());
        auto again = runCli({"sample"}, dir.path());
        QCOMPARE(again.code, 0);
        QVERIFY2(again.out.contains("6 unchanged"), again.out.constData());
    }
    void everyFailureHasAMessageAndAnExitCode()
    {
        QTemporaryDir dir;
        const QString data = dir.path();
        QCOMPARE(runCli({"workspace", "create", "w"}, data).code, 0);
        struct Case {
            QStringList args;
            int code;
            const char* message;
        };
        const Case cases[] = {
            {{"workspace"}, 2, "Usage"},
            {{"workspace", "frob", "w"}, 2, "unknown action"},
            {{"workspace", "add", "w"}, 2, "at least one"},
            {{"workspace", "add", "w", dir.path() + "/missing"}, 1, "no such file"},
            {{"workspace", "add", "nope", dir.path()}, 1, "no workspace named"},
            {{"workspace", "create", "x", "--preset", "poetry"}, 1, "unknown preset"},
            {{"workspace", "set", "w", "--exclude", "abc"}, 2, "document numbers"},
            {{"workspace", "set", "w", "--exclude", "9"}, 1, "no doc 9"},
            {{"ingest", "w"}, 1, "no sources yet"},
            {{"budget", "w", "--model", dir.path() + "/none.gguf"}, 1, "model not found"},
            {{"prefill", "nope"}, 1, "no workspace named"},
            {{"ask", "w"}, 2, "Usage"},
            {{"ask", "w", "  "}, 2, "empty"},
            {{"ask", "w", "q", "--max-tokens", "0"}, 2, "positive"},
            {{"ask", "w", "q", "--bogus"}, 2, "unknown option"},
            {{"ask", "w", "why?", "--model", dir.path() + "/none.gguf"}, 1, "model not found"},
            {{"search", "nope", "x"}, 1, "no workspace named"},
            {{"export", "w", "--format", "pdf"}, 2, "md or json"},
            {{"export", "nope"}, 1, "no workspace named"},
        };
        for (const auto& c : cases) {
            const auto r = runCli(c.args, data);
            QVERIFY2(r.code == c.code,
                     qPrintable(c.args.join(' ') + " -> " + QString::number(r.code) + ": " + r.err));
            QVERIFY2(r.err.contains(c.message), qPrintable(c.args.join(' ') + ": " + r.err));
        }
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
