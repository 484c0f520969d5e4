#include <QTest>

#include "quire/ingest/document_codec.h"
#include "test_support.h"

using namespace quire::ingest;

class TestDocumentCodec : public QObject {
    Q_OBJECT
private slots:
    void roundTripsEveryField()
    {
        Document d;
        d.source = {"/a/b.pdf", SourceKind::Pdf, "00ff", 1234, 5678};
        d.title = "b.pdf";
        d.language = std::string("en-GB");
        d.status = SourceStatus::Partial;
        d.error = "page 3 damaged";
        Segment page;
        page.text = "hello world";
        page.anchor = {7, PageAnchor{2, {1.5, 2.5, 3.5, 4.5}}};
        page.words = {{0, 5, {1, 2, 3, 4}}, {6, 5, {5, 6, 7, 8}}};
        Segment line{"x", {0, LineAnchor{3, 9}}, 42, std::nullopt, 0, {}};
        Segment time{"said", {0, TimeAnchor{1000, 2500}}, std::nullopt, std::string("/f/1.jpg"), 0, {}};
        Segment para{"Heading", {0, ParagraphAnchor{4}}, std::nullopt, std::nullopt, 2, {}};
        Segment none{"", {}, std::nullopt, std::nullopt, 0, {}};
        d.segments = {page, line, time, para, none};
        auto back = decodeDocument(encodeDocument(d));
        QVERIFY(back.has_value());
        QCOMPARE(back->source.path, d.source.path);
        QCOMPARE(back->source.size, d.source.size);
        QUIRE_COMPARE_ENUM(back->status, d.status);
        QCOMPARE(back->error, d.error);
        QCOMPARE(back->segments.size(), d.segments.size());
        for (std::size_t i = 0; i < d.segments.size(); ++i) {
            QCOMPARE(back->segments[i].text, d.segments[i].text);
            QVERIFY(back->segments[i].anchor == d.segments[i].anchor);
            QCOMPARE(back->segments[i].tokenCount, d.segments[i].tokenCount);
            QCOMPARE(back->segments[i].framePath, d.segments[i].framePath);
            QCOMPARE(back->segments[i].headingLevel, d.segments[i].headingLevel);
            QVERIFY(back->segments[i].words == d.segments[i].words);
        }
    }
    void rejectsTruncatedAndGarbage()
    {
        Document d;
        d.segments.push_back({"text", {0, LineAnchor{1, 1}}, std::nullopt, std::nullopt, 0, {}});
        d.segments.push_back({"two words",
                              {0, PageAnchor{1, {1, 2, 3, 4}}},
                              std::nullopt,
                              std::nullopt,
                              0,
                              {{0, 3, {1, 2, 3, 4}}, {4, 5, {5, 6, 7, 8}}}}); // boxes travel as one block
        const std::string bytes = encodeDocument(d);
        QVERIFY(decodeDocument(bytes)->segments.at(1).words == d.segments[1].words);
        for (std::size_t cut = 0; cut < bytes.size(); ++cut)
            QVERIFY(!decodeDocument(std::string_view(bytes).substr(0, cut)).has_value());
        QVERIFY(!decodeDocument(bytes + "x").has_value());
        std::string huge = bytes;
        huge[huge.size() - 60] = '\x7F'; // corrupt a length: must fail cleanly, not allocate wildly
        (void)decodeDocument(huge);
    }
};

QTEST_GUILESS_MAIN(TestDocumentCodec)
#include "test_document_codec.moc"
