// The chat panel: streamed answer text is shown as it comes; a finished answer's citation marks
// become chips (verified, flagged or unresolved) whose activation opens the cited place, and a
// chip that points nowhere says why instead.
#include <QLineEdit>
#include <QTest>
#include <QTextBrowser>

#include <QElapsedTimer>
#include <QJsonDocument>

#include "quire/app/answer_json.h"
#include "quire/app/citation.h"
#include "quire/ui/panels.h"
#include "quire/ui/stored_answer.h"
#include "ui_test_support.h"

using namespace quire;
using namespace quire::ui;

namespace {

std::shared_ptr<app::SourceMap> sourceMap()
{
    auto map = std::make_shared<app::SourceMap>();
    app::MappedDocument d;
    d.number = 1;
    d.documentId = 41;
    d.path = "/corpus/lease.txt";
    d.displayPath = "lease.txt";
    d.title = "lease";
    d.kind = ingest::SourceKind::Text;
    d.firstSegment = 0;
    d.segmentCount = 2;
    map->documents.push_back(d);
    app::MappedSegment s1;
    s1.segmentId = 7;
    s1.docNumber = 1;
    s1.anchor.document = 41;
    s1.anchor.where = ingest::LineAnchor{1, 3};
    s1.text = "The Tenant shall pay a monthly rent of EUR 1,250 on the first day of each month.";
    app::MappedSegment s2 = s1;
    s2.segmentId = 8;
    s2.anchor.where = ingest::LineAnchor{4, 6};
    s2.text = "No pets may be kept without the Landlord's written consent.";
    map->segments = {s1, s2};
    return map;
}

app::AnswerRecord record()
{
    app::AnswerRecord r;
    auto map = sourceMap();
    r.map = map;
    r.outcome.question = "What is the rent?";
    r.outcome.text =
        "The rent is EUR 1,250 a month (\"a monthly rent of EUR 1,250\" [doc 1 L1-3]). "
        "Pets are allowed [doc 9 L2]. No pets may be kept without the written consent of the Landlord.";
    r.outcome.check = app::checkAnswer(r.outcome.text, *map);
    return r;
}

} // namespace

class TestChatPanel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { uitest::isolateSettings("ui_chat_panel"); }

    void streamsThenShowsChips()
    {
        ChatPanel panel;
        panel.resize(700, 500);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QString asked;
        connect(&panel, &ChatPanel::askRequested, this, [&](const QString& q) { asked = q; });
        panel.questionEdit()->setText("What is the rent?");
        QTest::keyClick(panel.questionEdit(), Qt::Key_Return);
        QCOMPARE(asked, QString("What is the rent?"));

        panel.answerStarted(asked);
        QVERIFY(panel.busy());
        panel.appendAnswerText("The rent ");
        panel.appendAnswerText("is EUR 1,250");
        QTRY_VERIFY(panel.transcript()->toPlainText().contains("The rent is EUR 1,250"));

        const auto rec = record();
        QCOMPARE(rec.outcome.check.citations.size(), std::size_t(2));
        QCOMPARE(rec.outcome.check.citations[0].status, app::CitationStatus::Verified);
        QCOMPARE(rec.outcome.check.citations[1].status, app::CitationStatus::Unresolved);
        panel.answerFinished(rec);
        QVERIFY(!panel.busy());
        QCOMPARE(panel.citationCount(0), 2);
        const QString html = panel.transcript()->toHtml();
        QVERIFY(html.contains("cite:0/0"));
        QVERIFY(html.contains("cite:0/1"));
        const QString plain = panel.transcript()->toPlainText();
        QVERIFY2(plain.contains(QString::fromUtf8("\u2713 doc 1 L1-3")), qPrintable(plain));
        QVERIFY(plain.contains(QString::fromUtf8("\u2717 doc 9 L2")));
        QVERIFY(!plain.contains("[doc 1 L1-3]")); // the raw mark became the chip
        QVERIFY(uitest::screenshot(&panel, "chat_panel"));

        // The verified chip opens lines 1-3 of the document.
        std::optional<CitationTarget> opened;
        connect(&panel, &ChatPanel::citationActivated, this, [&](const CitationTarget& t) { opened = t; });
        QString unavailable;
        connect(&panel, &ChatPanel::citationUnavailable, this, [&](const QString& m) { unavailable = m; });
        emit panel.transcript()->anchorClicked(QUrl("cite:0/0"));
        QVERIFY(opened.has_value());
        QCOMPARE(opened->documentId, std::int64_t(41));
        QCOMPARE(opened->path, QString("/corpus/lease.txt"));
        const auto* lines = std::get_if<ingest::LineAnchor>(&opened->anchor.where);
        QVERIFY(lines);
        QCOMPARE(lines->lineBegin, 1);
        QCOMPARE(lines->lineEnd, 3);
        QVERIFY(opened->status == app::CitationStatus::Verified);
        // The fabricated one says why.
        opened.reset();
        panel.activateCitation(0, 1);
        QVERIFY(!opened);
        QVERIFY(unavailable.contains("unresolved"));

        // The uncited last sentence links to the passage on pets (lines 4-6), as "attributed".
        QVERIFY(panel.attributionCount(0) >= 1);
        int pets = -1;
        for (int i = 0; i < panel.attributionCount(0); ++i) {
            const auto t = panel.attributionTarget(0, i);
            QVERIFY(t.has_value());
            QVERIFY(t->label.startsWith("attributed"));
            if (const auto* l = std::get_if<ingest::LineAnchor>(&t->anchor.where); l && l->lineBegin == 4)
                pets = i;
        }
        QVERIFY(pets >= 0);
        QVERIFY(panel.transcript()->toHtml().contains(QString("attr:0/%1").arg(pets)));
        QVERIFY(panel.transcript()->toPlainText().contains(QString::fromUtf8("\u2197 doc 1 L4-6")));
        emit panel.transcript()->anchorClicked(QUrl(QString("attr:0/%1").arg(pets)));
        QVERIFY(opened.has_value());
        QVERIFY(!opened->status.has_value());
    }

    void storedTurnKeepsItsChips()
    {
        const auto rec = record();
        storage::Turn turn;
        turn.question = rec.outcome.question;
        turn.answer = rec.outcome.text;
        turn.citationsJson =
            QJsonDocument(app::answerCheckToJson(rec.outcome.text, rec.outcome.check, *rec.map))
                .toJson(QJsonDocument::Compact)
                .toStdString();
        const auto back = recordFromTurn(turn);
        QCOMPARE(back.outcome.check.citations.size(), rec.outcome.check.citations.size());
        QCOMPARE(back.outcome.check.attributions.size(), rec.outcome.check.attributions.size());
        ChatPanel panel;
        panel.setHistory({back});
        QCOMPARE(panel.turnCount(), 1);
        QVERIFY(panel.transcript()->toPlainText().contains(QString::fromUtf8("\u2713 doc 1 L1-3")));
        const auto t = panel.citationTarget(0, 0);
        QVERIFY(t.has_value());
        QCOMPARE(t->documentId, std::int64_t(41));
        QCOMPARE(t->path, QString("/corpus/lease.txt"));
        QVERIFY(std::get_if<ingest::LineAnchor>(&t->anchor.where));
        QVERIFY(!panel.citationTarget(0, 1)); // the unresolved one stays unresolved
        QVERIFY(panel.attributionCount(0) >= 1);
        QVERIFY(panel.attributionTarget(0, 0).has_value());
    }

    void longHistory()
    {
        // Sixty stored answers, then streaming on top: every answer stays, chips stay linked.
        std::vector<app::AnswerRecord> history(60, record());
        ChatPanel panel;
        panel.resize(700, 500);
        panel.show();
        QElapsedTimer t;
        t.start();
        panel.setHistory(history);
        qInfo("rendering 60 answers took %lld ms", t.elapsed());
        QCOMPARE(panel.turnCount(), 60);
        panel.answerStarted("one more?");
        t.restart();
        for (int i = 0; i < 20; ++i)
            panel.appendAnswerText(QString("word%1 ").arg(i));
        QTRY_VERIFY_WITH_TIMEOUT(panel.transcript()->toPlainText().contains("word19"), 30000);
        qInfo("streamed 20 pieces onto 60 answers in %lld ms", t.elapsed());
        QVERIFY(panel.transcript()->toHtml().contains("cite:59/0"));
    }

    void failureIsShown()
    {
        ChatPanel panel;
        panel.answerStarted("q");
        panel.answerFailed("the model file is missing");
        QVERIFY(!panel.busy());
        QVERIFY(panel.transcript()->toPlainText().contains("the model file is missing"));
        panel.clear();
        QCOMPARE(panel.turnCount(), 0);
    }
};

QTEST_MAIN(TestChatPanel)
#include "test_chat_panel.moc"
