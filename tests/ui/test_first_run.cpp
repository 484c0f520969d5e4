// First start: the sample files are written to the data folder, the workspace "Sample" is
// created, selected and ingested (a contract PDF, a small code tree, a meeting recording), and
// the engine settings point at the default model. Saves screenshots/first_run.png.
#include <QProgressBar>
#include <QSettings>
#include <QTest>

#include "quire/app/samples.h"
#include "quire/ui/main_window.h"
#include "quire/ui/panels.h"
#include "ui_test_support.h"

using namespace quire;
using namespace quire::ui;

class TestFirstRun : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;

private slots:
    void initTestCase() { uitest::isolateSettings("ui_first_run"); }

    void opensTheSampleWorkspace()
    {
        auto config = uitest::makeConfig(m_dir.path());
        QVERIFY(config);
        const EngineSettings engine = EngineSettings::load(); // defaults: the default model
        QVERIFY(engine.modelPath.isEmpty());
        QCOMPARE(QString::fromStdString(engine.toEngineOptions().modelPath.string()), defaultModelPath());
        MainWindow w(*config, engine, {true, false});
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QTRY_COMPARE_WITH_TIMEOUT(w.currentWorkspace(), QString(app::kSampleWorkspace), 20000);
        QTRY_COMPARE_WITH_TIMEOUT(w.sourcesPanel()->tree()->fileCount(), 6, 120000);
        QTRY_VERIFY_WITH_TIMEOUT(!w.sourcesPanel()->progressBar()->isVisible(), 120000);
        QVERIFY(QSettings().value("firstRun/done").toBool());
        QVERIFY(QFile::exists(app::samplesFolder(config->dataDir) + "/contract.pdf"));
        QCOMPARE(w.sourcesPanel()->quarantine()->rowCount(), 0);
        QVERIFY(uitest::screenshot(&w, "first_run"));
    }
};

QTEST_MAIN(TestFirstRun)
#include "test_first_run.moc"
