// Running an extractor in a child process, so that a parser crash, hang or runaway allocation
// costs one file, not the application. The child is the helper executable quire-ingest-worker
// (fork + exec: nothing of the parent's threads or locks is inherited), started with an
// address-space cap (RLIMIT_AS) and no core dumps; the parent kills its process group when the
// time limit passes, when it reports no progress for `stallLimit`, or when cancel is set.
// Results come back over a pipe in the document codec's form. Thread-safe: each call owns its
// child; calls from several threads run several children.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>

#include "quire/ingest/error.h"
#include "quire/ingest/extract_options.h"
#include "quire/ingest/extractor.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

struct IsolationLimits {
    std::chrono::milliseconds timeLimit{std::chrono::hours(4)};     // whole file (long recordings)
    std::chrono::milliseconds stallLimit{std::chrono::minutes(2)};  // without a progress report
    std::uint64_t memoryBytes = std::uint64_t{4} << 30;            // address space of the child
};

// The helper next to the running executable (or in ../libexec/quire, ../lib/quire), or the
// one named by the environment variable QUIRE_INGEST_WORKER; empty when there is none.
std::filesystem::path findWorker();

// Extracts `path` in a fresh helper process. Failures: Timeout, Crashed (with the signal and
// the tail of the helper's diagnostics), Cancelled, or the extractor's own error.
std::expected<Document, Error> extractIsolated(const std::filesystem::path& worker, const std::filesystem::path& path,
                                               SourceKind kind, const ExtractOptions& options, const IsolationLimits& limits,
                                               const std::atomic<bool>* cancel = nullptr,
                                               const FractionProgress& progress = {});

}  // namespace quire::ingest
