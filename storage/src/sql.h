// Small RAII helpers over the SQLite C API, private to the storage module: prepared statements,
// one-shot execution, binding, column reads, an IMMEDIATE transaction guard and the mapping of
// SQLite result codes onto storage::Error.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "quire/storage/error.h"

namespace quire::storage::sql {

// Maps the connection's last error onto an Error; SQLITE_FULL becomes ErrorCode::Full.
Error lastError(sqlite3* db, std::string_view what);
Error errorFromCode(int rc, sqlite3* db, std::string_view what);

struct StmtDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

// A prepared statement. Bind indices are 1-based as in SQL (?1, ?2, ...).
class Stmt {
public:
    Stmt() = default;
    explicit Stmt(sqlite3_stmt* s) : m_stmt(s) {}
    sqlite3_stmt* get() const { return m_stmt.get(); }

    void bind(int i, std::int64_t v) { sqlite3_bind_int64(get(), i, v); }
    void bind(int i, int v) { sqlite3_bind_int64(get(), i, v); }
    void bind(int i, double v) { sqlite3_bind_double(get(), i, v); }
    void bind(int i, std::string_view text)
    {
        sqlite3_bind_text64(get(), i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    }
    void bind(int i, const char* text) { bind(i, std::string_view(text)); }
    void bind(int i, const std::string& text) { bind(i, std::string_view(text)); }
    void bindBlob(int i, std::string_view bytes)
    {
        // A zero-length blob must still be a BLOB, not NULL: pass a non-null pointer.
        sqlite3_bind_blob64(get(), i, bytes.empty() ? "" : bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    }
    void bindNull(int i) { sqlite3_bind_null(get(), i); }
    template <class T> void bind(int i, const std::optional<T>& v)
    {
        if (v)
            bind(i, *v);
        else
            bindNull(i);
    }

    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(get()); }
    void reset()
    {
        sqlite3_reset(get());
        sqlite3_clear_bindings(get());
    }

    std::int64_t int64(int col) const { return sqlite3_column_int64(get(), col); }
    int int32(int col) const { return sqlite3_column_int(get(), col); }
    double real(int col) const { return sqlite3_column_double(get(), col); }
    bool isNull(int col) const { return sqlite3_column_type(get(), col) == SQLITE_NULL; }
    std::string text(int col) const;
    std::string blob(int col) const;
    std::optional<std::int64_t> optInt64(int col) const
    {
        return isNull(col) ? std::nullopt : std::optional<std::int64_t>(int64(col));
    }

private:
    std::unique_ptr<sqlite3_stmt, StmtDeleter> m_stmt;
};

std::expected<Stmt, Error> prepare(sqlite3* db, const char* sqlText);
std::expected<void, Error> exec(sqlite3* db, const char* sqlText);
std::expected<void, Error> exec(sqlite3* db, const std::string& sqlText);

// Runs a statement that returns no rows (or whose rows are ignored) to completion.
std::expected<void, Error> run(sqlite3* db, Stmt& stmt, std::string_view what);

// One integer from a one-row query such as "PRAGMA user_version".
std::expected<std::int64_t, Error> queryInt(sqlite3* db, const char* sqlText);

// BEGIN IMMEDIATE on construction (check begun()); rolls back on destruction unless committed. A
// failed COMMIT (disk full) is rolled back too, so the connection is always usable afterwards.
// Inside another transaction it is a SAVEPOINT instead: commit() releases it into the outer
// transaction, and rolling back undoes only its own writes.
class Transaction {
public:
    explicit Transaction(sqlite3* db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    const std::expected<void, Error>& begun() const { return m_begun; }
    std::expected<void, Error> commit();

private:
    void rollback();
    sqlite3* m_db;
    bool m_nested;
    std::expected<void, Error> m_begun;
    bool m_open = false;
};

// A deferred read transaction (BEGIN ... COMMIT), so several statements see one state of the
// files. Does nothing when the connection is already inside a transaction.
class ReadTransaction {
public:
    explicit ReadTransaction(sqlite3* db);
    ~ReadTransaction();
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

private:
    sqlite3* m_db;
    bool m_own = false;
};

std::int64_t unixNow();

} // namespace quire::storage::sql
