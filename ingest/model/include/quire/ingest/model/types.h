// Plain value types shared by ingest, storage and app: a Source (what the user added), the
// Document extracted from it, and its Segments, each with an Anchor saying exactly where in the
// source it came from (page and box, a line range, or a time range). No dependencies, no Qt;
// values only, safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace quire::ingest {

// Persisted as integers: never renumber, never reuse a value.
enum class SourceKind : int { Unknown = 0, Text = 1, Code = 2, Pdf = 3, Docx = 4, Audio = 5, Video = 6 };
enum class SourceStatus : int { Pending = 0, Ingested = 1, Partial = 2, Quarantined = 3, Skipped = 4 };

const char* toString(SourceKind kind);
const char* toString(SourceStatus status);

struct BoundingBox {
    double x = 0, y = 0, width = 0, height = 0;  // PDF points, origin top-left of the page
    bool operator==(const BoundingBox&) const = default;
};

struct PageAnchor {
    int page = 0;  // 1-based
    BoundingBox box;
    bool operator==(const PageAnchor&) const = default;
};

struct LineAnchor {
    int lineBegin = 0;  // 1-based, inclusive
    int lineEnd = 0;
    bool operator==(const LineAnchor&) const = default;
};

struct TimeAnchor {
    std::int64_t beginMs = 0;
    std::int64_t endMs = 0;
    bool operator==(const TimeAnchor&) const = default;
};

struct ParagraphAnchor {
    int paragraph = 0;  // 0-based index of the paragraph in the document body
    bool operator==(const ParagraphAnchor&) const = default;
};

struct Anchor {
    std::int64_t document = 0;  // document id once stored, 0 before
    std::variant<std::monostate, PageAnchor, LineAnchor, TimeAnchor, ParagraphAnchor> where;
    bool operator==(const Anchor&) const = default;
};

// "p.4", "L120-140", "00:12:31", "¶7": the form that inline anchor marks and citations use.
std::string formatAnchor(const Anchor& anchor);

// One word of a segment with its box on the page (PDF text layer or OCR), so a citation can
// highlight the exact words. `offset`/`length` are a byte range into Segment::text.
struct WordBox {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    BoundingBox box;
    bool operator==(const WordBox&) const = default;
};

struct Segment {
    std::string text;  // UTF-8
    Anchor anchor;
    std::optional<int> tokenCount;          // known once tokenized
    std::optional<std::string> framePath;   // a video key frame this segment refers to
    int headingLevel = 0;                   // 1..9 when the segment is a heading (DOCX), else 0
    std::vector<WordBox> words;             // PDF and OCR only; empty for other kinds
};

struct Source {
    std::string path;
    SourceKind kind = SourceKind::Unknown;
    std::string contentHash;  // hex xxh3-128 of the bytes
    std::int64_t size = 0;
    std::int64_t mtimeNs = 0;
};

struct Document {
    Source source;
    std::string title;
    std::string language;  // programming language for code, BCP-47 for text when known
    SourceStatus status = SourceStatus::Pending;
    std::string error;     // why it is partial or quarantined
    std::vector<Segment> segments;
};

}  // namespace quire::ingest
