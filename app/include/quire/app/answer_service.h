// AnswerService: the token budget, prefill and questions for the GUI and the CLI. It owns the
// engine (one model, one session: the KV of the workspace context last prefilled) on its own
// thread; calls return a request id at once, and progress, streamed answer text, results and
// failures come back as queued signals tagged with it. cancel(id) stops a prefill at the next
// block and an answer at the next token.
//
// The model is loaded on first need. The assembled context of a workspace is cached while its
// documents, order, exclusions and preset stay the same. A context that does not fit the model's
// window is refused with a message; nothing is cut. Each answer is stored as a turn of a session
// (question, answer, citations JSON with verification, timings).
//
// Threads: create, call and destroy on one thread. Destruction cancels and waits.
#pragma once

#include <QObject>
#include <QString>

#include <map>
#include <memory>
#include <optional>

#include "quire/app/service_types.h"
#include "quire/app/worker_thread.h"
#include "quire/app/workspace_content.h"

namespace quire::app {

class AnswerWorker;

struct AskRequest {
    QString workspace;
    QString question;
    std::int64_t session = 0; // 0: the workspace's latest session for this model, else a new one
    bool newSession = false;
    int maxTokens = 200;
};

class AnswerService : public QObject {
    Q_OBJECT
public:
    explicit AnswerService(ServiceConfig config, QObject* parent = nullptr);
    ~AnswerService() override;

    // measure: when no prefill speed was measured for this model yet, prefill the first few
    // hundred tokens to measure it (they stay in the session).
    quint64 budget(const QString& workspace, bool measure = true);
    quint64 prefill(const QString& workspace);
    quint64 ask(const AskRequest& request);
    // Loads the workspace's named KV snapshot into the engine's session (checks the model).
    // Reports prefillProgress(id, tokens held, snapshot tokens) after each block; cancel(id)
    // stops between blocks (failed(..., Cancelled), the session keeps what was imported).
    quint64 restoreSnapshot(const QString& workspace, const QString& name);
    void cancel(quint64 id = 0);

    // Exit-code-like classes of failure, for the CLI.
    enum FailureKind { General = 1, Model = 2, DoesNotFit = 3, Cancelled = 4 };

signals:
    void modelLoaded(quint64 id, const QString& name, int contextWindow);
    void budgetReady(quint64 id, const quire::app::BudgetResult& result);
    void prefillProgress(quint64 id, qint64 done, qint64 total);
    void prefilled(quint64 id, const quire::app::PrefillResult& result);
    void answerText(quint64 id, const QString& text);
    void answered(quint64 id, const quire::app::AnswerRecord& record);
    void snapshotRestored(quint64 id, const QString& message, qint64 heldTokens);
    void failed(quint64 id, const QString& message, int kind);

private:
    quint64 post(WorkerThread<AnswerWorker>::Job job) { return m_thread->post(std::move(job)); }
    std::unique_ptr<WorkerThread<AnswerWorker>> m_thread;
};

class AnswerWorker : public QObject {
    Q_OBJECT
public:
    explicit AnswerWorker(ServiceConfig config) : m_config(std::move(config)) {}

    void budget(quint64 id, const std::string& workspace, bool measure, const std::atomic<bool>* cancel);
    void prefill(quint64 id, const std::string& workspace, const std::atomic<bool>* cancel);
    void ask(quint64 id, const AskRequest& request, const std::atomic<bool>* cancel);
    void restoreSnapshot(quint64 id, const std::string& workspace, const std::string& name,
                         const std::atomic<bool>* cancel);

signals:
    void modelLoaded(quint64 id, const QString& name, int contextWindow);
    void budgetReady(quint64 id, const quire::app::BudgetResult& result);
    void prefillProgress(quint64 id, qint64 done, qint64 total);
    void prefilled(quint64 id, const quire::app::PrefillResult& result);
    void answerText(quint64 id, const QString& text);
    void answered(quint64 id, const quire::app::AnswerRecord& record);
    void snapshotRestored(quint64 id, const QString& message, qint64 heldTokens);
    void failed(quint64 id, const QString& message, int kind);

private:
    struct Prepared {
        WorkspaceContent content;
        Preset preset;
        std::shared_ptr<const AssembledContext> context;
    };
    std::expected<storage::Database*, std::string> db();
    bool ensureEngine(quint64 id);
    std::optional<Prepared> prepare(quint64 id, const std::string& workspace,
                                    const std::atomic<bool>* cancel);
    void fail(quint64 id, const std::string& message, int kind = AnswerService::General);
    void failEngine(quint64 id, const EngineError& e);
    void recordThroughput(const PrefillStats& stats);

    ServiceConfig m_config;
    std::optional<storage::Database> m_db;
    std::unique_ptr<AnswerEngine> m_engine;
    std::string m_contextKey; // what m_context was assembled from
    std::shared_ptr<const AssembledContext> m_context;
};

// Prefill speed measured per model fingerprint, kept in <data>/throughput.json.
struct Throughput {
    double tokensPerSecond = 0;
    std::int64_t tokens = 0; // how many tokens the measurement covered
    std::int64_t measuredUnix = 0;
};
std::optional<Throughput> loadThroughput(const QString& dataDir, const std::string& fingerprint);
void saveThroughput(const QString& dataDir, const std::string& fingerprint, const Throughput& t);

} // namespace quire::app
