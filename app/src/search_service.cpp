#include "quire/app/search_service.h"

#include "quire/app/workspace_content.h"
#include "quire/storage/catalog.h"

namespace quire::app {

SearchService::SearchService(ServiceConfig config, QObject* parent)
    : QObject(parent),
      m_thread(std::make_unique<WorkerThread<SearchWorker>>("quire-search", std::move(config)))
{
    connect(m_thread->worker(), &SearchWorker::results, this, &SearchService::results);
    connect(m_thread->worker(), &SearchWorker::failed, this, &SearchService::failed);
}

SearchService::~SearchService() = default;

quint64 SearchService::search(const QString& workspace, const QString& query, int limit, bool ftsSyntax)
{
    return m_thread->post([ws = workspace.toStdString(), q = query.toStdString(), limit,
                           ftsSyntax](SearchWorker& w, quint64 id, const std::atomic<bool>*) {
        w.search(id, ws, q, limit, ftsSyntax);
    });
}

void SearchWorker::search(quint64 id, const std::string& workspace, const std::string& query, int limit,
                          bool ftsSyntax)
{
    auto db = readConnection(m_db, m_config.libraryPath);
    if (!db)
        return emit failed(id, QString::fromStdString(db.error()));
    auto ws = findWorkspace(**db, workspace);
    if (!ws)
        return emit failed(id, QString::fromStdString(ws.error()));
    storage::SearchOptions so;
    so.limit = limit;
    so.ftsSyntax = ftsSyntax;
    auto hits = storage::FullTextSearch(**db).search(ws->id, query, so);
    if (!hits)
        return emit failed(id, QString::fromStdString(hits.error().message));
    auto layout = WorkspaceLayout::load(m_config.dataDir, ws->id, ws->name);
    storage::Catalog catalog(**db);
    std::vector<SearchResultLine> out;
    for (auto& h : *hits) {
        SearchResultLine line;
        if (layout) {
            if (auto doc = catalog.document(h.documentId)) {
                if (const auto* e = layout->entryForSource(doc->sourceId))
                    line.docNumber = e->number;
            }
        }
        line.mark =
            line.docNumber > 0 ? formatMark(line.docNumber, h.anchor) : ingest::formatAnchor(h.anchor);
        line.hit = std::move(h);
        out.push_back(std::move(line));
    }
    emit results(id, out);
}

} // namespace quire::app
