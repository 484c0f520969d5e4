#include "quire/app/workspace_service.h"

#include "quire/app/workspace_ops.h"

namespace quire::app {

namespace {
std::vector<std::string> toStd(const QStringList& l)
{
    std::vector<std::string> out;
    for (const auto& s : l)
        out.push_back(s.toStdString());
    return out;
}
} // namespace

std::expected<storage::Database*, std::string> WorkspaceWorker::db()
{
    return readConnection(m_db, m_config.libraryPath);
}

WorkspaceService::WorkspaceService(ServiceConfig config, QObject* parent)
    : QObject(parent),
      m_thread(std::make_unique<WorkerThread<WorkspaceWorker>>("quire-workspace", std::move(config)))
{
    auto* w = m_thread->worker();
    connect(w, &WorkspaceWorker::workspaceCreated, this, &WorkspaceService::workspaceCreated);
    connect(w, &WorkspaceWorker::workspacesListed, this, &WorkspaceService::workspacesListed);
    connect(w, &WorkspaceWorker::sourcesListed, this, &WorkspaceService::sourcesListed);
    connect(w, &WorkspaceWorker::ingestProgress, this, &WorkspaceService::ingestProgress);
    connect(w, &WorkspaceWorker::ingestFinished, this, &WorkspaceService::ingestFinished);
    connect(w, &WorkspaceWorker::sourcesRemoved, this, &WorkspaceService::sourcesRemoved);
    connect(w, &WorkspaceWorker::workspaceRemoved, this, &WorkspaceService::workspaceRemoved);
    connect(w, &WorkspaceWorker::configured, this, &WorkspaceService::configured);
    connect(w, &WorkspaceWorker::failed, this, &WorkspaceService::failed);
}

WorkspaceService::~WorkspaceService() = default;

void WorkspaceService::cancel(quint64 id)
{
    m_thread->cancel(id);
}

quint64 WorkspaceService::createWorkspace(const QString& name, const QString& preset)
{
    return post([name = name.toStdString(), preset = preset.toStdString()](WorkspaceWorker& w, quint64 id,
                                                                           const std::atomic<bool>*) {
        auto r = app::createWorkspace(*w.config().writer, w.config().dataDir, name, preset);
        if (!r)
            emit w.failed(id, QString::fromStdString(r.error()));
        else
            emit w.workspaceCreated(id, *r);
    });
}

quint64 WorkspaceService::listWorkspaces()
{
    return post([](WorkspaceWorker& w, quint64 id, const std::atomic<bool>*) {
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        auto r = app::listWorkspaces(**db, w.config().dataDir);
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error()));
        emit w.workspacesListed(id, *r);
    });
}

quint64 WorkspaceService::listSources(const QString& workspace)
{
    return post([ws = workspace.toStdString()](WorkspaceWorker& w, quint64 id, const std::atomic<bool>*) {
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        auto r = app::listSources(**db, w.config().dataDir, ws);
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error()));
        emit w.sourcesListed(id, *r);
    });
}

quint64 WorkspaceService::addSources(const QString& workspace, const QStringList& paths)
{
    return post([ws = workspace.toStdString(), paths = toStd(paths)](WorkspaceWorker& w, quint64 id,
                                                                     const std::atomic<bool>* cancel) {
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        auto r = ingestWorkspace(
            **db, *w.config().writer, w.config().dataDir, ws, paths, w.config().ingest,
            [&](const ingest::IngestProgress& p) { emit w.ingestProgress(id, p); }, cancel);
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error()));
        emit w.ingestFinished(id, *r);
    });
}

quint64 WorkspaceService::ingest(const QString& workspace)
{
    return addSources(workspace, {});
}

quint64 WorkspaceService::removeSources(const QString& workspace, const QStringList& paths)
{
    return post([ws = workspace.toStdString(), paths = toStd(paths)](WorkspaceWorker& w, quint64 id,
                                                                     const std::atomic<bool>*) {
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        auto r = app::removeSources(**db, *w.config().writer, w.config().dataDir, ws, paths);
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error()));
        emit w.sourcesRemoved(id, int(*r));
    });
}

quint64 WorkspaceService::removeWorkspace(const QString& workspace)
{
    return post([ws = workspace.toStdString()](WorkspaceWorker& w, quint64 id, const std::atomic<bool>*) {
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        auto r = app::removeWorkspace(**db, *w.config().writer, w.config().dataDir, ws);
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error()));
        emit w.workspaceRemoved(id);
    });
}

quint64 WorkspaceService::configure(const QString& workspace, const std::optional<QString>& preset,
                                    const std::set<int>& exclude, const std::set<int>& include)
{
    std::optional<std::string> p;
    if (preset)
        p = preset->toStdString();
    return post([ws = workspace.toStdString(), p, exclude, include](WorkspaceWorker& w, quint64 id,
                                                                    const std::atomic<bool>*) {
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        auto r = configureWorkspace(**db, w.config().dataDir, ws, p, exclude, include);
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error()));
        emit w.configured(id, *r);
    });
}

} // namespace quire::app
