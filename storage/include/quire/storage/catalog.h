// The catalog: what a workspace is made of. Sources (the files the user added, with content hash,
// size, mtime and status), the Document extracted from each, its Segments with their Anchors,
// and the quarantine of files that failed. Values are the plain types of quire/ingest/model.
//
// Re-ingesting an unchanged file costs nothing: before extracting, ingest calls findSource() (the
// size and mtime tell whether hashing is even needed) or findUnchanged() with the content hash,
// and skips the file when it matches.
//
// Ownership and threads: a Catalog borrows a Database (one connection) and is used on that
// connection's thread; it is cheap to construct per call. Writes go through the writer thread.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "quire/ingest/model/types.h"
#include "quire/storage/database.h"
#include "quire/storage/error.h"

namespace quire::storage {

struct SourceRow {
    std::int64_t id = 0;
    std::int64_t workspace = 0;
    ingest::Source source;
    ingest::SourceStatus status = ingest::SourceStatus::Pending;
    std::string error;
    std::optional<std::int64_t> document; // the extracted document, when there is one
    std::int64_t updatedUnix = 0;
};

struct DocumentRow {
    std::int64_t id = 0;
    std::int64_t sourceId = 0;
    std::int64_t workspace = 0;
    std::string path;
    std::string title;
    std::string language;
    ingest::SourceStatus status = ingest::SourceStatus::Pending;
    std::string error;
    std::int64_t segmentCount = 0;
    std::int64_t knownTokens = 0;       // sum of the token counts known so far
    std::int64_t uncountedSegments = 0; // segments whose token count is not known yet
};

struct SegmentRow {
    std::int64_t id = 0;
    std::int64_t document = 0;
    int ordinal = 0;         // position in the document, from 0
    ingest::Segment segment; // anchor.document is set to `document`
};

struct QuarantineRow {
    std::int64_t sourceId = 0;
    std::string path;
    ingest::SourceKind kind = ingest::SourceKind::Unknown;
    std::string reason;
    std::int64_t createdUnix = 0;
};

struct PutResult {
    std::int64_t sourceId = 0;
    std::int64_t documentId = 0;
    bool replaced = false; // an earlier document of this source was replaced
};

class Catalog {
public:
    explicit Catalog(Database& db) : m_db(db) {}

    // Stores `doc` (its source, status, title and segments) for its source path in `workspace`,
    // replacing whatever that path held before, in one transaction: readers see the old document
    // or the new one, never a mix. Clears a quarantine entry for the path.
    std::expected<PutResult, Error> putDocument(std::int64_t workspace, const ingest::Document& doc);

    // The stored source at `path`, if any: compare size and mtime to skip hashing.
    std::expected<std::optional<SourceRow>, Error> findSource(std::int64_t workspace,
                                                              const std::string& path);
    // The stored source at `path` when it was processed from the same bytes (`contentHash`):
    // ingest skips extraction when this returns a row. Pending sources do not count.
    std::expected<std::optional<SourceRow>, Error>
    findUnchanged(std::int64_t workspace, const std::string& path, const std::string& contentHash);

    std::expected<std::vector<SourceRow>, Error> sources(std::int64_t workspace);
    std::expected<std::vector<DocumentRow>, Error> documents(std::int64_t workspace);
    std::expected<DocumentRow, Error> document(std::int64_t documentId);
    std::expected<std::vector<SegmentRow>, Error> segments(std::int64_t documentId);
    std::expected<SegmentRow, Error> segment(std::int64_t segmentId);

    // Token counts become known after tokenization: (segment id, count) pairs, one transaction.
    std::expected<void, Error> setTokenCounts(const std::vector<std::pair<std::int64_t, int>>& counts);

    // Removes the source at `path` with its document and segments (the file left the workspace).
    std::expected<bool, Error> removeSource(std::int64_t workspace, const std::string& path);

    // Records that `source` failed with `reason`: the source is kept with status Quarantined
    // (so the same bytes are not retried), any earlier document of it is removed.
    std::expected<std::int64_t, Error> quarantine(std::int64_t workspace, const ingest::Source& source,
                                                  const std::string& reason);
    std::expected<std::vector<QuarantineRow>, Error> quarantined(std::int64_t workspace);

private:
    Database& m_db;
};

} // namespace quire::storage
