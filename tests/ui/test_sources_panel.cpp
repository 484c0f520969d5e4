// The sources panel: the source tree (folders from display paths, a status per file, folder
// progress during an ingest), the quarantine list with reasons, and adding by drag and drop.
#include <QAbstractItemModelTester>
#include <QMimeData>
#include <QProgressBar>
#include <QTest>
#include <QTreeView>
#include <QUrl>

#include "quire/ui/panels.h"
#include "ui_test_support.h"

using namespace quire;
using namespace quire::ui;

namespace {

app::SourceLine line(int number, const std::string& display, ingest::SourceStatus status,
                     const std::string& note = {})
{
    app::SourceLine l;
    l.budget.number = number;
    l.budget.path = "/corpus/";
    l.budget.path += display;
    l.budget.displayPath = display;
    l.displayPath = display;
    l.budget.status = status;
    l.budget.kind = ingest::SourceKind::Code;
    l.budget.estimatedTokens = 100 * number;
    l.budget.note = note;
    return l;
}

app::WorkspaceListing listing()
{
    app::WorkspaceListing l;
    l.summary.documents = 3;
    l.sources = {line(1, "src/a.py", ingest::SourceStatus::Ingested),
                 line(2, "src/b.py", ingest::SourceStatus::Ingested),
                 line(3, "docs/x.pdf", ingest::SourceStatus::Partial, "page 2 has no text layer"),
                 line(0, "docs/bad.pdf", ingest::SourceStatus::Quarantined, "not a PDF: no header"),
                 line(0, "README", ingest::SourceStatus::Skipped, "binary file")};
    return l;
}

} // namespace

class TestSourcesPanel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { uitest::isolateSettings("ui_sources_panel"); }

    void treeModel()
    {
        SourceTreeModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.setListing(listing());
        QCOMPARE(m.fileCount(), 5);
        QCOMPARE(m.rowCount(), 3); // src/, docs/, README
        const QModelIndex src = m.index(0, 0);
        QCOMPARE(src.data().toString(), QString("src"));
        QVERIFY(src.data(SourceTreeModel::IsFolderRole).toBool());
        QCOMPARE(m.rowCount(src), 2);
        QCOMPARE(m.index(0, SourceTreeModel::TokensColumn, src).data().toString(), QString("~100"));
        const QModelIndex bad = m.indexForPath("/corpus/docs/bad.pdf");
        QVERIFY(bad.isValid());
        QVERIFY(m.index(bad.row(), SourceTreeModel::StatusColumn, bad.parent())
                    .data()
                    .toString()
                    .contains("no header"));

        // During an ingest files wait until progress names them; folders count them.
        m.beginIngest();
        QCOMPARE(m.index(0, SourceTreeModel::StatusColumn, src).data().toString(), QString("waiting"));
        QCOMPARE(src.data(SourceTreeModel::ProgressRole).toInt(), 0);
        ingest::IngestProgress p;
        p.filesDone = 1;
        p.filesTotal = 5;
        p.currentPath = "/corpus/src/a.py";
        m.ingestProgress(p);
        QCOMPARE(src.data(SourceTreeModel::ProgressRole).toInt(), 50);
        QCOMPARE(m.index(0, SourceTreeModel::StatusColumn).data().toString(), QString("1 of 2 done"));
        m.clear();
        QCOMPARE(m.rowCount(), 0);
    }

    void quarantineModel()
    {
        QuarantineModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        m.setListing(listing());
        QCOMPARE(m.rowCount(), 3); // partial, quarantined, skipped
        QStringList reasons;
        for (int r = 0; r < m.rowCount(); ++r)
            reasons << m.index(r, QuarantineModel::ReasonColumn).data().toString();
        QVERIFY(reasons.contains("not a PDF: no header"));
        QVERIFY(reasons.contains("binary file"));
    }

    void panelShowsProgressAndAcceptsDrops()
    {
        SourcesPanel panel;
        panel.resize(640, 520);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        panel.setListing(listing());
        panel.ingestStarted();
        QVERIFY(panel.progressBar()->isVisible());
        ingest::IngestProgress p;
        p.filesDone = 2;
        p.filesTotal = 5;
        p.currentPath = "/corpus/src/b.py";
        panel.ingestProgress(p);
        QCOMPARE(panel.progressBar()->maximum(), 5);
        QCOMPARE(panel.progressBar()->value(), 2);
        QVERIFY(uitest::screenshot(&panel, "sources_panel"));
        panel.ingestFinished({});
        QVERIFY(!panel.progressBar()->isVisible());

        QStringList dropped;
        connect(&panel, &SourcesPanel::addPathsRequested, this, [&](const QStringList& p) { dropped = p; });
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile("/tmp/one.txt"), QUrl::fromLocalFile("/tmp/dir")});
        QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&panel, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&panel, &drop);
        QCOMPARE(dropped, (QStringList{"/tmp/one.txt", "/tmp/dir"}));

        // Remove takes the selected files.
        QStringList removed;
        connect(&panel, &SourcesPanel::removeRequested, this, [&](const QStringList& p) { removed = p; });
        panel.treeView()->selectionModel()->select(panel.tree()->indexForPath("/corpus/src/a.py"),
                                                   QItemSelectionModel::Select | QItemSelectionModel::Rows);
        QCOMPARE(panel.selectedPaths(), QStringList{"/corpus/src/a.py"});
    }
};

QTEST_MAIN(TestSourcesPanel)
#include "test_sources_panel.moc"
