#include <QTest>

#include <sys/resource.h>

#include <fstream>

#include "quire/ingest/text_extractor.h"
#include "test_support.h"

using namespace quire::ingest;
namespace fs = std::filesystem;

namespace {
long peakRssKiB()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}
} // namespace

class TestTextLarge : public QObject {
    Q_OBJECT
private slots:
    void streamsA200MegabyteFile()
    {
        QTemporaryDir tmp;
        const fs::path path = quire::ingest::test::root(tmp) / "huge.log";
        const std::int64_t target = 200ll << 20;
        std::int64_t written = 0;
        int lines = 0;        // lines written, blank ones included
        int lastTextLine = 0; // the last non-blank one
        {
            std::ofstream out(path, std::ios::binary);
            std::string block;
            while (written < target) {
                block.clear();
                for (int i = 0; i < 10000; ++i) {
                    lastTextLine = ++lines;
                    block += "2024-01-01T00:00:00 INFO worker ";
                    block += std::to_string(lines);
                    block +=
                        (lines % 97 == 0) ? " caf\xC3\xA9 done\r\n\r\n" : " request handled in 12 ms\r\n";
                    lines += (lines % 97 == 0) ? 1 : 0;
                }
                out.write(block.data(), static_cast<std::streamsize>(block.size()));
                written += static_cast<std::int64_t>(block.size());
            }
        }
        QVERIFY(fs::file_size(path) >= static_cast<std::uintmax_t>(target));

        const long before = peakRssKiB();
        std::size_t segments = 0;
        std::int64_t textBytes = 0;
        int lastLine = 0;
        bool ordered = true;
        auto stats = streamTextSegments(path, SourceKind::Text, {}, [&](Segment&& s) {
            const auto& a = std::get<LineAnchor>(s.anchor.where);
            ordered =
                ordered && a.lineBegin > lastLine && a.lineEnd >= a.lineBegin && a.lineEnd - a.lineBegin < 40;
            lastLine = a.lineEnd;
            ++segments;
            textBytes += static_cast<std::int64_t>(s.text.size());
        });
        const long grown = peakRssKiB() - before;
        QVERIFY(stats.has_value());
        QCOMPARE(stats->bytes, static_cast<std::int64_t>(fs::file_size(path)));
        QCOMPARE(stats->lines, lines);
        QCOMPARE(stats->invalidSequences, std::int64_t(0));
        QVERIFY(ordered);
        QCOMPARE(lastLine, lastTextLine);
        QVERIFY(segments > 100000);
        QVERIFY(textBytes > target * 9 / 10);
        // Streamed: memory grows by a few chunks, nowhere near the file's 200 MB.
        qInfo("peak RSS grew by %ld KiB while reading %lld MiB", grown,
              static_cast<long long>(stats->bytes >> 20));
        QVERIFY2(grown < 32 * 1024, std::to_string(grown).c_str());
    }
};

QTEST_GUILESS_MAIN(TestTextLarge)
#include "test_text_large.moc"
