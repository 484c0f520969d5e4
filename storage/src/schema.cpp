#include "schema.h"

#include <array>

#include "log.h"
#include "sql.h"

namespace quire::storage::schema {

namespace {

// Persisted enums keep explicit numbers that are never reused:
//   sources.kind        = ingest::SourceKind   (0 unknown, 1 text, 2 code, 3 pdf, 4 docx, 5 audio, 6 video)
//   sources.status      = ingest::SourceStatus (0 pending, 1 ingested, 2 partial, 3 quarantined, 4 skipped)
//   segments.anchor_kind: 0 none, 1 page + box, 2 line range, 3 time range, 4 paragraph
constexpr std::array<const char*, 1> kLibrary = {
    R"sql(
CREATE TABLE workspaces (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_unix INTEGER NOT NULL
);

CREATE TABLE sources (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  kind INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  status INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  updated_unix INTEGER NOT NULL,
  UNIQUE (workspace_id, path)
);

-- AUTOINCREMENT: document and segment ids are cited in saved answers and source maps, so an id
-- is never handed to another document after a delete.
CREATE TABLE documents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source_id INTEGER NOT NULL UNIQUE REFERENCES sources(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  language TEXT NOT NULL,
  created_unix INTEGER NOT NULL
);

CREATE TABLE segments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  text TEXT NOT NULL,
  anchor_kind INTEGER NOT NULL,
  page INTEGER,
  box_x REAL, box_y REAL, box_w REAL, box_h REAL,
  line_begin INTEGER, line_end INTEGER,
  t_begin_ms INTEGER, t_end_ms INTEGER,
  paragraph INTEGER,
  token_count INTEGER,
  frame_path TEXT,
  UNIQUE (document_id, ordinal)
);

-- External-content index: the text lives once, in segments; triggers keep the index in step.
CREATE VIRTUAL TABLE segments_fts USING fts5(
  text, content='segments', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER segments_fts_insert AFTER INSERT ON segments BEGIN
  INSERT INTO segments_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER segments_fts_delete AFTER DELETE ON segments BEGIN
  INSERT INTO segments_fts(segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER segments_fts_update AFTER UPDATE OF text ON segments BEGIN
  INSERT INTO segments_fts(segments_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO segments_fts(rowid, text) VALUES (new.id, new.text);
END;

-- The sources that failed, one row each while they stay failed.
CREATE TABLE quarantine (
  source_id INTEGER PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
  reason TEXT NOT NULL,
  created_unix INTEGER NOT NULL
);

CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  model_fingerprint BLOB NOT NULL,
  snapshot_id INTEGER,  -- kv.kv_snapshots(id), another file: no foreign key; NULL when none
  created_unix INTEGER NOT NULL,
  updated_unix INTEGER NOT NULL
);
CREATE INDEX sessions_by_workspace ON sessions(workspace_id);

CREATE TABLE turns (
  id INTEGER PRIMARY KEY,
  session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  question TEXT NOT NULL,
  answer TEXT NOT NULL,
  citations_json TEXT NOT NULL,
  prompt_tokens INTEGER,
  answer_tokens INTEGER,
  prefill_ms INTEGER,
  first_token_ms INTEGER,
  total_ms INTEGER,
  created_unix INTEGER NOT NULL,
  UNIQUE (session_id, ordinal)
);
)sql",
};

//   kv_blocks.codec: 0 raw (the only one written; see block_store.cpp for why not zstd)
constexpr std::array<const char*, 2> kBlockStore = {
    R"sql(
CREATE TABLE kv_blocks (
  id INTEGER PRIMARY KEY,
  model_fingerprint BLOB NOT NULL,
  prefix_hash BLOB NOT NULL,
  layer_group INTEGER NOT NULL,
  parent_hash BLOB,  -- prefix_hash of the block before this one; NULL for the first block
  token_begin INTEGER NOT NULL,
  token_end INTEGER NOT NULL,
  codec INTEGER NOT NULL,
  byte_size INTEGER NOT NULL,
  row_count INTEGER NOT NULL,
  created_unix INTEGER NOT NULL,
  UNIQUE (model_fingerprint, prefix_hash, layer_group)
);

-- Payload rows hold only the bytes, so nothing ever updates a row holding a large blob.
CREATE TABLE kv_payload (
  id INTEGER PRIMARY KEY,
  data BLOB NOT NULL
);

CREATE TABLE kv_rows (
  block_id INTEGER NOT NULL REFERENCES kv_blocks(id) ON DELETE CASCADE,
  row_index INTEGER NOT NULL,
  payload_id INTEGER NOT NULL,
  byte_size INTEGER NOT NULL,
  xxh3 INTEGER NOT NULL,  -- XXH3-64 of the row's bytes, stored as a signed 64-bit integer
  PRIMARY KEY (block_id, row_index)
) WITHOUT ROWID;
CREATE TRIGGER kv_rows_delete AFTER DELETE ON kv_rows BEGIN
  DELETE FROM kv_payload WHERE id = old.payload_id;
END;

CREATE TABLE kv_snapshots (
  id INTEGER PRIMARY KEY,
  workspace_id INTEGER NOT NULL,  -- main.workspaces(id), another file: no foreign key
  name TEXT NOT NULL,
  model_fingerprint BLOB NOT NULL,
  last_prefix_hash BLOB NOT NULL,
  token_count INTEGER NOT NULL,
  created_unix INTEGER NOT NULL,
  UNIQUE (workspace_id, name)
);
)sql",
    // 2 (snapshots branch): the fields behind each model fingerprint, so a snapshot refused for
    // another model can say which field differs.
    R"sql(
CREATE TABLE kv_fingerprints (
  model_fingerprint BLOB PRIMARY KEY,
  fields TEXT NOT NULL,  -- "name=value" lines (inference::ModelFingerprint::text())
  created_unix INTEGER NOT NULL
);
)sql",
};

} // namespace

std::span<const char* const> libraryMigrations()
{
    return kLibrary;
}
std::span<const char* const> blockStoreMigrations()
{
    return kBlockStore;
}

std::expected<int, Error> checkVersion(sqlite3* db, std::span<const char* const> migrations,
                                       const std::string& fileName)
{
    auto version = sql::queryInt(db, "PRAGMA user_version");
    if (!version)
        return std::unexpected(Error{
            version.error().code == ErrorCode::Sql ? ErrorCode::NotADatabase : version.error().code,
            fileName + " is not a Quire library: " + version.error().message + "; it was left untouched"});
    const auto known = static_cast<std::int64_t>(migrations.size());
    if (*version > known)
        return std::unexpected(Error{ErrorCode::TooNew, fileName + " was written by a newer Quire (schema " +
                                                            std::to_string(*version) + ", this build knows " +
                                                            std::to_string(known) +
                                                            "); it was left untouched"});
    return static_cast<int>(*version);
}

std::expected<void, Error> migrate(sqlite3* db, std::span<const char* const> migrations,
                                   const std::string& fileName)
{
    auto current = checkVersion(db, migrations, fileName);
    if (!current)
        return std::unexpected(current.error());
    for (auto v = static_cast<size_t>(*current); v < migrations.size(); ++v) {
        sql::Transaction txn(db);
        if (!txn.begun())
            return std::unexpected(txn.begun().error());
        // Re-check under the write lock: another process may have migrated meanwhile.
        auto now = sql::queryInt(db, "PRAGMA user_version");
        if (!now)
            return std::unexpected(now.error());
        if (*now > static_cast<std::int64_t>(v))
            continue;
        auto step = sql::exec(db, migrations[v]);
        if (step)
            step = sql::exec(db, "PRAGMA user_version=" + std::to_string(v + 1));
        if (step)
            step = txn.commit();
        if (!step)
            return std::unexpected(Error{step.error().code, fileName + ": schema migration " +
                                                                std::to_string(v + 1) +
                                                                " failed: " + step.error().message});
        log()->info("{}: schema migrated to version {}", fileName, v + 1);
    }
    return {};
}

} // namespace quire::storage::schema
