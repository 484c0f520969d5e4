#include "quire/storage/database.h"

#include <sqlite3.h>

#include <fstream>

#include "fts.h"
#include "log.h"
#include "schema.h"
#include "sql.h"

namespace quire::storage {

namespace {

// The block store holds multi-hundred-MiB payloads: the largest page size keeps overflow chains
// short. It only takes effect when the file is created.
constexpr const char* kBlockStorePageSize = "PRAGMA page_size=65536";

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

Error notSqlite(const std::filesystem::path& path)
{
    return Error{ErrorCode::NotADatabase,
                 path.string() + " is not a Quire library (not an SQLite file); it was left untouched"};
}

struct RawCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using RawDb = std::unique_ptr<sqlite3, RawCloser>;

std::expected<RawDb, Error> openFile(const std::filesystem::path& path, bool create, int busyTimeoutMs)
{
    sqlite3* raw = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
    RawDb db(raw);
    if (rc != SQLITE_OK)
        return std::unexpected(Error{ErrorCode::Open, "cannot open " + path.string() + ": " +
                                                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))});
    sqlite3_busy_timeout(db.get(), busyTimeoutMs);
    sqlite3_extended_result_codes(db.get(), 1);
    return db;
}

// Creates or upgrades the block store file on a connection of its own, so its migrations use
// plain table names. Called only after both files passed their version checks.
std::expected<void, Error> prepareBlockStore(sqlite3* kv, const std::filesystem::path& kvPath)
{
    if (auto r = sql::exec(kv, kBlockStorePageSize); !r)
        return r;
    if (auto r = sql::exec(kv, "PRAGMA journal_mode=TRUNCATE; PRAGMA foreign_keys=ON"); !r)
        return r;
    return schema::migrate(kv, schema::blockStoreMigrations(), kvPath.string());
}

std::expected<void, Error> attachBlockStore(sqlite3* db, const std::filesystem::path& kvPath)
{
    auto attach = sql::prepare(db, "ATTACH DATABASE ?1 AS kv");
    if (!attach)
        return std::unexpected(attach.error());
    attach->bind(1, kvPath.string());
    if (auto r = sql::run(db, *attach, "attach " + kvPath.string()); !r)
        return r;
    // Rollback-journal mode is per connection (only WAL persists), so every connection sets it.
    // Why not WAL for this file: see block_store.h. FULL sync costs little next to the payloads.
    return sql::exec(db, "PRAGMA kv.journal_mode=TRUNCATE; PRAGMA kv.synchronous=FULL;"
                         "PRAGMA kv.cache_size=-8192");
}

} // namespace

int Database::schemaVersion()
{
    return static_cast<int>(schema::libraryMigrations().size());
}
int Database::blockStoreSchemaVersion()
{
    return static_cast<int>(schema::blockStoreMigrations().size());
}

std::filesystem::path Database::defaultBlockStorePath(const std::filesystem::path& library)
{
    auto name = library.stem().string() + ".kv" + library.extension().string();
    return library.parent_path() / name;
}

void Database::Closer::operator()(sqlite3* db) const
{
    sqlite3_close_v2(db);
}

Database::Database(std::unique_ptr<sqlite3, Closer> db, std::filesystem::path path,
                   std::filesystem::path kvPath, bool readOnly)
    : m_db(std::move(db)), m_path(std::move(path)), m_blockStorePath(std::move(kvPath)), m_readOnly(readOnly)
{
}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

std::expected<Database, Error> Database::open(const std::filesystem::path& path, OpenOptions options)
{
    const bool readOnly = options.mode == OpenMode::ReadOnly;
    const std::filesystem::path kvPath =
        options.blockStorePath.empty() ? defaultBlockStorePath(path) : options.blockStorePath;
    for (const auto& p : {path, kvPath})
        if (!looksLikeSqlite(p))
            return std::unexpected(notSqlite(p));
    std::error_code ec;
    if (readOnly && (!std::filesystem::exists(path, ec) || !std::filesystem::exists(kvPath, ec)))
        return std::unexpected(
            Error{ErrorCode::Open, "cannot open " + path.string() + " for reading: it does not exist yet"});

    auto main = openFile(path, !readOnly, options.busyTimeoutMs);
    if (!main)
        return std::unexpected(main.error());
    // Both files are checked before either is written to.
    auto mainVersion = schema::checkVersion(main->get(), schema::libraryMigrations(), path.string());
    if (!mainVersion)
        return std::unexpected(mainVersion.error());
    {
        auto kv = openFile(kvPath, !readOnly, options.busyTimeoutMs);
        if (!kv)
            return std::unexpected(kv.error());
        auto kvVersion = schema::checkVersion(kv->get(), schema::blockStoreMigrations(), kvPath.string());
        if (!kvVersion)
            return std::unexpected(kvVersion.error());
        if (readOnly && (*mainVersion < schemaVersion() || *kvVersion < blockStoreSchemaVersion()))
            return std::unexpected(Error{ErrorCode::Open, path.string() + " has an older schema; open it for "
                                                                          "writing once to upgrade it"});
        if (!readOnly)
            if (auto r = prepareBlockStore(kv->get(), kvPath); !r)
                return std::unexpected(r.error());
    }

    sqlite3* db = main->get();
    if (!readOnly) {
        if (auto r = sql::exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"); !r)
            return std::unexpected(r.error());
    }
    if (auto r = sql::exec(db, "PRAGMA foreign_keys=ON"); !r)
        return std::unexpected(r.error());
    if (!readOnly)
        if (auto r = schema::migrate(db, schema::libraryMigrations(), path.string()); !r)
            return std::unexpected(r.error());
    if (auto r = attachBlockStore(db, kvPath); !r)
        return std::unexpected(r.error());
    if (auto r = detail::registerFtsFunctions(db); !r)
        return std::unexpected(r.error());
    if (readOnly)
        if (auto r = sql::exec(db, "PRAGMA query_only=ON"); !r)
            return std::unexpected(r.error());
    return Database(std::unique_ptr<sqlite3, Closer>(main->release()), path, kvPath, readOnly);
}

std::expected<std::int64_t, Error> Database::createWorkspace(const std::string& name)
{
    static constexpr const char* kInsert = "INSERT INTO workspaces(name, created_unix) VALUES(?1, ?2)";
    auto stmt = sql::prepare(m_db.get(), kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, name);
    stmt->bind(2, sql::unixNow());
    if (auto r = sql::run(m_db.get(), *stmt, "create workspace '" + name + "'"); !r)
        return std::unexpected(r.error());
    return sqlite3_last_insert_rowid(m_db.get());
}

std::expected<std::vector<WorkspaceRow>, Error> Database::workspaces()
{
    static constexpr const char* kSelect = "SELECT id, name, created_unix FROM workspaces ORDER BY id";
    auto stmt = sql::prepare(m_db.get(), kSelect);
    if (!stmt)
        return std::unexpected(stmt.error());
    std::vector<WorkspaceRow> rows;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW)
        rows.push_back({stmt->int64(0), stmt->text(1), stmt->int64(2)});
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::lastError(m_db.get(), "list workspaces"));
    return rows;
}

std::expected<void, Error> Database::removeWorkspace(std::int64_t workspace)
{
    static constexpr const char* kDeleteSnapshots = "DELETE FROM kv.kv_snapshots WHERE workspace_id = ?1";
    static constexpr const char* kDeleteWorkspace = "DELETE FROM workspaces WHERE id = ?1";
    sql::Transaction txn(m_db.get());
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    for (const char* text : {kDeleteSnapshots, kDeleteWorkspace}) {
        auto stmt = sql::prepare(m_db.get(), text);
        if (!stmt)
            return std::unexpected(stmt.error());
        stmt->bind(1, workspace);
        if (auto r = sql::run(m_db.get(), *stmt, "remove workspace"); !r)
            return r;
    }
    return txn.commit();
}

std::expected<std::string, Error> Database::integrityCheck()
{
    std::string result;
    for (const char* pragma : {"PRAGMA main.integrity_check", "PRAGMA kv.integrity_check"}) {
        auto stmt = sql::prepare(m_db.get(), pragma);
        if (!stmt)
            return std::unexpected(stmt.error());
        int rc;
        std::string lines;
        while ((rc = stmt->step()) == SQLITE_ROW) {
            if (!lines.empty())
                lines += '\n';
            lines += stmt->text(0);
        }
        if (rc != SQLITE_DONE)
            return std::unexpected(sql::lastError(m_db.get(), pragma));
        if (lines != "ok") {
            if (!result.empty())
                result += '\n';
            result.append(pragma + 7).append(": ").append(lines);
        }
    }
    return result.empty() ? std::string("ok") : result;
}

} // namespace quire::storage
