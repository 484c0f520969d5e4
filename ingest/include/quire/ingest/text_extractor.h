// Code and plain text to line-anchored segments, streamed: the file is read in chunks (never
// whole), decoded to UTF-8 (UTF-8, UTF-8/UTF-16 with a BOM, BOM-less UTF-16, else Latin-1),
// newlines normalised to "\n", and cut into segments of whole lines, each with its LineAnchor.
// A segment ends at a blank line once it has `minLinesBeforeBreak` lines (paragraphs in prose,
// blank-line-separated blocks in code), and always at `maxLinesPerSegment` lines or
// `maxSegmentBytes` bytes; a single line longer than that is cut into several segments that all
// carry that line's anchor. Damaged UTF-8 is replaced with U+FFFD and reported (the document is
// then Partial). Thread-safe: no shared state.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>

#include "quire/ingest/error.h"
#include "quire/ingest/model/types.h"
#include "quire/ingest/text_file.h"

namespace quire::ingest {

struct TextOptions {
    int maxLinesPerSegment = 40;
    int minLinesBeforeBreak = 0; // 0: 1 for prose (paragraphs), 20 for code
    std::size_t maxSegmentBytes = 16 * 1024;
    std::size_t chunkBytes = 1 << 20; // read size; tests use tiny chunks to hit the seams
};

struct TextStats {
    TextEncoding encoding = TextEncoding::Utf8;
    std::int64_t bytes = 0;
    int lines = 0;
    std::int64_t invalidSequences = 0;    // replaced by U+FFFD
    std::int64_t firstInvalidOffset = -1; // byte offset of the first, -1 when none
    std::string contentHash;              // xxh3-128 hex of the raw bytes
    std::int64_t mtimeNs = 0;             // of the file when it was opened
};

using SegmentSink = std::function<void(Segment&&)>;
using ByteProgress = std::function<void(std::int64_t bytesDone)>;

// Streams `path` into `sink` segment by segment; memory use is bounded by the chunk and segment
// sizes whatever the file size. `kind` (Text or Code) picks the default break rule.
std::expected<TextStats, Error> streamTextSegments(const std::filesystem::path& path, SourceKind kind,
                                                   const TextOptions& options, const SegmentSink& sink,
                                                   const std::atomic<bool>* cancel = nullptr,
                                                   const ByteProgress& progress = {});

// The whole Document for a text or code file (segments collected in memory). Status Ingested,
// or Partial with a reason when bytes had to be replaced; an empty file gives Skipped.
std::expected<Document, Error> extractTextDocument(const std::filesystem::path& path, SourceKind kind,
                                                   const TextOptions& options = {},
                                                   const std::atomic<bool>* cancel = nullptr,
                                                   const ByteProgress& progress = {});

} // namespace quire::ingest
