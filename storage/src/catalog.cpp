#include "quire/storage/catalog.h"

#include "segment_columns.h"
#include "sql.h"

namespace quire::storage {

namespace {

using ingest::SourceStatus;

// Steps `stmt` to the end, appending read(stmt) for each row.
template <class Row, class Read>
std::expected<std::vector<Row>, Error> collect(sqlite3* db, sql::Stmt& stmt, std::string_view what, Read read)
{
    std::vector<Row> rows;
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW)
        rows.push_back(read(stmt));
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, db, what));
    return rows;
}

constexpr const char* kSourceColumns =
    "s.id, s.workspace_id, s.path, s.kind, s.content_hash, s.size, s.mtime_ns, "
    "s.status, s.error, d.id, s.updated_unix";

SourceRow readSource(const sql::Stmt& s)
{
    SourceRow row;
    row.id = s.int64(0);
    row.workspace = s.int64(1);
    row.source.path = s.text(2);
    row.source.kind = static_cast<ingest::SourceKind>(s.int32(3));
    row.source.contentHash = s.text(4);
    row.source.size = s.int64(5);
    row.source.mtimeNs = s.int64(6);
    row.status = static_cast<SourceStatus>(s.int32(7));
    row.error = s.text(8);
    row.document = s.optInt64(9);
    row.updatedUnix = s.int64(10);
    return row;
}

// Inserts or updates the source row for source.path and returns its id.
std::expected<std::int64_t, Error> upsertSource(sqlite3* db, std::int64_t workspace,
                                                const ingest::Source& source, SourceStatus status,
                                                const std::string& error)
{
    static constexpr const char* kUpsert = R"sql(
INSERT INTO sources(workspace_id, path, kind, content_hash, size, mtime_ns, status, error, updated_unix)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (workspace_id, path) DO UPDATE SET
  kind = excluded.kind, content_hash = excluded.content_hash, size = excluded.size,
  mtime_ns = excluded.mtime_ns, status = excluded.status, error = excluded.error,
  updated_unix = excluded.updated_unix
RETURNING id)sql";
    if (source.path.empty())
        return std::unexpected(Error{ErrorCode::Invalid, "a source needs a path"});
    auto stmt = sql::prepare(db, kUpsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    stmt->bind(2, source.path);
    stmt->bind(3, static_cast<int>(source.kind));
    stmt->bind(4, source.contentHash);
    stmt->bind(5, source.size);
    stmt->bind(6, source.mtimeNs);
    stmt->bind(7, static_cast<int>(status));
    stmt->bind(8, error);
    stmt->bind(9, sql::unixNow());
    if (const int rc = stmt->step(); rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "store source " + source.path));
    const std::int64_t id = stmt->int64(0);
    stmt->reset();
    return id;
}

// Deletes the document of `sourceId` and its segments (the FTS triggers drop them from the index).
// Returns whether there was one.
std::expected<bool, Error> dropDocument(sqlite3* db, std::int64_t sourceId)
{
    static constexpr const char* kDeleteSegments =
        "DELETE FROM segments WHERE document_id IN (SELECT id FROM documents WHERE source_id = ?1)";
    static constexpr const char* kDeleteDocument = "DELETE FROM documents WHERE source_id = ?1";
    for (const char* text : {kDeleteSegments, kDeleteDocument}) {
        auto stmt = sql::prepare(db, text);
        if (!stmt)
            return std::unexpected(stmt.error());
        stmt->bind(1, sourceId);
        if (auto r = sql::run(db, *stmt, "remove the previous document"); !r)
            return std::unexpected(r.error());
    }
    return sqlite3_changes(db) > 0;
}

std::expected<void, Error> insertSegments(sqlite3* db, std::int64_t documentId,
                                          const std::vector<ingest::Segment>& segments)
{
    static constexpr const char* kInsert = R"sql(
INSERT INTO segments(document_id, ordinal, text, anchor_kind, page, box_x, box_y, box_w, box_h,
                     line_begin, line_end, t_begin_ms, t_end_ms, paragraph, token_count, frame_path)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16))sql";
    auto stmt = sql::prepare(db, kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    int ordinal = 0;
    for (const auto& seg : segments) {
        stmt->bind(1, documentId);
        stmt->bind(2, ordinal++);
        stmt->bind(3, seg.text);
        detail::bindAnchor(*stmt, 4, seg.anchor);
        stmt->bind(15, seg.tokenCount);
        stmt->bind(16, seg.framePath);
        if (auto r = sql::run(db, *stmt, "store segment " + std::to_string(ordinal - 1)); !r)
            return r;
    }
    return {};
}

std::expected<void, Error> clearQuarantine(sqlite3* db, std::int64_t sourceId)
{
    auto stmt = sql::prepare(db, "DELETE FROM quarantine WHERE source_id = ?1");
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, sourceId);
    return sql::run(db, *stmt, "clear quarantine");
}

} // namespace

std::expected<PutResult, Error> Catalog::putDocument(std::int64_t workspace, const ingest::Document& doc)
{
    static constexpr const char* kInsertDocument =
        "INSERT INTO documents(source_id, title, language, created_unix) VALUES (?1, ?2, ?3, ?4)";
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    const SourceStatus status = doc.status == SourceStatus::Pending ? SourceStatus::Ingested : doc.status;
    auto sourceId = upsertSource(db, workspace, doc.source, status, doc.error);
    if (!sourceId)
        return std::unexpected(sourceId.error());
    auto replaced = dropDocument(db, *sourceId);
    if (!replaced)
        return std::unexpected(replaced.error());
    auto insert = sql::prepare(db, kInsertDocument);
    if (!insert)
        return std::unexpected(insert.error());
    insert->bind(1, *sourceId);
    insert->bind(2, doc.title);
    insert->bind(3, doc.language);
    insert->bind(4, sql::unixNow());
    if (auto r = sql::run(db, *insert, "store document " + doc.source.path); !r)
        return std::unexpected(r.error());
    const std::int64_t documentId = sqlite3_last_insert_rowid(db);
    if (auto r = insertSegments(db, documentId, doc.segments); !r)
        return std::unexpected(r.error());
    if (auto r = clearQuarantine(db, *sourceId); !r)
        return std::unexpected(r.error());
    if (auto r = txn.commit(); !r)
        return std::unexpected(r.error());
    return PutResult{*sourceId, documentId, *replaced};
}

std::expected<std::optional<SourceRow>, Error> Catalog::findSource(std::int64_t workspace,
                                                                   const std::string& path)
{
    static const std::string kSelect = std::string("SELECT ") + kSourceColumns +
                                       " FROM sources s LEFT JOIN documents d ON d.source_id = s.id"
                                       " WHERE s.workspace_id = ?1 AND s.path = ?2";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    stmt->bind(2, path);
    auto rows = collect<SourceRow>(m_db.handle(), *stmt, "find source", readSource);
    if (!rows)
        return std::unexpected(rows.error());
    if (rows->empty())
        return std::nullopt;
    return rows->front();
}

std::expected<std::optional<SourceRow>, Error>
Catalog::findUnchanged(std::int64_t workspace, const std::string& path, const std::string& contentHash)
{
    auto found = findSource(workspace, path);
    if (!found || !*found)
        return found;
    const SourceRow& row = **found;
    if (contentHash.empty() || row.source.contentHash != contentHash || row.status == SourceStatus::Pending)
        return std::nullopt;
    return found;
}

std::expected<std::vector<SourceRow>, Error> Catalog::sources(std::int64_t workspace)
{
    static const std::string kSelect = std::string("SELECT ") + kSourceColumns +
                                       " FROM sources s LEFT JOIN documents d ON d.source_id = s.id"
                                       " WHERE s.workspace_id = ?1 ORDER BY s.path";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    return collect<SourceRow>(m_db.handle(), *stmt, "list sources", readSource);
}

namespace {

constexpr const char* kDocumentSelect = R"sql(
SELECT d.id, d.source_id, s.workspace_id, s.path, d.title, d.language, s.status, s.error,
       count(g.id), coalesce(sum(g.token_count), 0), count(g.id) - count(g.token_count)
FROM documents d JOIN sources s ON s.id = d.source_id LEFT JOIN segments g ON g.document_id = d.id
)sql";

DocumentRow readDocument(const sql::Stmt& s)
{
    DocumentRow row;
    row.id = s.int64(0);
    row.sourceId = s.int64(1);
    row.workspace = s.int64(2);
    row.path = s.text(3);
    row.title = s.text(4);
    row.language = s.text(5);
    row.status = static_cast<SourceStatus>(s.int32(6));
    row.error = s.text(7);
    row.segmentCount = s.int64(8);
    row.knownTokens = s.int64(9);
    row.uncountedSegments = s.int64(10);
    return row;
}

} // namespace

std::expected<std::vector<DocumentRow>, Error> Catalog::documents(std::int64_t workspace)
{
    static const std::string kSelect =
        std::string(kDocumentSelect) + " WHERE s.workspace_id = ?1 GROUP BY d.id ORDER BY s.path";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    return collect<DocumentRow>(m_db.handle(), *stmt, "list documents", readDocument);
}

std::expected<DocumentRow, Error> Catalog::document(std::int64_t documentId)
{
    static const std::string kSelect = std::string(kDocumentSelect) + " WHERE d.id = ?1 GROUP BY d.id";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, documentId);
    auto rows = collect<DocumentRow>(m_db.handle(), *stmt, "read document", readDocument);
    if (!rows)
        return std::unexpected(rows.error());
    if (rows->empty())
        return std::unexpected(Error{ErrorCode::NotFound, "no document " + std::to_string(documentId)});
    return rows->front();
}

namespace {

SegmentRow toSegmentRow(const sql::Stmt& s)
{
    auto stored = detail::readSegment(s, 0);
    return SegmentRow{stored.id, stored.document, stored.ordinal, std::move(stored.segment)};
}

} // namespace

std::expected<std::vector<SegmentRow>, Error> Catalog::segments(std::int64_t documentId)
{
    static const std::string kSelect = std::string("SELECT ") + detail::kSegmentColumns +
                                       " FROM segments g WHERE g.document_id = ?1 ORDER BY g.ordinal";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, documentId);
    return collect<SegmentRow>(m_db.handle(), *stmt, "list segments", toSegmentRow);
}

std::expected<SegmentRow, Error> Catalog::segment(std::int64_t segmentId)
{
    static const std::string kSelect =
        std::string("SELECT ") + detail::kSegmentColumns + " FROM segments g WHERE g.id = ?1";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, segmentId);
    auto rows = collect<SegmentRow>(m_db.handle(), *stmt, "read segment", toSegmentRow);
    if (!rows)
        return std::unexpected(rows.error());
    if (rows->empty())
        return std::unexpected(Error{ErrorCode::NotFound, "no segment " + std::to_string(segmentId)});
    return std::move(rows->front());
}

std::expected<void, Error> Catalog::setTokenCounts(const std::vector<std::pair<std::int64_t, int>>& counts)
{
    static constexpr const char* kUpdate = "UPDATE segments SET token_count = ?2 WHERE id = ?1";
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    auto stmt = sql::prepare(db, kUpdate);
    if (!stmt)
        return std::unexpected(stmt.error());
    for (const auto& [id, count] : counts) {
        stmt->bind(1, id);
        stmt->bind(2, count);
        if (auto r = sql::run(db, *stmt, "set token count"); !r)
            return r;
    }
    return txn.commit();
}

std::expected<bool, Error> Catalog::removeSource(std::int64_t workspace, const std::string& path)
{
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    auto found = findSource(workspace, path);
    if (!found)
        return std::unexpected(found.error());
    if (!*found)
        return false;
    if (auto r = dropDocument(db, (*found)->id); !r)
        return std::unexpected(r.error());
    auto stmt = sql::prepare(db, "DELETE FROM sources WHERE id = ?1");
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, (*found)->id);
    if (auto r = sql::run(db, *stmt, "remove source " + path); !r)
        return std::unexpected(r.error());
    if (auto r = txn.commit(); !r)
        return std::unexpected(r.error());
    return true;
}

std::expected<std::int64_t, Error> Catalog::quarantine(std::int64_t workspace, const ingest::Source& source,
                                                       const std::string& reason)
{
    static constexpr const char* kInsert =
        "INSERT OR REPLACE INTO quarantine(source_id, reason, created_unix) VALUES (?1, ?2, ?3)";
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    auto sourceId = upsertSource(db, workspace, source, SourceStatus::Quarantined, reason);
    if (!sourceId)
        return std::unexpected(sourceId.error());
    if (auto r = dropDocument(db, *sourceId); !r)
        return std::unexpected(r.error());
    auto stmt = sql::prepare(db, kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, *sourceId);
    stmt->bind(2, reason);
    stmt->bind(3, sql::unixNow());
    if (auto r = sql::run(db, *stmt, "quarantine " + source.path); !r)
        return std::unexpected(r.error());
    if (auto r = txn.commit(); !r)
        return std::unexpected(r.error());
    return *sourceId;
}

std::expected<std::vector<QuarantineRow>, Error> Catalog::quarantined(std::int64_t workspace)
{
    static constexpr const char* kSelect = R"sql(
SELECT q.source_id, s.path, s.kind, q.reason, q.created_unix
FROM quarantine q JOIN sources s ON s.id = q.source_id
WHERE s.workspace_id = ?1 ORDER BY s.path)sql";
    auto stmt = sql::prepare(m_db.handle(), kSelect);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    return collect<QuarantineRow>(m_db.handle(), *stmt, "list quarantine", [](const sql::Stmt& s) {
        return QuarantineRow{s.int64(0), s.text(1), static_cast<ingest::SourceKind>(s.int32(2)), s.text(3),
                             s.int64(4)};
    });
}

} // namespace quire::storage
