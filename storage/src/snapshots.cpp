// BlockStore: named snapshots, the chains of blocks they use, and garbage collection.
#include <sqlite3.h>

#include "block_store_sql.h"
#include "quire/storage/block_store.h"
#include "sql.h"

namespace quire::storage {

namespace {

constexpr const char* kSnapshotColumns =
    "id, workspace_id, name, model_fingerprint, last_prefix_hash, token_count, created_unix";

SnapshotRow readSnapshot(const sql::Stmt& s)
{
    SnapshotRow row;
    row.id = s.int64(0);
    row.workspace = s.int64(1);
    row.name = s.text(2);
    row.modelFingerprint = s.blob(3);
    row.lastPrefixHash = s.blob(4);
    row.tokenCount = s.int64(5);
    row.createdUnix = s.int64(6);
    return row;
}

// Walks back from the snapshot's last block through the parents. A prefix hash with no stored
// block ends the walk (a gap: the snapshot is incomplete).
std::expected<std::vector<BlockInfo>, Error> chainOf(sqlite3* db, const SnapshotRow& snapshot)
{
    static const std::string kChain = std::string(R"sql(
WITH RECURSIVE chain(hash, depth) AS (
  SELECT ?2, 0
  UNION ALL
  SELECT (SELECT p.parent_hash FROM kv.kv_blocks p
          WHERE p.model_fingerprint = ?1 AND p.prefix_hash = c.hash LIMIT 1), c.depth + 1
  FROM chain c WHERE c.hash IS NOT NULL AND c.depth < 10000000
)
SELECT )sql") + detail::kBlockColumns +
                                      R"sql(
FROM chain c JOIN kv.kv_blocks b ON b.model_fingerprint = ?1 AND b.prefix_hash = c.hash
ORDER BY c.depth DESC, b.layer_group)sql";
    auto stmt = sql::prepare(db, kChain.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bindBlob(1, snapshot.modelFingerprint);
    stmt->bindBlob(2, snapshot.lastPrefixHash);
    std::vector<BlockInfo> blocks;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW)
        blocks.push_back(detail::readBlock(*stmt));
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, db, "walk snapshot '" + snapshot.name + "'"));
    return blocks;
}

std::expected<SnapshotRow, Error> withChain(sqlite3* db, SnapshotRow row)
{
    auto chain = chainOf(db, row);
    if (!chain)
        return std::unexpected(chain.error());
    row.blockCount = std::ssize(*chain);
    for (const auto& block : *chain)
        row.bytes += block.bytes;
    row.complete = !chain->empty() && chain->front().placement.parentHash.empty() &&
                   chain->back().key.prefixHash == row.lastPrefixHash;
    return row;
}

std::expected<SnapshotRow, Error> loadSnapshot(sqlite3* db, std::int64_t snapshotId)
{
    static const std::string kSelect =
        std::string("SELECT ") + kSnapshotColumns + " FROM kv.kv_snapshots WHERE id = ?1";
    auto stmt = sql::prepare(db, kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, snapshotId);
    const int rc = stmt->step();
    if (rc == SQLITE_DONE)
        return std::unexpected(Error{ErrorCode::NotFound, "no KV snapshot " + std::to_string(snapshotId)});
    if (rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "read KV snapshot"));
    return readSnapshot(*stmt);
}

} // namespace

std::expected<std::int64_t, Error> BlockStore::saveSnapshot(std::int64_t workspace, const std::string& name,
                                                            const std::string& modelFingerprint,
                                                            const std::string& lastPrefixHash,
                                                            std::int64_t tokenCount)
{
    static constexpr const char* kExists =
        "SELECT 1 FROM kv.kv_blocks WHERE model_fingerprint = ?1 AND prefix_hash = ?2 LIMIT 1";
    static constexpr const char* kUpsert = R"sql(
INSERT INTO kv.kv_snapshots(workspace_id, name, model_fingerprint, last_prefix_hash, token_count, created_unix)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (workspace_id, name) DO UPDATE SET
  model_fingerprint = excluded.model_fingerprint, last_prefix_hash = excluded.last_prefix_hash,
  token_count = excluded.token_count, created_unix = excluded.created_unix
RETURNING id)sql";
    if (name.empty() || modelFingerprint.empty() || lastPrefixHash.empty())
        return std::unexpected(
            Error{ErrorCode::Invalid, "a snapshot needs a name, a model fingerprint and a last block"});
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    auto exists = sql::prepare(db, kExists);
    if (!exists)
        return std::unexpected(exists.error());
    exists->bindBlob(1, modelFingerprint);
    exists->bindBlob(2, lastPrefixHash);
    int rc = exists->step();
    if (rc == SQLITE_DONE)
        return std::unexpected(
            Error{ErrorCode::NotFound, "snapshot '" + name + "': its last block is not stored"});
    if (rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "save snapshot '" + name + "'"));
    auto stmt = sql::prepare(db, kUpsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    stmt->bind(2, name);
    stmt->bindBlob(3, modelFingerprint);
    stmt->bindBlob(4, lastPrefixHash);
    stmt->bind(5, tokenCount);
    stmt->bind(6, sql::unixNow());
    if ((rc = stmt->step()) != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "save snapshot '" + name + "'"));
    const std::int64_t id = stmt->int64(0);
    stmt->reset();
    if (auto r = txn.commit(); !r)
        return std::unexpected(r.error());
    return id;
}

std::expected<std::vector<SnapshotRow>, Error> BlockStore::snapshots(std::int64_t workspace)
{
    static const std::string kSelect = std::string("SELECT ") + kSnapshotColumns +
                                       " FROM kv.kv_snapshots WHERE workspace_id = ?1 ORDER BY name";
    sqlite3* db = m_db.handle();
    sql::ReadTransaction snapshot(db);
    auto stmt = sql::prepare(db, kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    std::vector<SnapshotRow> rows;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW)
        rows.push_back(readSnapshot(*stmt));
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, db, "list KV snapshots"));
    for (auto& row : rows) {
        auto full = withChain(db, std::move(row));
        if (!full)
            return std::unexpected(full.error());
        row = std::move(*full);
    }
    return rows;
}

std::expected<SnapshotRow, Error> BlockStore::snapshot(std::int64_t snapshotId)
{
    sqlite3* db = m_db.handle();
    sql::ReadTransaction snapshot(db);
    auto row = loadSnapshot(db, snapshotId);
    if (!row)
        return row;
    return withChain(db, std::move(*row));
}

std::expected<std::vector<BlockInfo>, Error> BlockStore::snapshotBlocks(std::int64_t snapshotId)
{
    sqlite3* db = m_db.handle();
    sql::ReadTransaction snapshot(db);
    auto row = loadSnapshot(db, snapshotId);
    if (!row)
        return std::unexpected(row.error());
    return chainOf(db, *row);
}

std::expected<void, Error> BlockStore::removeSnapshot(std::int64_t snapshotId)
{
    static constexpr const char* kDelete = "DELETE FROM kv.kv_snapshots WHERE id = ?1";
    static constexpr const char* kClearSessions =
        "UPDATE main.sessions SET snapshot_id = NULL WHERE snapshot_id = ?1";
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    for (const char* text : {kDelete, kClearSessions}) {
        auto stmt = sql::prepare(db, text);
        if (!stmt)
            return std::unexpected(stmt.error());
        stmt->bind(1, snapshotId);
        if (auto r = sql::run(db, *stmt, "remove KV snapshot"); !r)
            return r;
    }
    return txn.commit();
}

std::expected<void, Error> BlockStore::atomically(const std::function<std::expected<void, Error>()>& work)
{
    sql::Transaction txn(m_db.handle());
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    if (auto ok = work(); !ok)
        return ok; // rolled back
    return txn.commit();
}

std::expected<GarbageReport, Error> BlockStore::collectGarbage(const std::optional<std::string>& modelFingerprint)
{
    // ?1: one model's blocks only; NULL: every block.
    static const std::string kUnused =
        " WHERE id NOT IN (SELECT block_id FROM used) AND (?1 IS NULL OR model_fingerprint = ?1)";
    static const std::string kCount = std::string(detail::kUsedBlocksCte) +
                                      "SELECT count(*), coalesce(sum(byte_size), 0) FROM kv.kv_blocks" + kUnused;
    static const std::string kDelete = std::string(detail::kUsedBlocksCte) + "DELETE FROM kv.kv_blocks" + kUnused;
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    auto count = sql::prepare(db, kCount.c_str());
    if (!count)
        return std::unexpected(count.error());
    if (modelFingerprint)
        count->bindBlob(1, *modelFingerprint);
    if (const int rc = count->step(); rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "find unused KV blocks"));
    GarbageReport report{count->int64(0), count->int64(1)};
    count->reset();
    auto del = sql::prepare(db, kDelete.c_str());
    if (!del)
        return std::unexpected(del.error());
    if (modelFingerprint)
        del->bindBlob(1, *modelFingerprint);
    if (auto r = sql::run(db, *del, "delete unused KV blocks"); !r)
        return std::unexpected(r.error());
    if (auto r = txn.commit(); !r)
        return std::unexpected(r.error());
    return report;
}

std::expected<void, Error> BlockStore::recordFingerprint(const std::string& modelFingerprint,
                                                         const std::string& fields)
{
    static constexpr const char* kInsert =
        "INSERT OR IGNORE INTO kv.kv_fingerprints(model_fingerprint, fields, "
        "created_unix) VALUES (?1, ?2, ?3)";
    sqlite3* db = m_db.handle();
    auto stmt = sql::prepare(db, kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bindBlob(1, modelFingerprint);
    stmt->bind(2, fields);
    stmt->bind(3, sql::unixNow());
    return sql::run(db, *stmt, "record a model fingerprint");
}

std::expected<std::optional<std::string>, Error>
BlockStore::fingerprintFields(const std::string& modelFingerprint)
{
    static constexpr const char* kSelect =
        "SELECT fields FROM kv.kv_fingerprints WHERE model_fingerprint = ?1";
    sqlite3* db = m_db.handle();
    auto stmt = sql::prepare(db, kSelect);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bindBlob(1, modelFingerprint);
    const int rc = stmt->step();
    if (rc == SQLITE_DONE)
        return std::optional<std::string>();
    if (rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "read a model fingerprint"));
    return std::optional<std::string>(stmt->text(0));
}

std::expected<SnapshotRow, Error> BlockStore::snapshotNamed(std::int64_t workspace, const std::string& name)
{
    static const std::string kSelect = std::string("SELECT ") + kSnapshotColumns +
                                       " FROM kv.kv_snapshots WHERE workspace_id = ?1 AND name = ?2";
    sqlite3* db = m_db.handle();
    sql::ReadTransaction snapshot(db);
    auto stmt = sql::prepare(db, kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    stmt->bind(2, name);
    const int rc = stmt->step();
    if (rc == SQLITE_DONE)
        return std::unexpected(Error{ErrorCode::NotFound, "no snapshot named '" + name + "'"});
    if (rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "read KV snapshot '" + name + "'"));
    auto row = readSnapshot(*stmt);
    stmt->reset();
    return withChain(db, std::move(row));
}

} // namespace quire::storage
