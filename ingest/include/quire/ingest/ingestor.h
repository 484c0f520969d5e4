// The batch front door of the module: scan what the user added, extract every file, report
// progress (files and bytes done of the total), stop on cancel. The scan only lists and stats
// files; each file is then opened once, and its first bytes decide what it is (binary files
// come back Skipped), so a file is read once. Code and text are read in this process (streamed); PDF, DOCX,
// audio and video go through the helper process with the time and memory limits of IsolationLimits. Every
// input that is not cleanly ingested still yields a Document: Partial (something was lost, `error` says
// what), Quarantined (nothing usable; `error` is the reason: crash, timeout, encryption, damage) or Skipped
// (binary, empty, over the size cap, a link loop). One bad file never stops the batch. Thread-safety: an
// Ingestor is immutable after construction; run() may be called from several threads at once. Callbacks are
// serialised (never called concurrently) and run on the Ingestor's worker threads, so they must not block for
// long.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "quire/ingest/extract_options.h"
#include "quire/ingest/isolation.h"
#include "quire/ingest/model/types.h"
#include "quire/ingest/source_scanner.h"

namespace quire::ingest {

struct IngestOptions {
    ScanOptions scan;
    ExtractOptions extract;
    IsolationLimits limits;
    bool isolate = true;              // PDF, DOCX and media in the helper process
    std::filesystem::path workerPath; // empty: findWorker()
    int threads = 0;                  // files extracted at once; 0: the number of cores, at most 4
};

struct IngestProgress {
    std::size_t filesDone = 0;
    std::size_t filesTotal = 0;
    std::int64_t bytesDone = 0;
    std::int64_t bytesTotal = 0;
    std::string currentPath; // the file that just moved
};

struct IngestSummary {
    std::size_t ingested = 0, partial = 0, quarantined = 0, skipped = 0;
    bool cancelled = false;
};

class Ingestor {
public:
    using DocumentSink = std::function<void(Document&&)>;
    using ProgressSink = std::function<void(const IngestProgress&)>;

    explicit Ingestor(IngestOptions options = {});

    // Scans `inputs` and extracts every file found, handing each finished Document to
    // `onDocument` (in completion order). Files cut short by cancel are not reported.
    IngestSummary run(const std::vector<std::filesystem::path>& inputs, const DocumentSink& onDocument,
                      const ProgressSink& onProgress = {}, const std::atomic<bool>* cancel = nullptr) const;

    // The same, collecting the documents.
    std::vector<Document> ingest(const std::vector<std::filesystem::path>& inputs,
                                 const ProgressSink& onProgress = {},
                                 const std::atomic<bool>* cancel = nullptr,
                                 IngestSummary* summary = nullptr) const;

    // Extracts one scanned file; never fails: problems become the Document's status and error.
    // Returns nullopt only when cancelled.
    std::optional<Document> extract(const ScannedFile& file, const std::atomic<bool>* cancel = nullptr,
                                    const FractionProgress& progress = {}) const;

    const IngestOptions& options() const { return m_options; }

private:
    class FolderCache; // a worker thread's open folder (ingestor.cpp)
    std::optional<Document> extractWith(const ScannedFile& file, ExtractionWorker& helper,
                                        FolderCache* folders, const std::atomic<bool>* cancel,
                                        const FractionProgress& progress) const;

    IngestOptions m_options;
    std::filesystem::path m_worker;
};

} // namespace quire::ingest
