// WorkspaceService: workspaces and their sources for the GUI and the CLI. Every call returns a
// request id at once and the work runs on the service's own thread (a worker QObject on a
// QThread, WorkerThread); results, progress and failures come back as queued signals carrying
// values, tagged with the request id. cancel(id) (or cancel() for all) stops an ingest at the
// next file or block; what was stored stays stored.
//
// Threads: create, call and destroy on one thread (the UI thread, or the CLI's main thread).
// Destruction cancels what is running and waits for the worker thread.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>
#include <set>

#include "quire/app/service_types.h"
#include "quire/app/worker_thread.h"

namespace quire::app {

class WorkspaceWorker;

class WorkspaceService : public QObject {
    Q_OBJECT
public:
    explicit WorkspaceService(ServiceConfig config, QObject* parent = nullptr);
    ~WorkspaceService() override;

    quint64 createWorkspace(const QString& name, const QString& preset = QStringLiteral("general"));
    quint64 listWorkspaces();
    quint64 listSources(const QString& workspace);
    // Adds files or folders to the workspace's inputs and ingests; ingest() rescans the inputs.
    quint64 addSources(const QString& workspace, const QStringList& paths);
    quint64 ingest(const QString& workspace);
    quint64 removeSources(const QString& workspace, const QStringList& paths);
    quint64 removeWorkspace(const QString& workspace);
    quint64 configure(const QString& workspace, const std::optional<QString>& preset,
                      const std::set<int>& exclude, const std::set<int>& include);
    void cancel(quint64 id = 0);

signals:
    void workspaceCreated(quint64 id, const quire::app::WorkspaceSummary& workspace);
    void workspacesListed(quint64 id, const std::vector<quire::app::WorkspaceSummary>& workspaces);
    void sourcesListed(quint64 id, const quire::app::WorkspaceListing& listing);
    void ingestProgress(quint64 id, const quire::ingest::IngestProgress& progress);
    void ingestFinished(quint64 id, const quire::app::IngestReport& report);
    void sourcesRemoved(quint64 id, int count);
    void workspaceRemoved(quint64 id);
    void configured(quint64 id, const quire::app::WorkspaceSummary& workspace);
    void failed(quint64 id, const QString& message);

private:
    quint64 post(WorkerThread<WorkspaceWorker>::Job job) { return m_thread->post(std::move(job)); }
    std::unique_ptr<WorkerThread<WorkspaceWorker>> m_thread;
};

// Lives on the service's thread; its signals are connected (queued) to the service's.
class WorkspaceWorker : public QObject {
    Q_OBJECT
public:
    explicit WorkspaceWorker(ServiceConfig config) : m_config(std::move(config)) {}
    // The worker thread's read connection, opened on first use.
    std::expected<storage::Database*, std::string> db();
    const ServiceConfig& config() const { return m_config; }

signals:
    void workspaceCreated(quint64 id, const quire::app::WorkspaceSummary& workspace);
    void workspacesListed(quint64 id, const std::vector<quire::app::WorkspaceSummary>& workspaces);
    void sourcesListed(quint64 id, const quire::app::WorkspaceListing& listing);
    void ingestProgress(quint64 id, const quire::ingest::IngestProgress& progress);
    void ingestFinished(quint64 id, const quire::app::IngestReport& report);
    void sourcesRemoved(quint64 id, int count);
    void workspaceRemoved(quint64 id);
    void configured(quint64 id, const quire::app::WorkspaceSummary& workspace);
    void failed(quint64 id, const QString& message);

private:
    ServiceConfig m_config;
    std::optional<storage::Database> m_db;
};

} // namespace quire::app
