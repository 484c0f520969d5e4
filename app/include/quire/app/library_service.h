// LibraryService: what the GUI reads from the library besides workspaces and sources: one stored
// document with its segments (the document viewer), the workspace's KV snapshots (the snapshots
// panel, over storage::BlockStore's listing) and its question sessions (history, export). Like the other
// services it works on its own thread with its own read connection; writes (deleting a snapshot)
// go through the writer thread. Calls return a request id; results come back as queued signals.
//
// Branching gives a snapshot a second name pointing at the same blocks (nothing is copied);
// deleting one also collects the blocks no snapshot uses any more. Restoring needs the engine, so
// it is AnswerService::restoreSnapshot() (a prefill or a question also restores the longest
// stored prefix of the workspace's context by itself, kv_snapshots.h).
//
// Threads: create, call and destroy on one thread (the UI thread).
#pragma once

#include <QObject>
#include <QString>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "quire/app/service_types.h"
#include "quire/app/worker_thread.h"
#include "quire/storage/block_store.h"
#include "quire/storage/conversations.h"

namespace quire::app {

class LibraryWorker;

struct DocumentContent {
    std::int64_t documentId = 0;
    std::string path; // the source file
    std::string title;
    ingest::SourceKind kind = ingest::SourceKind::Unknown;
    std::vector<ingest::Segment> segments; // in document order, anchors set
};

struct SnapshotListing {
    std::int64_t workspace = 0;
    std::vector<storage::SnapshotRow> snapshots; // newest first
};

// The latest question session of a workspace with its turns (empty before the first question).
struct SessionHistory {
    std::int64_t workspace = 0;
    storage::SessionRow session;
    std::vector<storage::Turn> turns;
};

struct SessionListing {
    std::int64_t workspace = 0;
    std::vector<storage::SessionRow> sessions; // newest first
};

class LibraryService : public QObject {
    Q_OBJECT
public:
    explicit LibraryService(ServiceConfig config, QObject* parent = nullptr);
    ~LibraryService() override;

    quint64 document(std::int64_t documentId);
    quint64 snapshots(const QString& workspace);
    quint64 removeSnapshot(std::int64_t snapshotId);
    quint64 branchSnapshot(std::int64_t snapshotId, const QString& name);
    quint64 sessions(const QString& workspace);
    quint64 history(const QString& workspace);
    // The session (0: the latest of the workspace) as Markdown (answer_json.h's exportMarkdown).
    quint64 exportSession(const QString& workspace, std::int64_t session = 0);

signals:
    void documentLoaded(quint64 id, const quire::app::DocumentContent& document);
    void snapshotsListed(quint64 id, const quire::app::SnapshotListing& listing);
    void snapshotRemoved(quint64 id, qint64 snapshotId);
    void snapshotBranched(quint64 id, qint64 snapshotId, const QString& name);
    void sessionsListed(quint64 id, const quire::app::SessionListing& listing);
    void historyLoaded(quint64 id, const quire::app::SessionHistory& history);
    void sessionExported(quint64 id, const QString& markdown, int turns);
    void failed(quint64 id, const QString& message);

private:
    quint64 post(std::function<void(LibraryWorker&, quint64)> job);
    std::unique_ptr<WorkerThread<LibraryWorker>> m_thread;
};

class LibraryWorker : public QObject {
    Q_OBJECT
public:
    explicit LibraryWorker(ServiceConfig config) : m_config(std::move(config)) {}
    std::expected<storage::Database*, std::string> db();
    // The read connection and the named workspace; on failure failed(id, …) is emitted.
    std::optional<std::pair<storage::Database*, storage::WorkspaceRow>> openWorkspace(quint64 id,
                                                                                      const std::string& workspace);
    const ServiceConfig& config() const { return m_config; }

signals:
    void documentLoaded(quint64 id, const quire::app::DocumentContent& document);
    void snapshotsListed(quint64 id, const quire::app::SnapshotListing& listing);
    void snapshotRemoved(quint64 id, qint64 snapshotId);
    void snapshotBranched(quint64 id, qint64 snapshotId, const QString& name);
    void sessionsListed(quint64 id, const quire::app::SessionListing& listing);
    void historyLoaded(quint64 id, const quire::app::SessionHistory& history);
    void sessionExported(quint64 id, const QString& markdown, int turns);
    void failed(quint64 id, const QString& message);

private:
    ServiceConfig m_config;
    std::optional<storage::Database> m_db;
};

} // namespace quire::app

Q_DECLARE_METATYPE(quire::app::DocumentContent)
Q_DECLARE_METATYPE(quire::app::SnapshotListing)
Q_DECLARE_METATYPE(quire::app::SessionListing)
Q_DECLARE_METATYPE(quire::app::SessionHistory)
