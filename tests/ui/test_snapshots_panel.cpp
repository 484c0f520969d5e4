// The snapshots panel over LibraryService and storage's block store: a saved snapshot is listed
// with its name, tokens, size and date; delete asks first and removes it; restore and branch say
// plainly that they are not available yet (issue 6) instead of pretending.
#include <QAbstractItemModelTester>
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
        connect(&panel, &SnapshotsPanel::restoreRequested, &library,
                [&](qint64 id) { library.restoreSnapshot(id); });
        connect(&library, &app::LibraryService::snapshotRemoved, &panel, [&] { library.snapshots("snap"); });

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

        panel.view()->selectRow(0);
        panel.restoreSelected();
        QTRY_VERIFY(panel.message().contains("not available"));

        panel.deleteSelected(); // declined
        QVERIFY(asked);
        QTest::qWait(200);
        QCOMPARE(panel.model()->rowCount(), 1);
        panel.setConfirm([](const QString&) { return true; });
        panel.deleteSelected();
        QTRY_COMPARE(panel.model()->rowCount(), 0);
        QVERIFY(panel.message().contains("No snapshots"));
    }
};

QTEST_MAIN(TestSnapshotsPanel)
#include "test_snapshots_panel.moc"
