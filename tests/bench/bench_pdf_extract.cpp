// BENCH pdf_extract: pages per second of Quire's PDF extraction (the Ingestor, through the helper
// process, keeping paragraph and word boxes) against Poppler's pdftotext on the same generated
// 1,000-page corpus (10 files of 100 pages), one file at a time on both sides, best of 3 runs.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "ingest/pdf_writer.h"
#include "quire/ingest/ingestor.h"

using namespace quire;
using namespace quire::ingest::test;

namespace {

const char* kWords[] = {"contract", "party",  "shall", "deliver",  "the",     "goods",   "within",
                        "thirty",   "days",   "of",    "order",    "payment", "invoice", "agreement",
                        "term",     "notice", "and",   "services", "fees",    "written"};

PdfPage corpusPage(unsigned& seed)
{
    PdfPage page;
    double top = 72;
    for (int para = 0; para < 6; ++para) {
        const int lines = 4 + static_cast<int>(seed % 5);
        for (int l = 0; l < lines && top < 740; ++l) {
            std::string text;
            for (int w = 0; w < 11; ++w) {
                seed = seed * 1103515245u + 12345u;
                text += kWords[(seed >> 16) % 20];
                text += ' ';
            }
            page.lines.push_back({72, top, 10, text});
            top += 12.5;
        }
        top += 12.5;
    }
    return page;
}

} // namespace

int main()
{
    constexpr int kFiles = 10, kPagesPerFile = 100, kPages = kFiles * kPagesPerFile;
    bench::TempDir dir;
    unsigned seed = 42;
    std::vector<std::filesystem::path> files;
    for (int f = 0; f < kFiles; ++f) {
        std::vector<PdfPage> pages;
        for (int p = 0; p < kPagesPerFile; ++p)
            pages.push_back(corpusPage(seed));
        files.push_back(dir.path() / ("corpus-" + std::to_string(f) + ".pdf"));
        std::ofstream(files.back(), std::ios::binary) << writePdf(pages);
    }
    if (std::system("command -v pdftotext >/dev/null") != 0) {
        std::printf("pdftotext is not installed (poppler-utils); no baseline\n");
        return 77;
    }

    ingest::IngestOptions options;
    options.threads = 1;
    options.extract.pdf.ocr = false;
    const ingest::Ingestor ingestor(options);
    std::size_t segments = 0, words = 0;
    double ours = 1e9, theirs = 1e9, oursCpu = 1e9, theirsCpu = 1e9;
    for (int run = 0; run < 3; ++run) {
        double cpu = bench::cpuSeconds();
        theirs = std::min(theirs, bench::seconds([&] {
                              for (const auto& f : files) {
                                  const std::string cmd =
                                      "pdftotext '" + f.string() + "' '" + f.string() + ".txt'";
                                  if (std::system(cmd.c_str()) != 0)
                                      std::fprintf(stderr, "pdftotext failed on %s\n", f.c_str());
                              }
                          }));
        theirsCpu = std::min(theirsCpu, bench::cpuSeconds() - cpu);
        cpu = bench::cpuSeconds();
        ours = std::min(ours, bench::seconds([&] {
                            segments = words = 0;
                            ingestor.run(files, [&](ingest::Document&& d) {
                                if (d.status != ingest::SourceStatus::Ingested)
                                    std::fprintf(stderr, "%s: %s\n", d.source.path.c_str(), d.error.c_str());
                                for (const auto& s : d.segments) {
                                    ++segments;
                                    words += s.words.size();
                                }
                            });
                        })); // the helper processes end (and are reaped) when run() returns
        oursCpu = std::min(oursCpu, bench::cpuSeconds() - cpu);
    }
    std::printf("# %d pages, %zu paragraph segments, %zu word boxes\n", kPages, segments, words);
    std::printf(
        "# CPU time (this process and its helpers): ours %.2f s, pdftotext %.2f s, ratio by CPU %.2f\n",
        oursCpu, theirsCpu, theirsCpu / oursCpu);
    const double oursRate = kPages / ours, baseRate = kPages / theirs;
    std::printf("BENCH pdf_extract ours=%.1f pages/s baseline=%.1f pages/s (pdftotext, same 1000-page "
                "corpus, one file at a time) "
                "ratio=%.2f\n",
                oursRate, baseRate, oursRate / baseRate);
    return 0;
}
