// The source map of an assembled context: which tokens came from which document and segment, and
// the anchor (page, lines, time) behind each. Documents are known to the model by their number
// ("doc 3"), which the workspace layout assigns once and never reuses; `documentId` is the
// storage id behind it. Citations are resolved here: a document number plus a place (page,
// line range, time, paragraph) selects the segments it names.
//
// A value type, built by ContextAssembler (or by hand in tests); const methods are thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quire/ingest/model/types.h"

namespace quire::app {

// A place inside a document as a citation names it.
struct Locator {
    enum class Kind { Document, Page, Lines, Time, Paragraph };
    Kind kind = Kind::Document;
    int first = 0;            // page, first line, or paragraph (1-based, as written)
    int last = 0;             // last page or line of a range (== first for one)
    std::int64_t beginMs = 0; // Time
    std::int64_t endMs = 0;   // Time; == beginMs for an instant
    bool operator==(const Locator&) const = default;
};

// "p.4", "pp.4-5", "L120-140", "00:12:31", "¶3", or "" for a whole document.
std::string formatLocator(const Locator& where);

struct MappedSegment {
    std::int64_t segmentId = 0; // storage id; 0 when not stored (tests, previews)
    int docNumber = 0;
    ingest::Anchor anchor; // anchor.document is the storage document id
    std::string text;
    std::int64_t tokenBegin = 0; // range in the assembled token stream, mark included
    std::int64_t tokenEnd = 0;
};

struct MappedDocument {
    int number = 0; // "doc N"
    std::int64_t documentId = 0;
    std::int64_t sourceId = 0;
    std::string path;        // the source file
    std::string displayPath; // as shown in the context header
    std::string title;
    ingest::SourceKind kind = ingest::SourceKind::Unknown;
    std::int64_t tokenBegin = 0; // header included
    std::int64_t tokenEnd = 0;
    std::size_t firstSegment = 0; // index into SourceMap::segments
    std::size_t segmentCount = 0;
};

class SourceMap {
public:
    std::vector<MappedDocument> documents; // in context order
    std::vector<MappedSegment> segments;   // in context order; each document's are contiguous

    const MappedDocument* document(int number) const;
    // The segment whose tokens include token `t`; nullptr for prompt and header tokens.
    const MappedSegment* segmentAtToken(std::int64_t t) const;
    // Indices into `segments` of the segments of document `number` that `where` names: the pages
    // or lines overlapping the range, the segment whose time span holds the instant (with a
    // tolerance of `toleranceMs`), the paragraph; every segment for Kind::Document. Empty when
    // the document or the place does not exist.
    std::vector<std::size_t> resolve(int number, const Locator& where, std::int64_t toleranceMs = 2000) const;
    // The inline mark the context carries for segment `index`, e.g. "[doc 3 L1-40]".
    std::string markFor(std::size_t index) const;
    // The locator that names segment `index` exactly.
    Locator locatorFor(std::size_t index) const;
};

// The mark for a document number and anchor: "[doc 12 p.4]".
std::string formatMark(int docNumber, const ingest::Anchor& anchor);

} // namespace quire::app
