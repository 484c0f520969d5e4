// Sessions and turns: a session is one line of questioning over a workspace under one model
// (its fingerprint) and, once prefilled, a KV snapshot (block_store.h) it resumes from; a turn
// is one question with its answer, citations (JSON text, as app writes them) and timings.
//
// Ownership and threads: borrows a Database; use it on that connection's thread. Writes go
// through the writer thread.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "quire/storage/database.h"
#include "quire/storage/error.h"

namespace quire::storage {

struct SessionRow {
    std::int64_t id = 0;
    std::int64_t workspace = 0;
    std::string name;
    std::string modelFingerprint;         // opaque bytes from the engine
    std::optional<std::int64_t> snapshot; // BlockStore snapshot id; empty before the first prefill
    std::int64_t createdUnix = 0;
    std::int64_t updatedUnix = 0;
    std::int64_t turnCount = 0;
};

struct TurnTimings {
    std::optional<std::int64_t> promptTokens;
    std::optional<std::int64_t> answerTokens;
    std::optional<std::int64_t> prefillMs;    // prefill of the question (and any new context)
    std::optional<std::int64_t> firstTokenMs; // from submit to the first answer token
    std::optional<std::int64_t> totalMs;
    bool operator==(const TurnTimings&) const = default;
};

struct Turn {
    std::int64_t id = 0;      // set when stored
    std::int64_t session = 0; // set when stored
    int ordinal = 0;          // 0, 1, 2 ... in the session; set when stored
    std::string question;
    std::string answer;
    std::string citationsJson = "[]";
    TurnTimings timings;
    std::int64_t createdUnix = 0;
};

class Conversations {
public:
    explicit Conversations(Database& db) : m_db(db) {}

    std::expected<std::int64_t, Error> createSession(std::int64_t workspace, const std::string& name,
                                                     const std::string& modelFingerprint,
                                                     std::optional<std::int64_t> snapshot = std::nullopt);
    // Points the session at another snapshot (after a prefill or a branch); nullopt clears it.
    // A snapshot id that does not exist gives ErrorCode::NotFound.
    std::expected<void, Error> setSessionSnapshot(std::int64_t session, std::optional<std::int64_t> snapshot);
    std::expected<std::vector<SessionRow>, Error> sessions(std::int64_t workspace);
    std::expected<SessionRow, Error> session(std::int64_t session);
    std::expected<void, Error> removeSession(std::int64_t session);

    // Appends a turn at the end of the session; returns the stored turn (id, ordinal, time set).
    std::expected<Turn, Error> addTurn(std::int64_t session, const Turn& turn);
    std::expected<std::vector<Turn>, Error> turns(std::int64_t session);

private:
    Database& m_db;
};

} // namespace quire::storage
