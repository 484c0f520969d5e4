#include "sql.h"

#include <cerrno>
#include <chrono>

namespace quire::storage::sql {

namespace {

// SQLite itself reports ENOSPC as SQLITE_FULL, but a write refused for the file-size limit
// (EFBIG) or a quota (EDQUOT) arrives as SQLITE_IOERR_WRITE. Each file keeps the errno of its last
// failed call; ask both files of the connection.
bool writeRefusedForSpace(sqlite3* db)
{
    for (const char* schemaName : {"main", "kv"}) {
        int err = 0;
        if (sqlite3_file_control(db, schemaName, SQLITE_FCNTL_LAST_ERRNO, &err) == SQLITE_OK &&
            (err == ENOSPC || err == EFBIG || err == EDQUOT))
            return true;
    }
    return false;
}

} // namespace

Error errorFromCode(int rc, sqlite3* db, std::string_view what)
{
    ErrorCode code = ErrorCode::Sql;
    switch (rc & 0xFF) {
    case SQLITE_FULL:
        code = ErrorCode::Full;
        break;
    case SQLITE_NOTADB:
        code = ErrorCode::NotADatabase;
        break;
    case SQLITE_CORRUPT:
        code = ErrorCode::Corrupt;
        break;
    case SQLITE_CANTOPEN:
        code = ErrorCode::Open;
        break;
    case SQLITE_IOERR:
        if (db && writeRefusedForSpace(db))
            code = ErrorCode::Full;
        break;
    default:
        break;
    }
    std::string message(what);
    message += ": ";
    message += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (code == ErrorCode::Full)
        message += " (the disk or the library's size limit is full; earlier data is intact)";
    return Error{code, std::move(message)};
}

Error lastError(sqlite3* db, std::string_view what)
{
    return errorFromCode(sqlite3_extended_errcode(db), db, what);
}

std::string Stmt::text(int col) const
{
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(get(), col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(get(), col))) : std::string();
}

std::string Stmt::blob(int col) const
{
    const auto* p = static_cast<const char*>(sqlite3_column_blob(get(), col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(get(), col))) : std::string();
}

std::expected<Stmt, Error> prepare(sqlite3* db, const char* sqlText)
{
    sqlite3_stmt* raw = nullptr;
    if (const int rc = sqlite3_prepare_v2(db, sqlText, -1, &raw, nullptr); rc != SQLITE_OK)
        return std::unexpected(errorFromCode(rc, db, "prepare"));
    return Stmt(raw);
}

std::expected<void, Error> exec(sqlite3* db, const char* sqlText)
{
    char* msg = nullptr;
    if (const int rc = sqlite3_exec(db, sqlText, nullptr, nullptr, &msg); rc != SQLITE_OK) {
        Error e = errorFromCode(sqlite3_extended_errcode(db), db, "exec");
        sqlite3_free(msg);
        return std::unexpected(e);
    }
    return {};
}

std::expected<void, Error> exec(sqlite3* db, const std::string& sqlText)
{
    return exec(db, sqlText.c_str());
}

std::expected<void, Error> run(sqlite3* db, Stmt& stmt, std::string_view what)
{
    int rc;
    while ((rc = stmt.step()) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
        Error e = errorFromCode(rc, db, what);
        stmt.reset();
        return std::unexpected(e);
    }
    stmt.reset();
    return {};
}

std::expected<std::int64_t, Error> queryInt(sqlite3* db, const char* sqlText)
{
    auto stmt = prepare(db, sqlText);
    if (!stmt)
        return std::unexpected(stmt.error());
    const int rc = stmt->step();
    if (rc == SQLITE_ROW)
        return stmt->int64(0);
    if (rc == SQLITE_DONE)
        return 0;
    return std::unexpected(errorFromCode(rc, db, sqlText));
}

Transaction::Transaction(sqlite3* db)
    : m_db(db), m_nested(sqlite3_get_autocommit(db) == 0),
      m_begun(exec(db, m_nested ? "SAVEPOINT quire_nested" : "BEGIN IMMEDIATE"))
{
    m_open = m_begun.has_value();
}

Transaction::~Transaction()
{
    if (m_open)
        rollback();
}

void Transaction::rollback()
{
    // After some errors (SQLITE_FULL, SQLITE_IOERR) SQLite has already rolled back on its own.
    if (!sqlite3_get_autocommit(m_db))
        sqlite3_exec(m_db, m_nested ? "ROLLBACK TO quire_nested; RELEASE quire_nested" : "ROLLBACK", nullptr,
                     nullptr, nullptr);
    m_open = false;
}

std::expected<void, Error> Transaction::commit()
{
    if (!m_open)
        return std::unexpected(m_begun ? Error{ErrorCode::Sql, "commit without an open transaction"}
                                       : m_begun.error());
    auto r = exec(m_db, m_nested ? "RELEASE quire_nested" : "COMMIT");
    if (!r) {
        rollback();
        return r;
    }
    m_open = false;
    return {};
}

ReadTransaction::ReadTransaction(sqlite3* db) : m_db(db)
{
    if (sqlite3_get_autocommit(db))
        m_own = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK;
}

ReadTransaction::~ReadTransaction()
{
    if (m_own && !sqlite3_get_autocommit(m_db))
        sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr);
}

std::int64_t unixNow()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace quire::storage::sql
