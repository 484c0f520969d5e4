#include "quire/storage/database.h"

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <fstream>

#include "log.h"

namespace quire::storage {

namespace {

// Ordered migrations: entry i brings user_version from i to i+1. Never edit a shipped entry;
// append a new one.
constexpr std::array kMigrations = {
    R"sql(
CREATE TABLE workspaces (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_unix INTEGER NOT NULL
);
)sql",
};

Error sqlError(sqlite3* db, const std::string& what)
{
    const int code = sqlite3_extended_errcode(db);
    const ErrorCode ours = (code == SQLITE_FULL || (code & 0xFF) == SQLITE_FULL) ? ErrorCode::Full
                           : (code & 0xFF) == SQLITE_NOTADB                   ? ErrorCode::NotADatabase
                                                                              : ErrorCode::Sql;
    return Error{ours, what + ": " + sqlite3_errmsg(db)};
}

struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

std::expected<Stmt, Error> prepare(sqlite3* db, const char* sql)
{
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK)
        return std::unexpected(sqlError(db, "prepare"));
    return Stmt(raw);
}

std::expected<void, Error> exec(sqlite3* db, const char* sql)
{
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        Error e = sqlError(db, "exec");
        sqlite3_free(msg);
        return std::unexpected(e);
    }
    return {};
}

// A non-empty file whose first 16 bytes are not SQLite's header is not ours to touch.
bool looksLikeSqlite(const std::filesystem::path& path)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0)
        return true;
    std::ifstream in(path, std::ios::binary);
    char header[16] = {};
    in.read(header, sizeof header);
    return in.gcount() == 16 && std::string_view(header, 16) == std::string_view("SQLite format 3\0", 16);
}

}  // namespace

int Database::schemaVersion() { return static_cast<int>(kMigrations.size()); }

void Database::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Database::Database(std::unique_ptr<sqlite3, Closer> db) : m_db(std::move(db)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

std::expected<Database, Error> Database::open(const std::filesystem::path& path)
{
    if (!looksLikeSqlite(path))
        return std::unexpected(Error{ErrorCode::NotADatabase,
                                     path.string() + " is not a Quire library (not an SQLite file); it was left untouched"});
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<sqlite3, Closer> db(raw);
    if (rc != SQLITE_OK)
        return std::unexpected(Error{ErrorCode::Open, "cannot open " + path.string() + ": " +
                                                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))});
    sqlite3_busy_timeout(db.get(), 5000);

    auto version = prepare(db.get(), "PRAGMA user_version");
    if (!version)
        return std::unexpected(Error{ErrorCode::NotADatabase, path.string() + ": " + version.error().message});
    int current = 0;
    if (sqlite3_step(version->get()) == SQLITE_ROW)
        current = sqlite3_column_int(version->get(), 0);
    version->reset();
    if (current > schemaVersion())
        return std::unexpected(Error{ErrorCode::TooNew,
                                     path.string() + " was written by a newer Quire (schema " + std::to_string(current) +
                                         ", this build knows " + std::to_string(schemaVersion()) +
                                         "); it was left untouched"});

    if (auto r = exec(db.get(), "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;"); !r)
        return std::unexpected(r.error());

    for (int v = current; v < schemaVersion(); ++v) {
        if (auto r = exec(db.get(), "BEGIN IMMEDIATE"); !r)
            return std::unexpected(r.error());
        auto step = exec(db.get(), kMigrations[static_cast<size_t>(v)]);
        if (step)
            step = exec(db.get(), ("PRAGMA user_version=" + std::to_string(v + 1)).c_str());
        if (!step) {
            exec(db.get(), "ROLLBACK");
            return std::unexpected(Error{step.error().code, "schema migration " + std::to_string(v + 1) +
                                                                " failed: " + step.error().message});
        }
        if (auto r = exec(db.get(), "COMMIT"); !r)
            return std::unexpected(r.error());
        log()->info("{}: schema migrated to version {}", path.string(), v + 1);
    }
    return Database(std::move(db));
}

std::expected<std::int64_t, Error> Database::createWorkspace(const std::string& name)
{
    static constexpr const char* kInsert = "INSERT INTO workspaces(name, created_unix) VALUES(?1, ?2)";
    auto stmt = prepare(m_db.get(), kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    sqlite3_bind_text(stmt->get(), 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt->get(), 2, now);
    if (sqlite3_step(stmt->get()) != SQLITE_DONE)
        return std::unexpected(sqlError(m_db.get(), "create workspace '" + name + "'"));
    return sqlite3_last_insert_rowid(m_db.get());
}

std::expected<std::vector<WorkspaceRow>, Error> Database::workspaces()
{
    static constexpr const char* kSelect = "SELECT id, name, created_unix FROM workspaces ORDER BY id";
    auto stmt = prepare(m_db.get(), kSelect);
    if (!stmt)
        return std::unexpected(stmt.error());
    std::vector<WorkspaceRow> rows;
    int rc;
    while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
        rows.push_back({sqlite3_column_int64(stmt->get(), 0),
                        reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 1)),
                        sqlite3_column_int64(stmt->get(), 2)});
    }
    if (rc != SQLITE_DONE)
        return std::unexpected(sqlError(m_db.get(), "list workspaces"));
    return rows;
}

}  // namespace quire::storage
