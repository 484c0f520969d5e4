// One entry point for extracting a file of a known kind in the calling process, without
// isolation: the helper process calls it, and so can tests and tools that accept the risk.
// Thread-safe for different files.
#pragma once

#include <atomic>
#include <expected>
#include <filesystem>
#include <functional>

#include "quire/ingest/error.h"
#include "quire/ingest/extract_options.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

using FractionProgress = std::function<void(double fraction)>; // 0..1 of this file

std::expected<Document, Error> extractFile(const std::filesystem::path& path, SourceKind kind,
                                           const ExtractOptions& options = {},
                                           const std::atomic<bool>* cancel = nullptr,
                                           const FractionProgress& progress = {});

} // namespace quire::ingest
