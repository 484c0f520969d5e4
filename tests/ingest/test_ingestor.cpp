#include <QProcess>
#include <QStandardPaths>
#include <QTest>

#include <chrono>
#include <fstream>
#include <map>

#include "docx_writer.h"
#include "pdf_writer.h"
#include "quire/ingest/ingestor.h"
#include "test_support.h"

using namespace quire::ingest;
using namespace quire::ingest::test;
namespace fs = std::filesystem;

namespace {

std::map<std::string, Document> byName(std::vector<Document> docs)
{
    std::map<std::string, Document> out;
    for (auto& d : docs)
        out[fs::path(d.source.path).filename().string()] = std::move(d);
    return out;
}

std::string textPdf(const std::string& line)
{
    return writePdf({textPage({{line}})});
}

// A counter of this process from /proc/self/io ("syscr:" read calls, "rchar:" bytes read); -1
// when the file cannot be read.
long long ioCounter(const std::string& name)
{
    std::ifstream io("/proc/self/io");
    std::string key;
    long long value = 0;
    while (io >> key >> value)
        if (key == name)
            return value;
    return -1;
}

fs::path fakeWorker()
{
    return fs::path(QUIRE_BINARY_DIR) / "bin" / "ingest_fake_worker";
}

} // namespace

class TestIngestor : public QObject {
    Q_OBJECT
private slots:
    void mixedBatchWithBadInputs()
    {
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        writeFile(base / "notes.txt", "Meeting notes.\n\nSecond paragraph.\n");
        writeFile(base / "src/main.cpp", "int main()\n{\n    return 0;\n}\n");
        writeFile(base / "good.pdf", textPdf("A good PDF file."));
        const std::string pdf = textPdf("Truncated before the end of the file.");
        writeFile(base / "truncated.pdf", pdf.substr(0, pdf.size() / 2));
        writeFile(base / "empty.pdf", "");
        writeFile(base / "empty.txt", "");
        writeFile(base / "fake.pdf", "%PDF-1.7\nthis is no PDF structure at all\n");
        writeFile(base / "bad-utf8.txt",
                  "caf\xC3\xA9 d\xC3\xA9j\xC3\xA0 vu \xC3\xA9t\xC3\xA9\nbroken \xE2\x82 byte\n");
        QVERIFY(writeDocx(base / "memo.docx", docxParagraph("Memo", "Heading1") + docxParagraph("Body.")));
        QVERIFY(writeDocx(base / "bomb.docx", docxParagraph(std::string(48 << 20, 'a'))));
        writeFile(base / "image.bin", std::string("\x89PNG\r\n\x1A\n\0\0\0\rIHDR", 16));
        const bool haveQpdf = !QStandardPaths::findExecutable("qpdf").isEmpty();
        if (haveQpdf) {
            const auto plain = writeFile(root(tmp) / "plain.tmp", textPdf("Secret contract."));
            QCOMPARE(QProcess::execute("qpdf", {"--encrypt", "u", "o", "256", "--",
                                                QString::fromStdString(plain.string()),
                                                QString::fromStdString((base / "locked.pdf").string())}),
                     0);
            fs::remove(plain);
        }

        IngestOptions options;
        options.threads = 2;
        Ingestor ingestor(options);
        std::vector<IngestProgress> reports;
        IngestSummary summary;
        auto docs = byName(ingestor.ingest(
            {base}, [&](const IngestProgress& p) { reports.push_back(p); }, nullptr, &summary));

        QUIRE_COMPARE_ENUM(docs["notes.txt"].status, SourceStatus::Ingested);
        QCOMPARE(docs["notes.txt"].segments.size(), size_t(2));
        QCOMPARE(docs["main.cpp"].language, std::string("cpp"));
        QUIRE_COMPARE_ENUM(docs["good.pdf"].status, SourceStatus::Ingested);
        QCOMPARE(docs["good.pdf"].segments.at(0).text, std::string("A good PDF file."));
        QCOMPARE(docs["good.pdf"].source.contentHash.size(), size_t(32));
        QUIRE_COMPARE_ENUM(docs["truncated.pdf"].status, SourceStatus::Quarantined);
        QVERIFY(docs["truncated.pdf"].error.find("not a readable PDF") != std::string::npos);
        QUIRE_COMPARE_ENUM(docs["empty.pdf"].status, SourceStatus::Quarantined);
        QVERIFY(docs["empty.pdf"].error.find("empty") != std::string::npos);
        QUIRE_COMPARE_ENUM(docs["empty.txt"].status, SourceStatus::Skipped);
        QUIRE_COMPARE_ENUM(docs["fake.pdf"].status, SourceStatus::Quarantined);
        QUIRE_COMPARE_ENUM(docs["bad-utf8.txt"].status, SourceStatus::Partial);
        QUIRE_COMPARE_ENUM(docs["image.bin"].status, SourceStatus::Skipped);
        QUIRE_COMPARE_ENUM(docs["memo.docx"].status, SourceStatus::Ingested);
        QCOMPARE(docs["memo.docx"].segments.size(), size_t(2));
        QUIRE_COMPARE_ENUM(docs["bomb.docx"].status, SourceStatus::Quarantined);
        QVERIFY2(docs["bomb.docx"].error.find("zip bomb") != std::string::npos,
                 docs["bomb.docx"].error.c_str());
        if (haveQpdf) {
            QUIRE_COMPARE_ENUM(docs["locked.pdf"].status, SourceStatus::Quarantined);
            QVERIFY(docs["locked.pdf"].error.find("encrypted") != std::string::npos);
        }
        QCOMPARE(summary.ingested, size_t(4));
        QVERIFY(!summary.cancelled);

        // Progress: never goes back, ends at the totals.
        QVERIFY(!reports.empty());
        for (std::size_t i = 1; i < reports.size(); ++i) {
            QVERIFY(reports[i].filesDone >= reports[i - 1].filesDone);
            QVERIFY(reports[i].bytesDone >= reports[i - 1].bytesDone);
        }
        QCOMPARE(reports.back().filesDone, reports.back().filesTotal);
        QCOMPARE(reports.back().filesTotal, docs.size());
        QCOMPARE(reports.back().bytesDone, reports.back().bytesTotal);
    }
    void theFirstChunkReadDecidesTheKind()
    {
        // The Ingestor's scan only stats files; what a file is comes from the first chunk that
        // extraction reads, which must cover the sniff window even with tiny read chunks.
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        writeFile(base / "contract", textPdf("A PDF without an extension."));
        writeFile(base / "program.txt", std::string("\x7F"
                                                    "ELF\x02\x01\x01\0\0",
                                                    9) +
                                            std::string(64, '\0'));
        writeFile(base / "late-binary.txt", std::string(3000, 'a') + std::string(1000, '\x01'));
        writeFile(base / "tool", "#!/usr/bin/env python3\nprint('hi')\n");
        writeFile(base / "wide.txt", std::string("h\0i\0 \0t\0h\0e\0r\0e\0\n\0", 18));
        std::string lines;
        for (int i = 1; i <= 3000; ++i)
            lines += "line " + std::to_string(i) + "\n";
        writeFile(base / "long.txt", lines);
        IngestOptions options;
        options.threads = 1;
        options.extract.text.chunkBytes = 100;
        options.extract.text.maxLinesPerSegment = 1000;
        auto docs = byName(Ingestor(options).ingest({base}));
        QCOMPARE(docs.size(), size_t(6));
        QUIRE_COMPARE_ENUM(docs["contract"].source.kind, SourceKind::Pdf);
        QUIRE_COMPARE_ENUM(docs["contract"].status, SourceStatus::Ingested);
        QCOMPARE(docs["contract"].segments.at(0).text, std::string("A PDF without an extension."));
        QUIRE_COMPARE_ENUM(docs["program.txt"].status, SourceStatus::Skipped);
        QVERIFY(docs["program.txt"].error.find("binary") != std::string::npos);
        QUIRE_COMPARE_ENUM(docs["late-binary.txt"].status, SourceStatus::Skipped);
        QUIRE_COMPARE_ENUM(docs["tool"].source.kind, SourceKind::Code);
        QCOMPARE(docs["tool"].language, std::string("python"));
        QUIRE_COMPARE_ENUM(docs["wide.txt"].status, SourceStatus::Ingested);
        QCOMPARE(docs["wide.txt"].segments.at(0).text, std::string("hi there"));
        const Document& longDoc = docs["long.txt"];
        QCOMPARE(longDoc.source.size, static_cast<std::int64_t>(lines.size()));
        std::string joined;
        for (const auto& s : longDoc.segments)
            joined += s.text + "\n";
        QCOMPARE(joined, lines);
        QCOMPARE(std::get<LineAnchor>(longDoc.segments.back().anchor.where).lineEnd, 3000);
    }
    void readsEachTextFileOnce()
    {
        // Regression: the scan sniffed every file and extraction opened it again (two opens and
        // four reads per file). Count this process's read calls over a batch of small files.
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        constexpr int kFiles = 300;
        for (int i = 0; i < kFiles; ++i) {
            const std::string n = std::to_string(i);
            std::string name = "d";
            name += std::to_string(i % 3);
            name += "/f";
            name += n;
            name += ".cpp";
            writeFile(base / name, "int f" + n + "() { return " + n + "; }\n");
        }
        writeFile(base / ".gitignore", "*.o\n");
        auto readCalls = [] { return ioCounter("syscr:"); };
        IngestOptions options;
        options.threads = 1;
        const Ingestor ingestor(options);
        const long long before = readCalls();
        if (before < 0)
            QSKIP("/proc/self/io is not readable here");
        std::size_t docs = 0;
        ingestor.run({base}, [&](Document&& d) { docs += d.status == SourceStatus::Ingested; });
        const long long reads = readCalls() - before - 1; // the second look at /proc/self/io
        QCOMPARE(docs, std::size_t(kFiles + 1));
        QVERIFY2(reads <= kFiles + 20, std::to_string(reads).c_str());
    }
    void longExtractionsFirstThenFolderByFolder()
    {
        // One thread: PDFs and big files first, largest first; small text files after them in
        // the order of the scan (each opened from its folder, which is kept open).
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        writeFile(base / "a.txt", "first small file\n");
        writeFile(base / "b.pdf", textPdf("A small PDF."));
        writeFile(base / "c/d.txt", "in a folder\n");
        writeFile(base / "c/e.txt", "in the same folder\n");
        writeFile(base / "f/g.txt", "in another folder\n");
        writeFile(base / "huge.txt", std::string(3 << 20, 'x') + "\n");
        IngestOptions options;
        options.threads = 1;
        std::vector<std::string> order;
        Ingestor(options).run({base}, [&](Document&& d) {
            QUIRE_COMPARE_ENUM(d.status, SourceStatus::Ingested);
            order.push_back(fs::relative(d.source.path, base).generic_string());
        });
        const std::vector<std::string> expected = {"huge.txt", "b.pdf",   "a.txt",
                                                   "c/d.txt",  "c/e.txt", "f/g.txt"};
        QCOMPARE(order, expected);
    }
    void largeBinaryCostsOnlyTheSniff()
    {
        // The first read of a file larger than the sniff window is the window: a big binary is
        // skipped after a few KiB, not after a whole text chunk.
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        writeFile(base / "disk.img", std::string(4 << 20, '\0'));
        IngestOptions options;
        options.threads = 1;
        const Ingestor ingestor(options);
        const long long before = ioCounter("rchar:");
        if (before < 0)
            QSKIP("/proc/self/io is not readable here");
        auto docs = ingestor.ingest({base});
        const long long bytes = ioCounter("rchar:") - before;
        QCOMPARE(docs.size(), size_t(1));
        QUIRE_COMPARE_ENUM(docs[0].status, SourceStatus::Skipped);
        QVERIFY2(bytes < (64 << 10), std::to_string(bytes).c_str());
    }
    void crashesHangsAndMemoryHogsAreQuarantined()
    {
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        for (const char* mode : {"crash", "hang", "alloc", "exit", "noise"})
            writeFile(base / (std::string(mode) + ".pdf"), std::string(mode) + "\n%PDF-1.4\n");
        writeFile(base / "fine.txt", "still ingested\n");
        IngestOptions options;
        options.workerPath = fakeWorker();
        options.limits.stallLimit = std::chrono::milliseconds(1500);
        options.limits.timeLimit = std::chrono::seconds(20);
        options.limits.memoryBytes = 256ull << 20;
        options.threads = 3;
        const auto start = std::chrono::steady_clock::now();
        auto docs = byName(Ingestor(options).ingest({base}));
        QVERIFY(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
        QCOMPARE(docs.size(), size_t(6));
        QUIRE_COMPARE_ENUM(docs["fine.txt"].status, SourceStatus::Ingested);
        for (const char* mode : {"crash", "hang", "alloc", "exit", "noise"})
            QUIRE_COMPARE_ENUM(docs[std::string(mode) + ".pdf"].status, SourceStatus::Quarantined);
        QVERIFY2(docs["crash.pdf"].error.find("crashed") != std::string::npos,
                 docs["crash.pdf"].error.c_str());
        QVERIFY(docs["crash.pdf"].error.find("Segmentation fault") != std::string::npos);
        QVERIFY2(docs["hang.pdf"].error.find("no progress") != std::string::npos,
                 docs["hang.pdf"].error.c_str());
        QVERIFY2(docs["alloc.pdf"].error.find("memory") != std::string::npos,
                 docs["alloc.pdf"].error.c_str());
        QVERIFY(docs["exit.pdf"].error.find("without a result") != std::string::npos);
        QVERIFY(docs["noise.pdf"].error.find("crashed") != std::string::npos);

        options.limits.stallLimit = std::chrono::seconds(60);
        options.limits.timeLimit = std::chrono::milliseconds(1200);
        auto slow = Ingestor(options).ingest({base / "hang.pdf"});
        QCOMPARE(slow.size(), size_t(1));
        QVERIFY2(slow[0].error.find("took longer") != std::string::npos, slow[0].error.c_str());
    }
    void helperIsReusedAndReplacedAfterACrash()
    {
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        // Sizes decide the order (largest first, one thread): ok1, ok2, ok3, crash, ok4.
        writeFile(base / "a.pdf", "ok\n%PDF-1.4\n" + std::string(500, ' '));
        writeFile(base / "b.pdf", "ok\n%PDF-1.4\n" + std::string(400, ' '));
        writeFile(base / "c.pdf", "ok\n%PDF-1.4\n" + std::string(300, ' '));
        writeFile(base / "d.pdf", "crash\n%PDF-1.4\n" + std::string(200, ' '));
        writeFile(base / "e.pdf", "ok\n%PDF-1.4\n" + std::string(100, ' '));
        IngestOptions options;
        options.workerPath = fakeWorker();
        options.threads = 1;
        auto docs = byName(Ingestor(options).ingest({base}));
        QCOMPARE(docs.size(), size_t(5));
        const std::string pid = docs["a.pdf"].segments.at(0).text;
        QCOMPARE(docs["b.pdf"].segments.at(0).text, pid); // the same helper served them
        QCOMPARE(docs["c.pdf"].segments.at(0).text, pid);
        QUIRE_COMPARE_ENUM(docs["d.pdf"].status, SourceStatus::Quarantined);
        QUIRE_COMPARE_ENUM(docs["e.pdf"].status, SourceStatus::Ingested);
        QVERIFY(docs["e.pdf"].segments.at(0).text != pid); // a fresh helper after the crash

        options.limits.maxFilesPerProcess = 2;
        auto rotated = byName(Ingestor(options).ingest({base / "a.pdf", base / "b.pdf", base / "c.pdf"}));
        QCOMPARE(rotated["a.pdf"].segments.at(0).text, rotated["b.pdf"].segments.at(0).text);
        QVERIFY(rotated["c.pdf"].segments.at(0).text != rotated["a.pdf"].segments.at(0).text);
    }
    void missingHelperQuarantinesInsteadOfRunningUnprotected()
    {
        QTemporaryDir tmp;
        writeFile(root(tmp) / "a.pdf", textPdf("text"));
        IngestOptions options;
        options.workerPath = root(tmp) / "no-such-helper";
        auto docs = Ingestor(options).ingest({root(tmp)});
        QCOMPARE(docs.size(), size_t(1));
        QUIRE_COMPARE_ENUM(docs[0].status, SourceStatus::Quarantined);
        QVERIFY(docs[0].error.find("helper") != std::string::npos);
    }
    void fileDeletedDuringTheScan()
    {
        QTemporaryDir tmp;
        const fs::path base = root(tmp);
        writeFile(base / "big.txt", std::string(100000, 'a') + "\n");
        writeFile(base / "small.txt", "gone before its turn\n");
        writeFile(base / "small.pdf", textPdf("also gone"));
        IngestOptions options;
        options.threads = 1; // big files go first; the small ones vanish meanwhile
        bool deleted = false;
        auto docs = byName(Ingestor(options).ingest({base}, [&](const IngestProgress&) {
            if (!deleted) {
                fs::remove(base / "small.txt");
                fs::remove(base / "small.pdf");
                deleted = true;
            }
        }));
        QCOMPARE(docs.size(), size_t(3));
        QUIRE_COMPARE_ENUM(docs["big.txt"].status, SourceStatus::Ingested);
        for (const char* name : {"small.txt", "small.pdf"}) {
            QUIRE_COMPARE_ENUM(docs[name].status, SourceStatus::Quarantined);
            QVERIFY2(docs[name].error.find("no longer exists") != std::string::npos,
                     docs[name].error.c_str());
        }
    }
    void cancelStopsTheBatch()
    {
        QTemporaryDir tmp;
        for (int i = 0; i < 50; ++i) {
            const std::string n = std::to_string(i); // (built step by step: GCC 12 warns on "a" + s + "b")
            std::string name = "f";
            name += n;
            name += ".txt";
            writeFile(root(tmp) / name, name);
        }
        std::atomic<bool> cancel{false};
        IngestOptions options;
        options.threads = 1;
        IngestSummary summary;
        std::size_t seen = 0;
        auto docs = Ingestor(options).ingest(
            {root(tmp)},
            [&](const IngestProgress& p) {
                seen = p.filesDone;
                if (p.filesDone >= 5)
                    cancel = true;
            },
            &cancel, &summary);
        QVERIFY(summary.cancelled);
        QVERIFY(docs.size() >= 5 && docs.size() < 50);
        QVERIFY(seen < 50);
    }
};

QTEST_GUILESS_MAIN(TestIngestor)
#include "test_ingestor.moc"
