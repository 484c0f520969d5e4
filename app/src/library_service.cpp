#include "quire/app/library_service.h"

#include <algorithm>

#include "quire/app/answer_json.h"
#include "quire/app/workspace_content.h"
#include "quire/storage/catalog.h"

namespace quire::app {

namespace {

std::string resolveSession(storage::Conversations& conv, std::int64_t workspace, std::int64_t wanted,
                           storage::SessionRow& out)
{
    auto all = conv.sessions(workspace);
    if (!all)
        return all.error().message;
    if (all->empty())
        return "the workspace has no session yet (ask a question first)";
    std::int64_t best = 0;
    for (const auto& s : *all) {
        if ((wanted > 0 && s.id == wanted) || (wanted == 0 && s.id > best)) {
            best = s.id;
            out = s;
        }
    }
    if (best == 0)
        return "the workspace has no session " + std::to_string(wanted);
    return {};
}

} // namespace

std::optional<std::pair<storage::Database*, storage::WorkspaceRow>>
LibraryWorker::openWorkspace(quint64 id, const std::string& workspace)
{
    auto d = db();
    if (!d) {
        emit failed(id, QString::fromStdString(d.error()));
        return std::nullopt;
    }
    auto row = findWorkspace(**d, workspace);
    if (!row) {
        emit failed(id, QString::fromStdString(row.error()));
        return std::nullopt;
    }
    return std::pair{*d, std::move(*row)};
}

std::expected<storage::Database*, std::string> LibraryWorker::db()
{
    return readConnection(m_db, m_config.libraryPath);
}

LibraryService::LibraryService(ServiceConfig config, QObject* parent)
    : QObject(parent),
      m_thread(std::make_unique<WorkerThread<LibraryWorker>>("quire-library", std::move(config)))
{
    auto* w = m_thread->worker();
    connect(w, &LibraryWorker::documentLoaded, this, &LibraryService::documentLoaded);
    connect(w, &LibraryWorker::snapshotsListed, this, &LibraryService::snapshotsListed);
    connect(w, &LibraryWorker::snapshotBranched, this, &LibraryService::snapshotBranched);
    connect(w, &LibraryWorker::snapshotRemoved, this, &LibraryService::snapshotRemoved);
    connect(w, &LibraryWorker::sessionsListed, this, &LibraryService::sessionsListed);
    connect(w, &LibraryWorker::historyLoaded, this, &LibraryService::historyLoaded);
    connect(w, &LibraryWorker::sessionExported, this, &LibraryService::sessionExported);
    connect(w, &LibraryWorker::failed, this, &LibraryService::failed);
}

LibraryService::~LibraryService() = default;

quint64 LibraryService::post(std::function<void(LibraryWorker&, quint64)> job)
{
    return m_thread->post(
        [job = std::move(job)](LibraryWorker& w, quint64 id, const std::atomic<bool>*) { job(w, id); });
}

quint64 LibraryService::document(std::int64_t documentId)
{
    return post([documentId](LibraryWorker& w, quint64 id) {
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        storage::Catalog catalog(**db);
        auto doc = catalog.document(documentId);
        if (!doc)
            return emit w.failed(id, QString::fromStdString(doc.error().message));
        DocumentContent out;
        out.documentId = doc->id;
        out.path = doc->path;
        out.title = doc->title;
        if (auto sources = catalog.sources(doc->workspace)) {
            for (const auto& s : *sources) {
                if (s.id == doc->sourceId)
                    out.kind = s.source.kind;
            }
        }
        auto segs = catalog.segments(documentId);
        if (!segs)
            return emit w.failed(id, QString::fromStdString(segs.error().message));
        for (auto& s : *segs)
            out.segments.push_back(std::move(s.segment));
        emit w.documentLoaded(id, out);
    });
}

quint64 LibraryService::snapshots(const QString& workspace)
{
    return post([ws = workspace.toStdString()](LibraryWorker& w, quint64 id) {
        auto opened = w.openWorkspace(id, ws);
        if (!opened)
            return;
        auto& [db, row] = *opened;
        auto snaps = storage::BlockStore(*db).snapshots(row.id);
        if (!snaps)
            return emit w.failed(id, QString::fromStdString(snaps.error().message));
        SnapshotListing out{row.id, std::move(*snaps)};
        std::stable_sort(out.snapshots.begin(), out.snapshots.end(),
                         [](const auto& a, const auto& b) { return a.createdUnix > b.createdUnix; });
        emit w.snapshotsListed(id, out);
    });
}

quint64 LibraryService::removeSnapshot(std::int64_t snapshotId)
{
    return post([snapshotId](LibraryWorker& w, quint64 id) {
        auto r = w.config()
                     .writer
                     ->submit([snapshotId](storage::Database& d) -> std::expected<void, storage::Error> {
                         storage::BlockStore store(d);
                         if (auto r = store.removeSnapshot(snapshotId); !r)
                             return r;
                         // Blocks still used by another snapshot (a branch, "latest") stay.
                         if (auto g = store.collectGarbage(); !g)
                             return std::unexpected(g.error());
                         return {};
                     })
                     .get();
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error().message));
        emit w.snapshotRemoved(id, snapshotId);
    });
}

quint64 LibraryService::branchSnapshot(std::int64_t snapshotId, const QString& name)
{
    return post([snapshotId, name = name.trimmed().toStdString()](LibraryWorker& w, quint64 id) {
        if (name.empty())
            return emit w.failed(id, "Give the branch a name.");
        auto db = w.db();
        if (!db)
            return emit w.failed(id, QString::fromStdString(db.error()));
        auto src = storage::BlockStore(**db).snapshot(snapshotId);
        if (!src)
            return emit w.failed(id, QString::fromStdString(src.error().message));
        if (src->name == name)
            return emit w.failed(id, "A branch needs a name other than its snapshot's.");
        if (storage::BlockStore(**db).snapshotNamed(src->workspace, name))
            return emit w.failed(id, QString("This workspace already has a snapshot named \"%1\".")
                                         .arg(QString::fromStdString(name)));
        auto r = w.config()
                     .writer
                     ->submit([row = *src, name](storage::Database& d) {
                         return storage::BlockStore(d).saveSnapshot(row.workspace, name, row.modelFingerprint,
                                                                    row.lastPrefixHash, row.tokenCount);
                     })
                     .get();
        if (!r)
            return emit w.failed(id, QString::fromStdString(r.error().message));
        emit w.snapshotBranched(id, *r, QString::fromStdString(name));
    });
}

quint64 LibraryService::sessions(const QString& workspace)
{
    return post([ws = workspace.toStdString()](LibraryWorker& w, quint64 id) {
        auto opened = w.openWorkspace(id, ws);
        if (!opened)
            return;
        auto& [db, row] = *opened;
        auto all = storage::Conversations(*db).sessions(row.id);
        if (!all)
            return emit w.failed(id, QString::fromStdString(all.error().message));
        SessionListing out{row.id, std::move(*all)};
        std::stable_sort(out.sessions.begin(), out.sessions.end(),
                         [](const auto& a, const auto& b) { return a.id > b.id; });
        emit w.sessionsListed(id, out);
    });
}

quint64 LibraryService::history(const QString& workspace)
{
    return post([ws = workspace.toStdString()](LibraryWorker& w, quint64 id) {
        auto opened = w.openWorkspace(id, ws);
        if (!opened)
            return;
        auto& [db, row] = *opened;
        storage::Conversations conv(*db);
        SessionHistory out;
        out.workspace = row.id;
        auto all = conv.sessions(row.id);
        if (!all)
            return emit w.failed(id, QString::fromStdString(all.error().message));
        if (!all->empty() && resolveSession(conv, row.id, 0, out.session).empty()) {
            auto turns = conv.turns(out.session.id);
            if (!turns)
                return emit w.failed(id, QString::fromStdString(turns.error().message));
            out.turns = std::move(*turns);
        }
        emit w.historyLoaded(id, out);
    });
}

quint64 LibraryService::exportSession(const QString& workspace, std::int64_t session)
{
    return post([ws = workspace.toStdString(), session](LibraryWorker& w, quint64 id) {
        auto opened = w.openWorkspace(id, ws);
        if (!opened)
            return;
        auto& [db, row] = *opened;
        storage::Conversations conv(*db);
        SessionExport e;
        e.workspace = row.name;
        if (auto err = resolveSession(conv, row.id, session, e.session); !err.empty())
            return emit w.failed(id, QString::fromStdString(err));
        auto turns = conv.turns(e.session.id);
        if (!turns)
            return emit w.failed(id, QString::fromStdString(turns.error().message));
        e.turns = std::move(*turns);
        emit w.sessionExported(id, QString::fromStdString(exportMarkdown(e)), int(e.turns.size()));
    });
}

} // namespace quire::app
