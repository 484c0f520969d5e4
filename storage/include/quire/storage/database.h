// The Quire library file: one SQLite database (WAL) holding workspaces, sources, documents,
// segments, sessions and the KV block store. A Database object is one connection and is used by
// one thread at a time; open one per thread (one writer, any number of readers).
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

class Database {
public:
    // The schema version this build writes; files with a higher user_version are refused.
    static int schemaVersion();

    // Opens or creates `path` and brings its schema up to date. A file that is not SQLite, or
    // carries a newer schema, is reported and left untouched.
    static std::expected<Database, Error> open(const std::filesystem::path& path);

    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    ~Database();

    std::expected<std::int64_t, Error> createWorkspace(const std::string& name);
    std::expected<std::vector<WorkspaceRow>, Error> workspaces();

    sqlite3* handle() const { return m_db.get(); }

private:
    struct Closer {
        void operator()(sqlite3* db) const;
    };
    explicit Database(std::unique_ptr<sqlite3, Closer> db);
    std::unique_ptr<sqlite3, Closer> m_db;
};

}  // namespace quire::storage
