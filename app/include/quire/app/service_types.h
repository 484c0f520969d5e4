// Values the services send through queued signals (copied between threads; no pointers into a
// worker's state), and the configuration every service is built from (passed down from main()).
#pragma once

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <atomic>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "quire/app/answer_engine.h"
#include "quire/app/budget.h"
#include "quire/ingest/ingestor.h"
#include "quire/storage/database.h"
#include "quire/storage/search.h"
#include "quire/storage/writer_thread.h"

namespace quire::app {

// What every service needs: where the data lives and the one writer thread of the library.
struct ServiceConfig {
    QString dataDir;
    QString libraryPath;
    std::shared_ptr<storage::WriterThread> writer;
    ingest::IngestOptions ingest;
    EngineOptions engine;
};

// A worker's read connection to the library, opened on first use in `slot` (ReadOnly: writes go
// through the writer thread). Call on the worker's thread.
std::expected<storage::Database*, std::string> readConnection(std::optional<storage::Database>& slot,
                                                              const QString& libraryPath);

struct WorkspaceSummary {
    std::int64_t id = 0;
    std::string name;
    std::string preset;
    std::int64_t createdUnix = 0;
    int sources = 0;
    int documents = 0;
    int excluded = 0;
    std::int64_t estimatedTokens = 0;
    std::vector<std::string> inputs;
};

struct SourceLine {
    SourceBudget budget; // number, path, kind, status, estimate, exclusion, note
    std::string displayPath;
    int segments = 0;
};

struct WorkspaceListing {
    WorkspaceSummary summary;
    std::vector<SourceLine> sources;
};

struct IngestReport {
    std::int64_t workspace = 0;
    std::size_t scanned = 0;   // files found
    std::size_t unchanged = 0; // same size and time as stored: not extracted again
    std::size_t ingested = 0, partial = 0, quarantined = 0, skipped = 0;
    std::size_t removed = 0;  // stored sources whose files are gone
    std::size_t numbered = 0; // new documents appended to the context order
    bool cancelled = false;
    std::vector<std::string> problems; // "path: reason" for partial, quarantined, skipped
};

struct BudgetResult {
    WorkspaceSummary workspace;
    BudgetReport report;
    std::string modelName;
    std::string backend;
    std::string prefixCache;
};

struct PrefillResult {
    WorkspaceSummary workspace;
    PrefillStats stats;
};

struct AnswerRecord {
    std::int64_t workspace = 0;
    std::int64_t session = 0;
    std::int64_t turn = 0;
    AnswerOutcome outcome;
    std::shared_ptr<const SourceMap> map; // what the citations' segment indices point into
    std::string citationsJson;            // as stored with the turn
};

struct SearchResultLine {
    storage::SearchHit hit;
    int docNumber = 0; // 0 when the layout does not know the document
    std::string mark;  // "[doc 3 L4-9]"
};

} // namespace quire::app

Q_DECLARE_METATYPE(quire::app::WorkspaceSummary)
Q_DECLARE_METATYPE(quire::app::WorkspaceListing)
Q_DECLARE_METATYPE(quire::app::IngestReport)
Q_DECLARE_METATYPE(quire::ingest::IngestProgress)
Q_DECLARE_METATYPE(quire::app::BudgetResult)
Q_DECLARE_METATYPE(quire::app::PrefillResult)
Q_DECLARE_METATYPE(quire::app::AnswerRecord)
Q_DECLARE_METATYPE(std::vector<quire::app::WorkspaceSummary>)
Q_DECLARE_METATYPE(std::vector<quire::app::SearchResultLine>)
