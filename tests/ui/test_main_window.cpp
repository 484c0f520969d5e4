// The main window with real services over a fresh library (no model needed): creating a
// workspace, adding a folder (ingest with progress), the source tree, search and opening a hit
// in the viewer, a budget failure shown when the model file is missing, keyboard shortcuts, the
// remembered layout, and a screenshot of the main window.
#include <QAbstractItemModelTester>
#include <QDockWidget>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QMenu>
#include <QMenuBar>
#include <QMimeData>
#include <QProgressBar>
#include <QSettings>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>

#include "quire/ui/document_viewer.h"
#include "quire/ui/main_window.h"
#include "quire/ui/panels.h"
#include "ui_test_support.h"

using namespace quire;
using namespace quire::ui;

class TestMainWindow : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    std::optional<app::ServiceConfig> m_config;
    EngineSettings m_engine;

private slots:
    void initTestCase()
    {
        uitest::isolateSettings("ui_main_window");
        m_config = uitest::makeConfig(m_dir.path());
        QVERIFY(m_config);
        m_engine.modelPath = m_dir.path() + "/no-such-model.gguf";
        QDir().mkpath(m_dir.path() + "/corpus/src");
        for (const char* name : {"alpha.py", "beta.py"}) {
            QFile f(m_dir.path() + "/corpus/src/" + name);
            QVERIFY(f.open(QIODevice::WriteOnly));
            for (int i = 1; i <= 30; ++i)
                f.write(QString("value_%1 = %1  # %2\n").arg(i).arg(name).toUtf8());
            if (QString(name) == "beta.py")
                f.write("def zanzibar_total(rows):\n    return sum(rows)\n");
        }
    }

    void workflow()
    {
        MainWindow w(*m_config, m_engine, {false, false});
        QAbstractItemModelTester wsTester(w.workspaceModel(),
                                          QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester searchTester(w.searchPanel()->model(),
                                              QAbstractItemModelTester::FailureReportingMode::QtTest);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&w));
        QCOMPARE(w.windowTitle(), QString("Quire"));
        for (const char* d : {"workspacesDock", "searchDock", "sourcesDock", "budgetDock", "snapshotsDock"})
            QVERIFY2(w.dock(d), d);
        QCOMPARE(w.menuBar()->actions().size(), 6);

        w.createWorkspace("Project");
        QTRY_COMPARE_WITH_TIMEOUT(w.currentWorkspace(), QString("Project"), 10000);
        QCOMPARE(w.workspaceModel()->rowCount(), 1);
        // No model: the budget says why.
        QTRY_VERIFY_WITH_TIMEOUT(
            w.budgetPanel()->findChild<QLabel*>("budgetModelLabel")->text().contains("No budget"), 10000);

        // The folder is dropped on the window.
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(m_dir.path() + "/corpus")});
        QDragEnterEvent enter(QPoint(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QDropEvent drop(QPointF(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&w, &enter);
        QVERIFY(enter.isAccepted());
        QCoreApplication::sendEvent(&w, &drop);
        QTRY_COMPARE_WITH_TIMEOUT(w.sourcesPanel()->tree()->fileCount(), 2, 30000);
        QTRY_VERIFY(!w.sourcesPanel()->progressBar()->isVisible());

        // Ctrl+F focuses the search box; a query finds beta.py; activating it opens the lines.
        QTest::keyClick(&w, Qt::Key_F, Qt::ControlModifier);
        QTRY_VERIFY(w.searchPanel()->queryEdit()->hasFocus());
        QTest::keyClicks(w.searchPanel()->queryEdit(), "zanzibar_total");
        QTest::keyClick(w.searchPanel()->queryEdit(), Qt::Key_Return);
        QTRY_VERIFY_WITH_TIMEOUT(w.searchPanel()->model()->rowCount() >= 1, 10000);
        w.searchPanel()->activateRow(0);
        QTRY_VERIFY_WITH_TIMEOUT(w.viewer()->isReady(), 10000);
        QCOMPARE(w.viewer()->mode(), DocumentViewer::Mode::Code);
        QVERIFY(w.viewer()->codeView()->toPlainText().contains("zanzibar_total"));
        // The match is on line 31 of beta.py: the viewer highlights that line, not the segment.
        QCOMPARE(w.viewer()->codeView()->highlightFirst(), 31);
        QCOMPARE(w.viewer()->codeView()->highlightLast(), 31);

        // Ctrl+L focuses the question.
        QTest::keyClick(&w, Qt::Key_L, Qt::ControlModifier);
        QTRY_VERIFY(w.chatPanel()->questionEdit()->hasFocus());

        // Regression: refreshing the workspace list (as after every ingest) re-selected the
        // current workspace and cleared the chat.
        w.chatPanel()->answerStarted("kept?");
        w.chatPanel()->answerFailed("no model");
        w.refreshWorkspaces();
        QTest::qWait(300);
        QCOMPARE(w.chatPanel()->turnCount(), 1);
        QCOMPARE(w.currentWorkspace(), QString("Project"));

        // Export without a session says so.
        QSignalSpy exported(&w, &MainWindow::exported);
        w.exportSessionTo(m_dir.path() + "/out.md");
        QTRY_COMPARE(exported.size(), 1);
        QVERIFY(!exported.first().at(1).toBool());

        // Every action has its own shortcut, none taken by a menu's Alt mnemonic.
        QSet<QString> keys;
        QSet<QString> mnemonics;
        for (QAction* menu : w.menuBar()->actions()) {
            const QString t = menu->text();
            const int amp = t.indexOf('&');
            QVERIFY(amp >= 0);
            mnemonics.insert(QKeySequence(Qt::ALT | Qt::Key(t.at(amp + 1).toUpper().unicode())).toString());
        }
        int actions = 0;
        for (QAction* menu : w.menuBar()->actions()) {
            for (QAction* a : menu->menu()->actions()) {
                if (a->isSeparator())
                    continue;
                ++actions;
                const QString k = a->shortcut().toString();
                QVERIFY2(!k.isEmpty(), qPrintable(a->text() + " has no shortcut"));
                QVERIFY2(!keys.contains(k), qPrintable(k + " is used twice"));
                QVERIFY2(!mnemonics.contains(k), qPrintable(k + " hides a menu"));
                keys.insert(k);
            }
        }
        QVERIFY(actions >= 30);
        // The budget panel names the Prefill action's shortcut where the speed is not measured yet.
        QAction* prefill = nullptr;
        for (QAction* menu : w.menuBar()->actions())
            for (QAction* a : menu->menu()->actions())
                if (a->text().startsWith("&Prefill"))
                    prefill = a;
        QVERIFY(prefill);
        app::BudgetResult unmeasured;
        unmeasured.report.input.throughputNote = "not measured yet";
        w.budgetPanel()->setBudget(unmeasured);
        QVERIFY2(
            w.budgetPanel()->estimateText().contains(prefill->shortcut().toString(QKeySequence::NativeText)),
            qPrintable(w.budgetPanel()->estimateText()));

        // HiDPI: run with QT_SCALE_FACTOR=2 (ui_main_window_hidpi), the grab has twice the pixels.
        const QImage shot = w.grab().toImage();
        QCOMPARE(shot.devicePixelRatio(), qEnvironmentVariableIsSet("QT_SCALE_FACTOR")
                                              ? qEnvironmentVariable("QT_SCALE_FACTOR").toDouble()
                                              : w.devicePixelRatioF());
        QVERIFY(uitest::screenshot(&w, "main_window" + qEnvironmentVariable("QUIRE_SHOT_SUFFIX")));

        // Engine settings reach the next engine: KV dtype, GPU budget and quantization too.
        EngineSettings changed = w.engineSettings();
        changed.kvDtype = "f16";
        changed.gpuMemoryMiB = 4096;
        w.applyEngineSettings(changed);
        QCOMPARE(w.engineOptions().kvDtype, std::string("f16"));
        QCOMPARE(w.engineOptions().gpuMemoryBytes, std::uint64_t(4096) << 20);
        changed.quantization = "int8";
        w.applyEngineSettings(changed);
        QCOMPARE(w.engineOptions().quantization, std::string("int8"));
        w.dock("snapshotsDock")->close();
        w.close();
    }

    void layoutIsRemembered()
    {
        // A prefill of "Project" was running when the last window closed: it is offered again.
        QSettings().setValue("prefill/pending", "Project");
        MainWindow w(*m_config, m_engine, {false, false});
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(!w.dock("snapshotsDock")->isVisible()); // closed in the previous window
        QTRY_COMPARE_WITH_TIMEOUT(w.currentWorkspace(), QString("Project"), 10000); // remembered too
        QCOMPARE(w.budgetPanel()->prefillState(), BudgetPanel::PrefillState::Paused);
        QVERIFY(w.budgetPanel()->etaText().contains("interrupted"));
        w.dock("snapshotsDock")->show();

        // A second workspace, removed again: the first is selected after.
        w.createWorkspace("Scratch");
        QTRY_COMPARE_WITH_TIMEOUT(w.currentWorkspace(), QString("Scratch"), 10000);
        QCOMPARE(w.workspaceModel()->rowCount(), 2);
        w.removeWorkspace("Scratch");
        QTRY_COMPARE_WITH_TIMEOUT(w.workspaceModel()->rowCount(), 1, 10000);
        QTRY_COMPARE(w.currentWorkspace(), QString("Project"));
        QTRY_COMPARE_WITH_TIMEOUT(w.sourcesPanel()->tree()->fileCount(), 2, 10000);
        w.close();
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
