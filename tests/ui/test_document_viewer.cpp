// The document viewer: a PDF page rendered by poppler-qt6 with the cited box highlighted, code
// with line numbers and the cited range highlighted, and a transcript (read through the
// LibraryService from a real library) with the cited time span highlighted.
#include <QFile>
#include <QListWidget>
#include <QSignalSpy>
#include <QTest>

#include <fstream>

#include "ingest/pdf_writer.h"
#include "quire/app/library_service.h"
#include "quire/storage/catalog.h"
#include "quire/ui/document_viewer.h"
#include "ui_test_support.h"

using namespace quire;
using namespace quire::ui;
namespace pdf = quire::ingest::test;

class TestDocumentViewer : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    std::optional<app::ServiceConfig> m_config;

private slots:
    void initTestCase()
    {
        uitest::isolateSettings("ui_document_viewer");
        qRegisterMetaType<app::DocumentContent>();
        m_config = uitest::makeConfig(m_dir.path());
        QVERIFY(m_config);
    }

    void pdfPageWithBox()
    {
        const QString path = m_dir.path() + "/contract.pdf";
        {
            std::ofstream f(path.toStdString(), std::ios::binary);
            f << pdf::writePdf({pdf::textPage({{"Page one text."}}),
                                pdf::textPage({{"The monthly fee is EUR 300.", "Payment is due monthly."}})});
        }
        app::LibraryService library(*m_config);
        DocumentViewer viewer(&library);
        viewer.resize(700, 700);
        viewer.show();
        QVERIFY(QTest::qWaitForWindowExposed(&viewer));
        CitationTarget t;
        t.path = path;
        t.label = "doc 1 p.2";
        t.anchor.where = ingest::PageAnchor{2, {72, 60, 200, 16}};
        t.status = app::CitationStatus::Verified;
        viewer.open(t);
        QTRY_VERIFY_WITH_TIMEOUT(viewer.isReady(), 20000);
        QCOMPARE(viewer.mode(), DocumentViewer::Mode::Pdf);
        QCOMPARE(viewer.currentPage(), 2);
        QVERIFY(!viewer.pageImage().isNull());
        const QRect h = viewer.highlightRect();
        QVERIFY(!h.isEmpty());
        // The box (72 pt from the left at 110 dpi and more) lies inside the page image, tinted.
        QVERIFY(viewer.pageImage().rect().contains(h));
        const QColor inside = viewer.pageImage().pixelColor(h.center().x(), h.top() + 4);
        QVERIFY2(inside.blue() < inside.red(), "the highlight is yellow over white");
        QVERIFY(uitest::screenshot(&viewer, "viewer_pdf"));

        // A page that does not exist is reported, not shown.
        QSignalSpy failed(&viewer, &DocumentViewer::failed);
        t.anchor.where = ingest::PageAnchor{9, {}};
        viewer.open(t);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 20000);
        QCOMPARE(viewer.mode(), DocumentViewer::Mode::Empty);
    }

    void codeLines()
    {
        const QString path = m_dir.path() + "/code.py";
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int i = 1; i <= 60; ++i)
            f.write(QString("line_%1 = %1\n").arg(i).toUtf8());
        f.close();
        app::LibraryService library(*m_config);
        DocumentViewer viewer(&library);
        viewer.resize(700, 400);
        viewer.show();
        QVERIFY(QTest::qWaitForWindowExposed(&viewer));
        CitationTarget t;
        t.path = path;
        t.label = "doc 2 L30-33";
        t.anchor.where = ingest::LineAnchor{30, 33};
        viewer.open(t);
        QTRY_VERIFY_WITH_TIMEOUT(viewer.isReady(), 20000);
        QCOMPARE(viewer.mode(), DocumentViewer::Mode::Code);
        QCOMPARE(viewer.codeView()->highlightFirst(), 30);
        QCOMPARE(viewer.codeView()->highlightLast(), 33);
        const auto sels = viewer.codeView()->extraSelections();
        QCOMPARE(sels.size(), 1);
        QVERIFY(sels.first().cursor.selectedText().contains("line_30 = 30"));
        QVERIFY(sels.first().cursor.selectedText().contains("line_33 = 33"));
        QVERIFY(!sels.first().cursor.selectedText().contains("line_34"));
        QVERIFY(viewer.codeView()->gutterWidth() > 0);
        QVERIFY(uitest::screenshot(&viewer, "viewer_code"));
    }

    void transcriptSpan()
    {
        // A stored transcript: three timed segments.
        auto ws = m_config->writer->submit([](storage::Database& d) { return d.createWorkspace("t"); }).get();
        QVERIFY(ws.has_value());
        ingest::Document doc;
        doc.source.path = (m_dir.path() + "/meeting.wav").toStdString();
        doc.source.kind = ingest::SourceKind::Audio;
        doc.source.contentHash = "abc";
        doc.status = ingest::SourceStatus::Ingested;
        doc.title = "meeting";
        const char* texts[] = {"Welcome everyone.", "The launch moves to October.",
                               "Ravi writes the press release."};
        for (int i = 0; i < 3; ++i) {
            ingest::Segment s;
            s.text = texts[i];
            s.anchor.where = ingest::TimeAnchor{i * 5000, i * 5000 + 4000};
            doc.segments.push_back(s);
        }
        const std::int64_t wsId = *ws;
        auto put = m_config->writer
                       ->submit([wsId, doc](storage::Database& d) {
                           return storage::Catalog(d).putDocument(wsId, doc);
                       })
                       .get();
        QVERIFY(put.has_value());

        app::LibraryService library(*m_config);
        DocumentViewer viewer(&library);
        viewer.resize(600, 400);
        viewer.show();
        QVERIFY(QTest::qWaitForWindowExposed(&viewer));
        CitationTarget t;
        t.documentId = put->documentId;
        t.path = QString::fromStdString(doc.source.path);
        t.label = "doc 3 00:00:05";
        t.anchor.document = put->documentId;
        t.anchor.where = ingest::TimeAnchor{5000, 9000};
        viewer.open(t);
        QTRY_VERIFY_WITH_TIMEOUT(viewer.isReady(), 20000);
        QCOMPARE(viewer.mode(), DocumentViewer::Mode::Transcript);
        QCOMPARE(viewer.segmentList()->count(), 3);
        QCOMPARE(viewer.highlightedRows(), QList<int>{1});
        QVERIFY(viewer.segmentList()->item(1)->text().startsWith("[00:00:05] The launch"));
        QVERIFY(viewer.findChild<QWidget*>("playButton")->isVisible());
        QVERIFY(uitest::screenshot(&viewer, "viewer_transcript"));
    }
};

QTEST_MAIN(TestDocumentViewer)
#include "test_document_viewer.moc"
