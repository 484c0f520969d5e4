#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <spdlog/spdlog.h>

#include "quire/app/logging.h"
#include "quire/app/paths.h"
#include "quire/inference/log.h"

using namespace quire::app;

class TestPaths : public QObject {
    Q_OBJECT
private slots:
    void honoursQuireDataDir()
    {
        QTemporaryDir dir;
        qputenv("QUIRE_DATA_DIR", (dir.path() + "/q").toUtf8());
        const Paths p = Paths::standard();
        QCOMPARE(p.dataDir, dir.path() + "/q");
        QCOMPARE(p.libraryDb, dir.path() + "/q/library.sqlite");
        QString error;
        QVERIFY(p.ensureExists(&error));
        QVERIFY(QDir(p.logDir).exists());
        QVERIFY(QDir(p.modelDir).exists());
        qunsetenv("QUIRE_DATA_DIR");
    }
    void defaultsToXdgDataHome()
    {
        QTemporaryDir dir;
        qunsetenv("QUIRE_DATA_DIR");
        qputenv("XDG_DATA_HOME", dir.path().toUtf8());
        QCOMPARE(Paths::standard().dataDir, dir.path() + "/quire");
    }
    void moduleLoggersWriteToTheRotatingFile()
    {
        QTemporaryDir dir;
        initLogging({dir.path(), false, true});
        spdlog::get("storage")->info("storage says hello");
        quire::inference::logMessage(quire::inference::LogLevel::Info, "engine says hello");
        spdlog::get("storage")->flush();
        spdlog::get("inference")->flush();
        QFile f(dir.path() + "/quire.log");
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray log = f.readAll();
        QVERIFY(log.contains("[storage]"));
        QVERIFY(log.contains("storage says hello"));
        QVERIFY(log.contains("[inference]"));
        QVERIFY(log.contains("engine says hello"));
    }
};

QTEST_GUILESS_MAIN(TestPaths)
#include "test_paths.moc"
