// The Quire library: one SQLite database in WAL mode (workspaces, sources, documents, segments
// with their FTS5 index, quarantine, sessions, turns) plus, attached as schema "kv", the KV block
// store in a file beside it (see block_store.h for why it is a separate file).
//
// Ownership and threads: a Database object is one connection and is used by one thread at a time
// (SQLite is opened with SQLITE_OPEN_NOMUTEX). The app opens one ReadWrite connection for its
// writer thread (writer_thread.h) and one ReadOnly connection per reader thread. Readers see the
// last committed state; they never block the writer on the main file (WAL).
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "quire/storage/error.h"

struct sqlite3;

namespace quire::storage {

struct WorkspaceRow {
    std::int64_t id = 0;
    std::string name;
    std::int64_t createdUnix = 0;
};

enum class OpenMode {
    ReadWrite, // creates the files and runs migrations; one such connection does all writes
    ReadOnly,  // PRAGMA query_only; the schema must already be current
};

struct OpenOptions {
    OpenMode mode = OpenMode::ReadWrite;
    // The KV block store file. Empty: beside the library, "<stem>.kv<extension>"
    // (library.sqlite -> library.kv.sqlite).
    std::filesystem::path blockStorePath;
    // How long a statement waits for a lock held by another connection.
    int busyTimeoutMs = 30000;
};

class Database {
public:
    // The schema versions this build writes; files with a higher user_version are refused.
    static int schemaVersion();
    static int blockStoreSchemaVersion();
    static std::filesystem::path defaultBlockStorePath(const std::filesystem::path& library);

    // Opens or creates `path` (and its block store file) and brings both schemas up to date. A
    // file that is not SQLite, or carries a newer schema, is reported and left untouched.
    static std::expected<Database, Error> open(const std::filesystem::path& path, OpenOptions options = {});

    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    ~Database();

    std::expected<std::int64_t, Error> createWorkspace(const std::string& name);
    std::expected<std::vector<WorkspaceRow>, Error> workspaces();
    // Deletes the workspace with its sources, documents, segments, quarantine, sessions and KV
    // snapshots. Blocks no other snapshot uses stay until BlockStore::collectGarbage().
    std::expected<void, Error> removeWorkspace(std::int64_t workspace);

    // "ok" or the problems PRAGMA integrity_check found, for both files.
    std::expected<std::string, Error> integrityCheck();

    const std::filesystem::path& path() const { return m_path; }
    const std::filesystem::path& blockStorePath() const { return m_blockStorePath; }
    bool readOnly() const { return m_readOnly; }
    sqlite3* handle() const { return m_db.get(); }

private:
    struct Closer {
        void operator()(sqlite3* db) const;
    };
    Database(std::unique_ptr<sqlite3, Closer> db, std::filesystem::path path, std::filesystem::path kvPath,
             bool readOnly);
    std::unique_ptr<sqlite3, Closer> m_db;
    std::filesystem::path m_path;
    std::filesystem::path m_blockStorePath;
    bool m_readOnly = false;
};

} // namespace quire::storage
