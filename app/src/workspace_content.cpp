#include "quire/app/workspace_content.h"

#include <QDateTime>

#include <map>
#include <set>

#include "quire/storage/catalog.h"

namespace quire::app {

std::expected<storage::WorkspaceRow, std::string> findWorkspace(storage::Database& db,
                                                                const std::string& nameOrId)
{
    auto rows = db.workspaces();
    if (!rows)
        return std::unexpected(rows.error().message);
    for (const auto& w : *rows) {
        if (w.name == nameOrId)
            return w;
    }
    for (const auto& w : *rows) {
        if (std::to_string(w.id) == nameOrId)
            return w;
    }
    return std::unexpected("no workspace named \"" + nameOrId + "\" (see quire-cli workspace list)");
}

std::expected<WorkspaceContent, std::string> loadWorkspaceContent(storage::Database& db,
                                                                  const QString& dataDir,
                                                                  const storage::WorkspaceRow& workspace,
                                                                  bool withText)
{
    WorkspaceContent c;
    c.workspace = workspace;
    auto layout = WorkspaceLayout::load(dataDir, workspace.id, workspace.name);
    if (!layout)
        return std::unexpected(layout.error());
    c.layout = std::move(*layout);

    storage::Catalog catalog(db);
    auto sources = catalog.sources(workspace.id);
    if (!sources)
        return std::unexpected(sources.error().message);
    auto documents = catalog.documents(workspace.id);
    if (!documents)
        return std::unexpected(documents.error().message);

    std::set<std::int64_t> existing;
    std::vector<std::pair<std::int64_t, std::string>> unknown;
    std::map<std::int64_t, const storage::SourceRow*> sourceById;
    for (const auto& s : *sources) {
        existing.insert(s.id);
        sourceById[s.id] = &s;
        if (!c.layout.entryForSource(s.id))
            unknown.push_back({s.id, s.source.path});
    }
    const std::size_t before = c.layout.entries.size();
    c.layout.dropMissing(existing);
    if (c.layout.entries.size() != before)
        c.layoutChanged = true;
    if (c.layout.appendBatch(unknown, QDateTime::currentSecsSinceEpoch()) > 0)
        c.layoutChanged = true;

    std::map<std::int64_t, const storage::DocumentRow*> docBySource;
    for (const auto& d : *documents)
        docBySource[d.sourceId] = &d;

    for (const auto& e : c.layout.entries) {
        const storage::SourceRow* src = sourceById[e.sourceId];
        SourceBudget b;
        b.number = e.number;
        b.path = e.path;
        b.displayPath = c.layout.displayPath(e);
        b.kind = src->source.kind;
        b.status = src->status;
        b.note = src->error;
        b.excluded = c.layout.excluded.count(e.number) > 0;
        auto d = docBySource.find(e.sourceId);
        if (d == docBySource.end() || d->second->segmentCount == 0) {
            if (b.note.empty())
                b.note = "no text";
            c.sources.push_back(std::move(b));
            continue;
        }
        ContextDocument doc;
        doc.number = e.number;
        doc.batch = e.batch;
        doc.sourceId = e.sourceId;
        doc.documentId = d->second->id;
        doc.path = e.path;
        doc.displayPath = c.layout.displayPath(e);
        doc.title = d->second->title;
        doc.language = d->second->language;
        doc.kind = src->source.kind;
        doc.storedSegments = d->second->segmentCount;
        if (withText) {
            auto segments = catalog.segments(d->second->id);
            if (!segments)
                return std::unexpected(segments.error().message);
            std::int64_t bytes = 0;
            for (auto& row : *segments) {
                bytes += std::int64_t(row.segment.text.size()) + 16; // the mark
                doc.segmentIds.push_back(row.id);
                doc.segments.push_back(std::move(row.segment));
            }
            b.estimatedTokens = estimateTokens(bytes + std::int64_t(documentHeader(doc).size()));
        } else {
            constexpr std::int64_t kGuessPerSegment = 48;
            b.estimatedTokens = d->second->knownTokens + d->second->uncountedSegments * kGuessPerSegment;
        }
        b.inContext = !b.excluded;
        if (b.inContext)
            c.documents.push_back(std::move(doc));
        else
            c.excludedDocuments.push_back(std::move(doc));
        c.sources.push_back(std::move(b));
    }
    return c;
}

void applyExactCounts(WorkspaceContent& content, const AssembledContext& context)
{
    std::map<int, std::int64_t> counts;
    for (const auto& d : context.perDocument)
        counts[d.number] = d.tokens;
    for (auto& s : content.sources) {
        auto it = counts.find(s.number);
        if (it != counts.end())
            s.exactTokens = it->second;
    }
}

} // namespace quire::app
