// Running extractors in a child process, so that a parser crash, hang or runaway allocation
// costs one file, not the application. The child is the helper executable quire-ingest-worker
// (fork + exec: nothing of the parent's threads or locks is inherited), started with an
// address-space cap (RLIMIT_AS) and no core dumps; the parent kills its process group when a
// file's time limit passes, when it reports no progress for `stallLimit`, or when cancel is set.
// Requests go over a socket, results come back over a pipe in the document codec's form.
// One helper serves many files in turn (a process start costs more than a small PDF), and is
// replaced after a failure or `maxFilesPerProcess` files.
// Thread-safety: an ExtractionWorker belongs to one thread at a time; use one per thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include "quire/ingest/error.h"
#include "quire/ingest/extract_options.h"
#include "quire/ingest/extractor.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

struct IsolationLimits {
    std::chrono::milliseconds timeLimit{std::chrono::hours(4)};    // whole file (long recordings)
    std::chrono::milliseconds stallLimit{std::chrono::minutes(2)}; // without a progress report
    std::uint64_t memoryBytes = std::uint64_t{4} << 30;            // address space of the child
    int maxFilesPerProcess = 32; // then a fresh helper: bounds leaks and fragmentation
};

// The helper next to the running executable (or in ../libexec/quire, ../lib/quire), or the
// one named by the environment variable QUIRE_INGEST_WORKER; empty when there is none.
std::filesystem::path findWorker();

// A helper process, started on first use and kept for the next file.
class ExtractionWorker {
public:
    ExtractionWorker(std::filesystem::path worker, IsolationLimits limits);
    ~ExtractionWorker();
    ExtractionWorker(const ExtractionWorker&) = delete;
    ExtractionWorker& operator=(const ExtractionWorker&) = delete;

    // Failures: Timeout, Crashed (with the signal and the tail of the helper's diagnostics),
    // Cancelled, Unsupported (no helper), or the extractor's own error.
    std::expected<Document, Error> extract(const std::filesystem::path& path, SourceKind kind,
                                           const ExtractOptions& options,
                                           const std::atomic<bool>* cancel = nullptr,
                                           const FractionProgress& progress = {});

private:
    struct Process;
    std::filesystem::path m_worker;
    IsolationLimits m_limits;
    std::unique_ptr<Process> m_process;
};

// Extracts `path` in a helper process of its own (an ExtractionWorker used once).
std::expected<Document, Error> extractIsolated(const std::filesystem::path& worker,
                                               const std::filesystem::path& path, SourceKind kind,
                                               const ExtractOptions& options, const IsolationLimits& limits,
                                               const std::atomic<bool>* cancel = nullptr,
                                               const FractionProgress& progress = {});

} // namespace quire::ingest
