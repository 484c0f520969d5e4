#include <QTest>

#include "docx_writer.h"
#include "quire/ingest/docx_extractor.h"
#include "test_support.h"

using namespace quire::ingest;
using namespace quire::ingest::test;

namespace {
int paragraphOf(const Segment& s)
{
    return std::get<ParagraphAnchor>(s.anchor.where).paragraph;
}
} // namespace

class TestDocxExtractor : public QObject {
    Q_OBJECT
private slots:
    void paragraphsHeadingsAndTables()
    {
        QTemporaryDir tmp;
        const std::string body =
            docxParagraph("Master Services Agreement", "Title") + // 0
            docxParagraph("1. Definitions", "Heading1") +         // 1
            docxParagraph("") +                                   // 2 (empty: counted, no segment)
            "<w:p><w:r><w:t>Split </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>across</w:t></w:r>"
            "<w:r><w:tab/><w:t>runs</w:t><w:br/><w:t>and lines</w:t></w:r>"
            "<w:del><w:r><w:delText>deleted words</w:delText></w:r></w:del>"
            "<w:ins><w:r><w:t> inserted</w:t></w:r></w:ins></w:p>" + // 3
            docxParagraph("1.1 Scope", "Berschrift2") +              // 4: localised id, named "heading 2"
            "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Fee</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>100 "
            "EUR</w:t></w:r></w:p></w:tc></w:tr>"
            "<w:tr><w:tc><w:p><w:r><w:t>Term</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>2 "
            "years</w:t></w:r></w:p></w:tc></w:tr></w:tbl>" + // 5, 6
            "<w:sdt><w:sdtContent>" +
            docxParagraph("Inside a content control &amp; escaped") + "</w:sdtContent></w:sdt>" +         // 7
            "<w:p><w:pPr><w:outlineLvl w:val=\"2\"/></w:pPr><w:r><w:t>Outline heading</w:t></w:r></w:p>"; // 8
        const auto path = root(tmp) / "msa.docx";
        QVERIFY(writeDocx(path, body, "MSA 2024"));
        auto doc = extractDocx(path);
        QVERIFY2(doc.has_value(), doc ? "" : doc.error().message.c_str());
        QUIRE_COMPARE_ENUM(doc->status, SourceStatus::Ingested);
        QCOMPARE(doc->title, std::string("MSA 2024"));
        QCOMPARE(doc->segments.size(), size_t(8));
        const auto& s = doc->segments;
        QCOMPARE(s[0].text, std::string("Master Services Agreement"));
        QCOMPARE(s[0].headingLevel, 1);
        QCOMPARE(s[1].headingLevel, 1);
        QCOMPARE(paragraphOf(s[1]), 1);
        QCOMPARE(s[2].text, std::string("Split across\truns\nand lines inserted"));
        QCOMPARE(paragraphOf(s[2]), 3);
        QCOMPARE(s[2].headingLevel, 0);
        QCOMPARE(s[3].headingLevel, 2);
        QCOMPARE(s[4].text, std::string("Fee | 100 EUR"));
        QCOMPARE(paragraphOf(s[5]), 6);
        QCOMPARE(s[6].text, std::string("Inside a content control & escaped"));
        QCOMPARE(paragraphOf(s[6]), 7);
        QCOMPARE(s[7].headingLevel, 3);
        QCOMPARE(formatAnchor(s[2].anchor), std::string("\xC2\xB6"
                                                        "4"));
    }
    void zipBombsAreRefused()
    {
        QTemporaryDir tmp;
        // 48 MiB of one letter compresses about 1000:1.
        const std::string body = docxParagraph(std::string(48 << 20, 'a'));
        const auto path = root(tmp) / "bomb.docx";
        QVERIFY(writeDocx(path, body));
        auto byRatio = extractDocx(path);
        QVERIFY(!byRatio.has_value());
        QCOMPARE(int(byRatio.error().code), int(ErrorCode::TooComplex));
        QVERIFY2(byRatio.error().message.find("zip bomb") != std::string::npos,
                 byRatio.error().message.c_str());

        DocxOptions sizeOnly;
        sizeOnly.maxCompressionRatio = 1e12;
        sizeOnly.maxUncompressedBytes = 8 << 20;
        auto bySize = extractDocx(path, sizeOnly);
        QVERIFY(!bySize.has_value());
        QCOMPARE(int(bySize.error().code), int(ErrorCode::TooComplex));
        QVERIFY(bySize.error().message.find("limit") != std::string::npos);
    }
    void damagedFilesAreFormatErrors()
    {
        QTemporaryDir tmp;
        const auto notZip = writeFile(root(tmp) / "a.docx", "PK\x03\x04 but nothing more");
        auto a = extractDocx(notZip);
        QVERIFY(!a.has_value());
        QCOMPARE(int(a.error().code), int(ErrorCode::Format));
        const auto noBody = root(tmp) / "b.docx";
        QVERIFY(writeZip(noBody, {{"hello.txt", "hi"}}));
        auto b = extractDocx(noBody);
        QVERIFY(!b.has_value());
        QVERIFY(b.error().message.find("word/document.xml") != std::string::npos);
        const auto badXml = root(tmp) / "c.docx";
        QVERIFY(writeZip(badXml, {{"word/document.xml", "<w:document><w:body><w:p>"}}));
        auto c = extractDocx(badXml);
        QVERIFY(!c.has_value());
        QVERIFY(c.error().message.find("not well-formed") != std::string::npos);
        // A truncated DOCX (the central directory is at the end).
        const auto good = root(tmp) / "good.docx";
        QVERIFY(writeDocx(good, docxParagraph("hello")));
        std::string bytes(std::filesystem::file_size(good), '\0');
        std::ifstream(good, std::ios::binary).read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        auto d = extractDocx(writeFile(root(tmp) / "d.docx", bytes.substr(0, bytes.size() / 2)));
        QVERIFY(!d.has_value());
        QCOMPARE(int(d.error().code), int(ErrorCode::Format));
    }
};

QTEST_GUILESS_MAIN(TestDocxExtractor)
#include "test_docx_extractor.moc"
