#include <QTest>

#include "quire/ingest/content_hash.h"
#include "quire/ingest/text_extractor.h"
#include "test_support.h"

using namespace quire::ingest;
using quire::ingest::test::writeFile;
namespace fs = std::filesystem;

namespace {
LineAnchor lines(const Segment& s)
{
    return std::get<LineAnchor>(s.anchor.where);
}

std::string numberedLines(int n, int blankEvery = 0)
{
    std::string text;
    for (int i = 1; i <= n; ++i)
        text += (blankEvery && i % blankEvery == 0) ? "\n" : "line " + std::to_string(i) + "\n";
    return text;
}
} // namespace

class TestTextExtractor : public QObject {
    Q_OBJECT
private slots:
    void proseSplitsAtParagraphs()
    {
        QTemporaryDir tmp;
        const auto p =
            writeFile(quire::ingest::test::root(tmp) / "a.txt",
                      "First paragraph\r\nstill first.\r\n\r\n\r\nSecond one.\rthird line\n\n  \nLast");
        auto doc = extractTextDocument(p, SourceKind::Text);
        QVERIFY(doc.has_value());
        QUIRE_COMPARE_ENUM(doc->status, SourceStatus::Ingested);
        QCOMPARE(doc->segments.size(), size_t(3));
        QCOMPARE(doc->segments[0].text, std::string("First paragraph\nstill first."));
        QCOMPARE(lines(doc->segments[0]), (LineAnchor{1, 2}));
        QCOMPARE(doc->segments[1].text, std::string("Second one.\nthird line"));
        QCOMPARE(lines(doc->segments[1]), (LineAnchor{5, 6}));
        QCOMPARE(doc->segments[2].text, std::string("Last"));
        QCOMPARE(lines(doc->segments[2]), (LineAnchor{9, 9}));
        QCOMPARE(doc->source.contentHash.size(), size_t(32));
    }
    void codeBlocksAreBoundedAndAnchored()
    {
        QTemporaryDir tmp;
        // 100 lines with a blank line every 25: blocks break at blanks after >= 20 lines,
        // and never exceed 40 lines.
        const auto p = writeFile(quire::ingest::test::root(tmp) / "m.py", numberedLines(100, 25));
        auto doc = extractTextDocument(p, SourceKind::Code);
        QVERIFY(doc.has_value());
        QCOMPARE(doc->language, std::string("python"));
        QCOMPARE(doc->segments.size(), size_t(4));
        QCOMPARE(lines(doc->segments[0]), (LineAnchor{1, 24}));
        QCOMPARE(lines(doc->segments[1]), (LineAnchor{26, 49}));
        int total = 0;
        for (const auto& s : doc->segments) {
            const auto a = lines(s);
            QVERIFY(a.lineEnd - a.lineBegin + 1 <= 40);
            total += int(std::count(s.text.begin(), s.text.end(), '\n')) + 1;
            // The anchor's first line is the segment's first line of text.
            QVERIFY(s.text.starts_with("line " + std::to_string(a.lineBegin)));
        }
        QCOMPARE(total, 96); // every non-blank line lands in exactly one segment

        const auto dense = writeFile(quire::ingest::test::root(tmp) / "d.c", numberedLines(100));
        auto d2 = extractTextDocument(dense, SourceKind::Code);
        QCOMPARE(d2->segments.size(), size_t(3));
        QCOMPARE(lines(d2->segments[2]), (LineAnchor{81, 100}));
    }
    void chunkSeamsDoNotChangeTheResult()
    {
        QTemporaryDir tmp;
        std::string text;
        for (int i = 0; i < 50; ++i)
            text += "caf\xC3\xA9 \xF0\x9F\x98\x80 line\r\n" + std::string(i % 3 == 0 ? "\r\n" : "");
        const auto p = writeFile(quire::ingest::test::root(tmp) / "u.txt", text);
        auto whole = extractTextDocument(p, SourceKind::Text);
        QVERIFY(whole.has_value());
        for (std::size_t chunk : {16, 17, 19, 23, 64}) {
            TextOptions o;
            o.chunkBytes = chunk;
            auto split = extractTextDocument(p, SourceKind::Text, o);
            QVERIFY(split.has_value());
            QUIRE_COMPARE_ENUM(split->status, SourceStatus::Ingested);
            QCOMPARE(split->segments.size(), whole->segments.size());
            for (std::size_t i = 0; i < split->segments.size(); ++i) {
                QCOMPARE(split->segments[i].text, whole->segments[i].text);
                QCOMPARE(lines(split->segments[i]), lines(whole->segments[i]));
            }
            QCOMPARE(split->source.contentHash, whole->source.contentHash);
        }
        // A file read in one chunk is hashed in one go; the streamed hash must be the same.
        QCOMPARE(whole->source.contentHash, hashFile(p).value());
        const auto empty = writeFile(quire::ingest::test::root(tmp) / "empty.txt", "");
        QCOMPARE(extractTextDocument(empty, SourceKind::Text)->source.contentHash, hashFile(empty).value());
    }
    void lfAndCrlfFilesGiveTheSameSegments()
    {
        // LF-only chunks build segments as views into the chunk, CRLF ones line by line: the two
        // ways must agree, with empty and whitespace-only blank lines, at every chunk size.
        QTemporaryDir tmp;
        std::string lf;
        for (int i = 1; i <= 120; ++i) {
            lf += "int value" + std::to_string(i) + " = " + std::to_string(i * 7) + ";\n";
            if (i % 9 == 0)
                lf += "\n";
            if (i % 13 == 0)
                lf += "   \t\n\n";
            if (i % 50 == 0)
                lf += std::string(300, 'x') + "\n";
            if (i % 17 == 0) // blank lines of eight and sixteen spaces, and an indented line
                lf += std::string(8, ' ') + "\t \n" + std::string(16, ' ') + "\n" + std::string(8, ' ') +
                      "x" + std::to_string(i) + "\n";
        }
        std::string crlf;
        for (char c : lf)
            crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
        const auto pl = writeFile(quire::ingest::test::root(tmp) / "lf.cpp", lf);
        const auto pc = writeFile(quire::ingest::test::root(tmp) / "crlf.cpp", crlf);
        for (std::size_t chunk : {16, 37, 100, 4096, 1 << 20}) {
            TextOptions o;
            o.chunkBytes = chunk;
            o.maxLinesPerSegment = 25;
            o.maxSegmentBytes = 256;
            auto a = extractTextDocument(pl, SourceKind::Code, o);
            auto b = extractTextDocument(pc, SourceKind::Code, o);
            QVERIFY(a.has_value() && b.has_value());
            QVERIFY(a->segments.size() > 5);
            QCOMPARE(a->segments.size(), b->segments.size());
            for (std::size_t i = 0; i < a->segments.size(); ++i) {
                QCOMPARE(a->segments[i].text, b->segments[i].text);
                QCOMPARE(lines(a->segments[i]), lines(b->segments[i]));
                QVERIFY(a->segments[i].text.find("   \t") == std::string::npos); // blank lines are emptied
                QVERIFY(a->segments[i].text.find("                \n") == std::string::npos);
            }
            std::string all;
            for (const auto& seg : a->segments)
                all += seg.text + "\n";
            QVERIFY(all.find("        x17\n") != std::string::npos); // indented, not blank
        }
    }
    void invalidUtf8IsReplacedAndReported()
    {
        QTemporaryDir tmp;
        // Mostly UTF-8 with two damaged spots: read as UTF-8, damage replaced, document Partial.
        const auto p = writeFile(quire::ingest::test::root(tmp) / "bad.txt",
                                 "na\xC3\xAFve caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9 \xC3\xBC\xC3\xB6 ok\nbroken "
                                 "\xC3( here\nand \xFF there\n");
        auto doc = extractTextDocument(p, SourceKind::Text);
        QVERIFY(doc.has_value());
        QUIRE_COMPARE_ENUM(doc->status, SourceStatus::Partial);
        QVERIFY(doc->error.find("2 invalid UTF-8") != std::string::npos);
        QCOMPARE(doc->segments[0].text,
                 std::string("na\xC3\xAFve caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9 \xC3\xBC\xC3\xB6 ok\nbroken "
                             "\xEF\xBF\xBD( here\nand \xEF\xBF\xBD there"));
        QVERIFY(isValidUtf8(doc->segments[0].text));
        // No multi-byte sequence at all: a Latin-1 file, read as such.
        const auto latin =
            writeFile(quire::ingest::test::root(tmp) / "latin.txt", "na\xEFve \xE0 la carte\n");
        auto l = extractTextDocument(latin, SourceKind::Text);
        QUIRE_COMPARE_ENUM(l->status, SourceStatus::Ingested);
        QCOMPARE(l->segments[0].text, std::string("na\xC3\xAFve \xC3\xA0 la carte"));
    }
    void utf16WithAndWithoutBom()
    {
        QTemporaryDir tmp;
        const auto le = writeFile(quire::ingest::test::root(tmp) / "le.txt",
                                  std::string_view("\xFF\xFEh\0i\0\r\0\n\0\x3D\xD8\x00\xDE", 14));
        auto a = extractTextDocument(le, SourceKind::Text);
        QCOMPARE(a->segments.size(), size_t(1));
        QCOMPARE(a->segments[0].text, std::string("hi\n\xF0\x9F\x98\x80"));
        const auto be = writeFile(quire::ingest::test::root(tmp) / "be.txt",
                                  std::string_view("\0h\0e\0y\0 \0y\0o\0u", 14));
        auto b = extractTextDocument(be, SourceKind::Text);
        QCOMPARE(b->segments[0].text, std::string("hey you"));
    }
    void emptyAndVeryLongLines()
    {
        QTemporaryDir tmp;
        const auto empty = writeFile(quire::ingest::test::root(tmp) / "empty.txt", "");
        auto e = extractTextDocument(empty, SourceKind::Text);
        QVERIFY(e.has_value());
        QUIRE_COMPARE_ENUM(e->status, SourceStatus::Skipped);
        QVERIFY(e->segments.empty());

        const auto minified =
            writeFile(quire::ingest::test::root(tmp) / "min.js", "a\n" + std::string(40000, 'x') + "\nb\n");
        TextOptions o;
        o.maxSegmentBytes = 16384;
        auto m = extractTextDocument(minified, SourceKind::Code, o);
        QVERIFY(m->segments.size() >= 4);
        std::size_t xs = 0;
        for (const auto& s : m->segments) {
            QVERIFY(s.text.size() <= 16384);
            if (s.text[0] == 'x') {
                QCOMPARE(lines(s), (LineAnchor{2, 2}));
                xs += s.text.size();
            }
        }
        QCOMPARE(xs, size_t(40000));
    }
    void missingFileIsAnIoError()
    {
        auto r = extractTextDocument("/nonexistent/quire/file.txt", SourceKind::Text);
        QVERIFY(!r.has_value());
        QCOMPARE(r.error().code, ErrorCode::Io);
    }
    void cancelStopsReading()
    {
        QTemporaryDir tmp;
        const auto p = writeFile(quire::ingest::test::root(tmp) / "c.txt", numberedLines(1000));
        std::atomic<bool> cancel{true};
        auto r = extractTextDocument(p, SourceKind::Text, {}, &cancel);
        QVERIFY(!r.has_value());
        QCOMPARE(r.error().code, ErrorCode::Cancelled);
    }
};

QTEST_GUILESS_MAIN(TestTextExtractor)
#include "test_text_extractor.moc"
