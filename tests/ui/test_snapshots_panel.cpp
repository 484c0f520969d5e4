// The snapshots panel over LibraryService and storage's block store: a saved snapshot is listed
// with its name, tokens, size and date; branch gives a second name to the same blocks; delete asks
// first, removes the name and frees only blocks no other snapshot uses. (Restore goes through the
// engine: tests/ui/test_gui_end_to_end.cpp.)
#include <QAbstractItemModelTester>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>

#include "quire/app/library_service.h"
#include "quire/ui/panels.h"
#include "ui_test_support.h"

using namespace quire;
using namespace quire::ui;

class TestSnapshotsPanel : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    std::optional<app::ServiceConfig> m_config;

private slots:
    void initTestCase()
    {
        uitest::isolateSettings("ui_snapshots_panel");
        qRegisterMetaType<app::SnapshotListing>();
        m_config = uitest::makeConfig(m_dir.path());
        QVERIFY(m_config);
    }

    void restoreShowsProgressAndStops()
    {
        SnapshotsPanel panel;
        panel.resize(600, 300);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        panel.activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(&panel));
        auto* bar = panel.findChild<QProgressBar*>("restoreProgress");
        auto* stop = panel.findChild<QPushButton*>("stopRestore");
        QVERIFY(bar && stop);
        QVERIFY(!panel.restoring());
        QVERIFY(!bar->isVisible() && !stop->isVisible());
        QSignalSpy stops(&panel, &SnapshotsPanel::stopRestoreRequested);
        QTest::keyClick(&panel, Qt::Key_Escape); // nothing to stop
        QCOMPARE(stops.count(), 0);

        panel.restoreStarted("latest");
        QVERIFY(panel.restoring());
        QVERIFY(bar->isVisible() && stop->isVisible());
        QVERIFY(panel.message().contains("latest"));
        panel.restoreProgress(512, 2048);
        QCOMPARE(bar->maximum(), 2048);
        QCOMPARE(bar->value(), 512);
        QVERIFY(uitest::screenshot(&panel, "snapshots_restoring"));
        QTest::mouseClick(stop, Qt::LeftButton);
        QCOMPARE(stops.count(), 1);
        panel.view()->setFocus();
        QTest::keyClick(panel.view(), Qt::Key_Escape);
        QCOMPARE(stops.count(), 2);
        // Ten million tokens and more still fit the bar.
        panel.restoreProgress(6'000'000'000, 12'000'000'000);
        QCOMPARE(bar->value() * 2, bar->maximum());
        panel.restoreEnded("Restore stopped: cancelled at token 512 of 2048");
        QVERIFY(!panel.restoring());
        QVERIFY(!bar->isVisible() && !stop->isVisible());
        QCOMPARE(panel.message(), QString("Restore stopped: cancelled at token 512 of 2048"));
    }

    void listDeleteRestore()
    {
        // A workspace with one snapshot of one 4 KiB block.
        auto made = m_config->writer
                        ->submit([](storage::Database& d) -> std::expected<std::int64_t, storage::Error> {
                            auto ws = d.createWorkspace("snap");
                            if (!ws)
                                return ws;
                            storage::BlockStore store(d);
                            std::vector<std::byte> bytes(4096, std::byte{7});
                            auto b = store.put({"fp", "h1", 0}, {"", 0, 256}, bytes);
                            if (!b)
                                return std::unexpected(b.error());
                            return store.saveSnapshot(*ws, "after contract", "fp", "h1", 256);
                        })
                        .get();
        QVERIFY2(made.has_value(), made ? "" : made.error().message.c_str());

        app::LibraryService library(*m_config);
        SnapshotsPanel panel;
        QAbstractItemModelTester tester(panel.model(),
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        panel.resize(600, 300);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        connect(&library, &app::LibraryService::snapshotsListed, &panel,
                [&](quint64, const app::SnapshotListing& l) { panel.setSnapshots(l); });
        connect(&library, &app::LibraryService::failed, &panel,
                [&](quint64, const QString& m) { panel.showMessage(m); });
        connect(&panel, &SnapshotsPanel::refreshRequested, &library, [&] { library.snapshots("snap"); });
        connect(&panel, &SnapshotsPanel::deleteRequested, &library,
                [&](qint64 id) { library.removeSnapshot(id); });
        connect(&panel, &SnapshotsPanel::branchRequested, &library,
                [&](qint64 id, const QString& name) { library.branchSnapshot(id, name); });
        connect(&library, &app::LibraryService::snapshotRemoved, &panel, [&] { library.snapshots("snap"); });
        connect(&library, &app::LibraryService::snapshotBranched, &panel, [&] { library.snapshots("snap"); });
        auto storedBlocks = [&]() -> std::int64_t {
            auto t = m_config->writer->submit([](storage::Database& d) { return storage::BlockStore(d).totals(); }).get();
            return t ? t->blocks : -1;
        };

        emit panel.refreshRequested();
        QTRY_COMPARE(panel.model()->rowCount(), 1);
        auto* m = panel.model();
        QCOMPARE(m->index(0, SnapshotModel::NameColumn).data().toString(), QString("after contract"));
        QCOMPARE(m->index(0, SnapshotModel::TokensColumn).data().toString(), QString("256"));
        QCOMPARE(m->index(0, SnapshotModel::SizeColumn).data().toString(), QString("4.0 KiB"));
        QVERIFY(!m->index(0, SnapshotModel::CreatedColumn).data().toString().isEmpty());
        QVERIFY(uitest::screenshot(&panel, "snapshots_panel"));

        // Nothing selected: a message, no request.
        bool asked = false;
        panel.setConfirm([&](const QString&) {
            asked = true;
            return false;
        });
        panel.deleteSelected();
        QVERIFY(!asked);
        QVERIFY(panel.message().contains("Select"));

        // Rows are newest first by the second they were saved in, so which row a name is on depends
        // on the clock: tests select rows by name.
        auto rowNamed = [&](const QString& name) {
            for (int r = 0; r < panel.model()->rowCount(); ++r)
                if (panel.model()->index(r, SnapshotModel::NameColumn).data().toString() == name)
                    return r;
            return -1;
        };

        // Branch: a second row over the same single block.
        panel.setNamePrompt([] { return QString("second line"); });
        panel.view()->selectRow(0);
        panel.branchSelected();
        QTRY_COMPARE(panel.model()->rowCount(), 2);
        QCOMPARE(storedBlocks(), std::int64_t(1));
        // The same name again is refused with a message, not moved. Wait for the refusal itself (a
        // failed branch asks for no listing, so nothing comes after it to replace the message).
        QSignalSpy failures(&library, &app::LibraryService::failed);
        QSignalSpy listings(&library, &app::LibraryService::snapshotsListed);
        panel.view()->selectRow(rowNamed("after contract"));
        panel.branchSelected();
        QTRY_COMPARE(failures.size(), 1);
        QVERIFY2(panel.message().contains("already has a snapshot named \"second line\""),
                 qPrintable(panel.message()));
        // Nor does a branch take the name of the snapshot it starts from.
        panel.view()->selectRow(rowNamed("second line"));
        panel.branchSelected();
        QTRY_COMPARE(failures.size(), 2);
        QVERIFY2(panel.message().contains("name other than its snapshot"), qPrintable(panel.message()));
        QCOMPARE(listings.size(), 0);
        // Still two snapshots in the store, not only in the model.
        emit panel.refreshRequested();
        QTRY_COMPARE(listings.size(), 1);
        QCOMPARE(panel.model()->rowCount(), 2);
        QVERIFY(rowNamed("after contract") >= 0 && rowNamed("second line") >= 0);
        QCOMPARE(storedBlocks(), std::int64_t(1));

        panel.view()->selectRow(rowNamed("after contract"));
        panel.deleteSelected(); // declined
        QVERIFY(asked);
        QTest::qWait(200);
        QCOMPARE(panel.model()->rowCount(), 2);
        panel.setConfirm([](const QString&) { return true; });
        panel.deleteSelected();
        QTRY_COMPARE(panel.model()->rowCount(), 1);
        // The branch still uses the block: it stays.
        QCOMPARE(storedBlocks(), std::int64_t(1));
        QCOMPARE(panel.model()->index(0, SnapshotModel::NameColumn).data().toString(), QString("second line"));
        panel.view()->selectRow(0);
        panel.deleteSelected();
        QTRY_COMPARE(panel.model()->rowCount(), 0);
        QVERIFY(panel.message().contains("No snapshots"));
        // Nothing uses it now: collected.
        QCOMPARE(storedBlocks(), std::int64_t(0));
    }
};

QTEST_MAIN(TestSnapshotsPanel)
#include "test_snapshots_panel.moc"
