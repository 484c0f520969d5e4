#include "quire/storage/conversations.h"

#include "sql.h"

namespace quire::storage {

namespace {

std::expected<bool, Error> snapshotExists(sqlite3* db, std::int64_t snapshot)
{
    auto stmt = sql::prepare(db, "SELECT 1 FROM kv.kv_snapshots WHERE id = ?1");
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, snapshot);
    const int rc = stmt->step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, db, "look up snapshot"));
    return rc == SQLITE_ROW;
}

std::expected<void, Error> checkSnapshot(sqlite3* db, std::optional<std::int64_t> snapshot)
{
    if (!snapshot)
        return {};
    auto exists = snapshotExists(db, *snapshot);
    if (!exists)
        return std::unexpected(exists.error());
    if (!*exists)
        return std::unexpected(Error{ErrorCode::NotFound, "no KV snapshot " + std::to_string(*snapshot)});
    return {};
}

constexpr const char* kSessionSelect = R"sql(
SELECT s.id, s.workspace_id, s.name, s.model_fingerprint, s.snapshot_id, s.created_unix, s.updated_unix,
       (SELECT count(*) FROM turns t WHERE t.session_id = s.id)
FROM sessions s)sql";

SessionRow readSession(const sql::Stmt& s)
{
    return SessionRow{s.int64(0),    s.int64(1), s.text(2),  s.blob(3),
                      s.optInt64(4), s.int64(5), s.int64(6), s.int64(7)};
}

} // namespace

std::expected<std::int64_t, Error> Conversations::createSession(std::int64_t workspace,
                                                                const std::string& name,
                                                                const std::string& modelFingerprint,
                                                                std::optional<std::int64_t> snapshot)
{
    static constexpr const char* kInsert = "INSERT INTO sessions(workspace_id, name, model_fingerprint, "
                                           "snapshot_id, created_unix, updated_unix) "
                                           "VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
    sqlite3* db = m_db.handle();
    if (auto r = checkSnapshot(db, snapshot); !r)
        return std::unexpected(r.error());
    auto stmt = sql::prepare(db, kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    stmt->bind(2, name);
    stmt->bindBlob(3, modelFingerprint);
    stmt->bind(4, snapshot);
    stmt->bind(5, sql::unixNow());
    if (auto r = sql::run(db, *stmt, "create session '" + name + "'"); !r)
        return std::unexpected(r.error());
    return sqlite3_last_insert_rowid(db);
}

std::expected<void, Error> Conversations::setSessionSnapshot(std::int64_t session,
                                                             std::optional<std::int64_t> snapshot)
{
    static constexpr const char* kUpdate =
        "UPDATE sessions SET snapshot_id = ?2, updated_unix = ?3 WHERE id = ?1";
    sqlite3* db = m_db.handle();
    if (auto r = checkSnapshot(db, snapshot); !r)
        return r;
    auto stmt = sql::prepare(db, kUpdate);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, session);
    stmt->bind(2, snapshot);
    stmt->bind(3, sql::unixNow());
    if (auto r = sql::run(db, *stmt, "set session snapshot"); !r)
        return r;
    if (sqlite3_changes(db) == 0)
        return std::unexpected(Error{ErrorCode::NotFound, "no session " + std::to_string(session)});
    return {};
}

std::expected<std::vector<SessionRow>, Error> Conversations::sessions(std::int64_t workspace)
{
    static const std::string kSelect =
        std::string(kSessionSelect) + " WHERE s.workspace_id = ?1 ORDER BY s.id";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, workspace);
    std::vector<SessionRow> rows;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW)
        rows.push_back(readSession(*stmt));
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, m_db.handle(), "list sessions"));
    return rows;
}

std::expected<SessionRow, Error> Conversations::session(std::int64_t session)
{
    static const std::string kSelect = std::string(kSessionSelect) + " WHERE s.id = ?1";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, session);
    const int rc = stmt->step();
    if (rc == SQLITE_ROW)
        return readSession(*stmt);
    if (rc == SQLITE_DONE)
        return std::unexpected(Error{ErrorCode::NotFound, "no session " + std::to_string(session)});
    return std::unexpected(sql::errorFromCode(rc, m_db.handle(), "read session"));
}

std::expected<void, Error> Conversations::removeSession(std::int64_t session)
{
    auto stmt = sql::prepare(m_db.handle(), "DELETE FROM sessions WHERE id = ?1");
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, session);
    return sql::run(m_db.handle(), *stmt, "remove session");
}

std::expected<Turn, Error> Conversations::addTurn(std::int64_t session, const Turn& turn)
{
    static constexpr const char* kInsert = R"sql(
INSERT INTO turns(session_id, ordinal, question, answer, citations_json, prompt_tokens, answer_tokens,
                  prefill_ms, first_token_ms, total_ms, created_unix)
VALUES (?1, (SELECT coalesce(max(ordinal) + 1, 0) FROM turns WHERE session_id = ?1),
        ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
RETURNING id, ordinal)sql";
    static constexpr const char* kTouch = "UPDATE sessions SET updated_unix = ?2 WHERE id = ?1";
    sqlite3* db = m_db.handle();
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    auto stmt = sql::prepare(db, kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    Turn stored = turn;
    stored.session = session;
    stored.createdUnix = sql::unixNow();
    stmt->bind(1, session);
    stmt->bind(2, turn.question);
    stmt->bind(3, turn.answer);
    stmt->bind(4, turn.citationsJson.empty() ? std::string("[]") : turn.citationsJson);
    stmt->bind(5, turn.timings.promptTokens);
    stmt->bind(6, turn.timings.answerTokens);
    stmt->bind(7, turn.timings.prefillMs);
    stmt->bind(8, turn.timings.firstTokenMs);
    stmt->bind(9, turn.timings.totalMs);
    stmt->bind(10, stored.createdUnix);
    if (const int rc = stmt->step(); rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "store turn"));
    stored.id = stmt->int64(0);
    stored.ordinal = stmt->int32(1);
    stmt->reset();
    auto touch = sql::prepare(db, kTouch);
    if (!touch)
        return std::unexpected(touch.error());
    touch->bind(1, session);
    touch->bind(2, stored.createdUnix);
    if (auto r = sql::run(db, *touch, "update session"); !r)
        return std::unexpected(r.error());
    if (auto r = txn.commit(); !r)
        return std::unexpected(r.error());
    return stored;
}

std::expected<std::vector<Turn>, Error> Conversations::turns(std::int64_t session)
{
    static constexpr const char* kSelect = R"sql(
SELECT id, session_id, ordinal, question, answer, citations_json, prompt_tokens, answer_tokens,
       prefill_ms, first_token_ms, total_ms, created_unix
FROM turns WHERE session_id = ?1 ORDER BY ordinal)sql";
    auto stmt = sql::prepare(m_db.handle(), kSelect);
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, session);
    std::vector<Turn> rows;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
        Turn t;
        t.id = stmt->int64(0);
        t.session = stmt->int64(1);
        t.ordinal = stmt->int32(2);
        t.question = stmt->text(3);
        t.answer = stmt->text(4);
        t.citationsJson = stmt->text(5);
        t.timings = {stmt->optInt64(6), stmt->optInt64(7), stmt->optInt64(8), stmt->optInt64(9),
                     stmt->optInt64(10)};
        t.createdUnix = stmt->int64(11);
        rows.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, m_db.handle(), "list turns"));
    return rows;
}

} // namespace quire::storage
