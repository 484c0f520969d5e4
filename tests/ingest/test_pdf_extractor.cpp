#include <QProcess>
#include <QStandardPaths>
#include <QTest>

#include <poppler-document.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <memory>

#include "pdf_layout.h"
#include "pdf_writer.h"
#include "quire/ingest/pdf_extractor.h"
#include "test_support.h"

using namespace quire::ingest;
using namespace quire::ingest::test;
namespace fs = std::filesystem;

namespace {

const std::vector<std::vector<std::string>> kBody = {
    {"The supplier shall deliver the goods within thirty days",
     "of the order date, unless agreed otherwise in writing."},
    {"Payment is due sixty days after the invoice date."},
    {"Either party may end this contract with three months", "notice to the other party."},
};

PdfPage contractPage()
{
    PdfPage page = textPage(kBody);
    for (auto& l : page.lines)
        l.top += 40;
    page.lines.insert(page.lines.begin(), PdfTextLine{72, 72, 18, "Supply Agreement"});
    return page;
}

const PageAnchor& pageOf(const Segment& s)
{
    return std::get<PageAnchor>(s.anchor.where);
}

// Every word box names a byte range of the segment text holding that word.
void checkWordOffsets(const Segment& s)
{
    for (const WordBox& w : s.words) {
        QVERIFY(w.offset + w.length <= s.text.size());
        QVERIFY(w.length > 0);
        QVERIFY(s.text[w.offset] != ' ');
    }
}

std::vector<std::string> words(const std::string& text)
{
    std::vector<std::string> out;
    std::string cur;
    for (char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        } else if (!cur.empty()) {
            out.push_back(cur);
            cur.clear();
        }
    }
    return out;
}

} // namespace

class TestPdfExtractor : public QObject {
    Q_OBJECT
private slots:
    void textLayerParagraphsWithBoxes()
    {
        QTemporaryDir tmp;
        PdfPage second = textPage({{"Second page text."}});
        const auto path =
            writeFile(root(tmp) / "contract.pdf", writePdf({contractPage(), second}, "Supply Agreement v2"));
        auto doc = extractPdf(path);
        QVERIFY2(doc.has_value(), doc ? "" : doc.error().message.c_str());
        QUIRE_COMPARE_ENUM(doc->status, SourceStatus::Ingested);
        QCOMPARE(doc->title, std::string("Supply Agreement v2"));
        QCOMPARE(doc->segments.size(), size_t(5));
        QCOMPARE(doc->segments[0].text, std::string("Supply Agreement"));
        QCOMPARE(doc->segments[1].text,
                 std::string("The supplier shall deliver the goods within thirty days of the order date, "
                             "unless agreed otherwise in writing."));
        QCOMPARE(doc->segments[2].text, std::string("Payment is due sixty days after the invoice date."));
        QCOMPARE(doc->segments[4].text, std::string("Second page text."));
        QCOMPARE(pageOf(doc->segments[3]).page, 1);
        QCOMPARE(pageOf(doc->segments[4]).page, 2);
        // Boxes: the heading's baseline is 72 pt from the top, the body's left edge at x = 72.
        const BoundingBox h = pageOf(doc->segments[0]).box;
        QVERIFY(std::abs(h.x - 72) < 1.5);
        QVERIFY(h.y > 50 && h.y < 72 && h.y + h.height > 68 && h.y + h.height < 80);
        const BoundingBox b = pageOf(doc->segments[1]).box;
        QVERIFY(b.height > 20 && b.height < 35); // two lines of 11 pt
        QVERIFY(b.width > 250 && b.width < 540);
        QVERIFY(pageOf(doc->segments[2]).box.y > b.y + b.height); // reading order, top to bottom
        for (const auto& s : doc->segments)
            checkWordOffsets(s);
        QCOMPARE(doc->segments[2].words.size(), size_t(9));
        const WordBox& sixty = doc->segments[2].words[3];
        QCOMPARE(doc->segments[2].text.substr(sixty.offset, sixty.length), std::string("sixty"));
        QVERIFY(sixty.box.x > b.x + 40 && sixty.box.width > 10 && sixty.box.width < 40);
    }
    void layoutGroupsColumnsHeadingsAndHyphens()
    {
        auto w = [](std::string t, double x, double y, double h = 10) {
            return LayoutWord{std::move(t), {x, y, 30, h}, true};
        };
        const std::vector<LayoutWord> page = {
            w("Title", 72, 50, 20),                      // heading
            w("left", 72, 100),     w("col-", 110, 100), // left column, hyphen at line end
            w("umn", 72, 112),      w("text", 110, 112),
            w("right", 320, 100),   w("side", 360, 100), // right column, same height
        };
        const auto paragraphs = groupParagraphs(page);
        QCOMPARE(paragraphs.size(), size_t(3));
        QCOMPARE(paragraphs[0].text, std::string("Title"));
        QCOMPARE(paragraphs[1].text, std::string("left column text"));
        QCOMPARE(paragraphs[1].words[1].length, 3u); // "col" without the hyphen
        QCOMPARE(paragraphs[2].text, std::string("right side"));
        QVERIFY(std::abs(paragraphs[1].box.height - 22) < 0.01);
    }
    void imageOnlyPagesAreReadWithOcr()
    {
        QTemporaryDir tmp;
        // Render a text page to pixels, then make a PDF holding only that picture.
        const std::string sentence = "The quick brown fox jumps over the lazy dog near the river bank";
        PdfPage textOnly;
        textOnly.lines = {{72, 100, 20, "The quick brown fox jumps over"},
                          {72, 130, 20, "the lazy dog near the river bank"}};
        const auto source = writeFile(root(tmp) / "source.pdf", writePdf({textOnly}));
        std::unique_ptr<poppler::document> src(poppler::document::load_from_file(source.string()));
        std::unique_ptr<poppler::page> srcPage(src->create_page(0));
        poppler::page_renderer renderer;
        renderer.set_image_format(poppler::image::format_gray8);
        renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
        const poppler::image img = renderer.render_page(srcPage.get(), 150, 150);
        PdfPage scanned;
        scanned.image.width = img.width();
        scanned.image.height = img.height();
        for (int y = 0; y < img.height(); ++y) {
            const auto* row =
                reinterpret_cast<const unsigned char*>(img.const_data()) + y * img.bytes_per_row();
            scanned.image.pixels.insert(scanned.image.pixels.end(), row, row + img.width());
        }
        const auto path = writeFile(root(tmp) / "scan.pdf", writePdf({scanned}));

        PdfOptions noOcr;
        noOcr.ocr = false;
        auto without = extractPdf(path, noOcr);
        QVERIFY(without.has_value());
        QVERIFY(without->segments.empty());
        QUIRE_COMPARE_ENUM(without->status, SourceStatus::Partial);
        QVERIFY(without->error.find("OCR is off") != std::string::npos);

        auto doc = extractPdf(path);
        QVERIFY2(doc.has_value(), doc ? "" : doc.error().message.c_str());
        std::string all;
        for (const auto& s : doc->segments) {
            all += s.text + " ";
            checkWordOffsets(s);
        }
        const auto expected = words(sentence);
        const auto got = words(all);
        int found = 0;
        for (const auto& e : expected)
            found += std::ranges::find(got, e) != got.end();
        QVERIFY2(found * 10 >= int(expected.size()) * 9, all.c_str());
        // OCR boxes are in page points: "quick" sits about where the text layer had it.
        bool located = false;
        for (const auto& s : doc->segments)
            for (const auto& wb : s.words)
                if (s.text.substr(wb.offset, wb.length) == "quick") {
                    located =
                        std::abs(wb.box.y + wb.box.height - 100) < 8 && wb.box.x > 100 && wb.box.x < 150;
                    QCOMPARE(pageOf(s).page, 1);
                }
        QVERIFY(located);
    }
    void encryptedPdfIsAClearError()
    {
        if (QStandardPaths::findExecutable("qpdf").isEmpty())
            QSKIP("qpdf is not installed (quire.sh installs it)");
        QTemporaryDir tmp;
        const auto plain = writeFile(root(tmp) / "plain.pdf", writePdf({contractPage()}));
        const auto locked = root(tmp) / "locked.pdf";
        QCOMPARE(QProcess::execute("qpdf", {"--encrypt", "user-secret", "owner-secret", "256", "--",
                                            QString::fromStdString(plain.string()),
                                            QString::fromStdString(locked.string())}),
                 0);
        auto doc = extractPdf(locked);
        QVERIFY(!doc.has_value());
        QCOMPARE(int(doc.error().code), int(ErrorCode::Encrypted));
        QVERIFY(doc.error().message.find("password") != std::string::npos);
    }
    void damagedFilesAreRepairedOrRejected()
    {
        QTemporaryDir tmp;
        std::vector<PdfPage> pages;
        for (int i = 0; i < 6; ++i)
            pages.push_back(textPage({{"Page " + std::to_string(i + 1) + " says hello."}}));
        const std::string good = writePdf(pages);

        // A garbage cross-reference table: Poppler rebuilds it by scanning the objects.
        std::string garbled = good;
        const auto xref = garbled.rfind("\nxref\n") + 1;
        for (std::size_t i = xref + 5; i < garbled.rfind("trailer"); ++i)
            if (garbled[i] >= '0' && garbled[i] <= '9')
                garbled[i] = static_cast<char>('0' + (garbled[i] * 7 + 3) % 10);
        auto repaired = extractPdf(writeFile(root(tmp) / "garbage-xref.pdf", garbled));
        QVERIFY2(repaired.has_value(), repaired ? "" : repaired.error().message.c_str());
        // Poppler repairs this one silently or with a message; either way nothing is lost.
        if (repaired->status == SourceStatus::Partial)
            QVERIFY(repaired->error.find("repaired") != std::string::npos);
        QCOMPARE(repaired->segments.size(), size_t(6));
        QCOMPARE(repaired->segments[5].text, std::string("Page 6 says hello."));

        // Truncated in the middle: what survives is kept, flagged; or a clear Format error.
        auto truncated =
            extractPdf(writeFile(root(tmp) / "truncated.pdf", good.substr(0, good.size() * 6 / 10)));
        if (truncated) {
            QUIRE_COMPARE_ENUM(truncated->status, SourceStatus::Partial);
            QVERIFY(!truncated->segments.empty());
            QCOMPARE(truncated->segments[0].text, std::string("Page 1 says hello."));
        } else {
            QCOMPARE(int(truncated.error().code), int(ErrorCode::Format));
        }

        for (const char* bytes : {"", "%PDF-1.4\n", "not a pdf at all"}) {
            auto bad = extractPdf(writeFile(root(tmp) / "bad.pdf", bytes));
            QVERIFY(!bad.has_value());
            QCOMPARE(int(bad.error().code), int(ErrorCode::Format));
            QVERIFY(bad.error().message.find("bad.pdf") != std::string::npos);
        }
    }
};

QTEST_GUILESS_MAIN(TestPdfExtractor)
#include "test_pdf_extractor.moc"
