#include "quire/app/workspace_ops.h"

#include <QDateTime>
#include <QFileInfo>

#include <filesystem>
#include <map>
#include <mutex>

#include "quire/app/preset.h"
#include "quire/ingest/source_scanner.h"
#include "quire/storage/catalog.h"

namespace quire::app {

namespace {

std::mutex& layoutMutex()
{
    static std::mutex m;
    return m;
}

std::string absolute(const std::string& path)
{
    return QFileInfo(QString::fromStdString(path)).absoluteFilePath().toStdString();
}

bool under(const std::string& path, const std::string& root)
{
    if (path == root)
        return true;
    const std::string r = root.ends_with('/') ? root : root + "/";
    return path.starts_with(r);
}

template <class T>
std::expected<T, std::string>
viaWriter(storage::WriterThread& writer,
          std::function<std::expected<T, storage::Error>(storage::Database&)> job)
{
    auto r = writer.submit(std::move(job)).get();
    if (!r)
        return std::unexpected(r.error().message);
    if constexpr (std::is_void_v<T>)
        return {};
    else
        return std::move(*r);
}

} // namespace

std::expected<WorkspaceLayout, std::string> updateLayout(const QString& dataDir,
                                                         const storage::WorkspaceRow& ws,
                                                         const std::function<void(WorkspaceLayout&)>& change)
{
    std::lock_guard lock(layoutMutex());
    auto layout = WorkspaceLayout::load(dataDir, ws.id, ws.name);
    if (!layout)
        return std::unexpected(layout.error());
    change(*layout);
    if (auto ok = layout->save(dataDir); !ok)
        return std::unexpected(ok.error());
    return layout;
}

WorkspaceSummary summarize(const WorkspaceContent& c)
{
    WorkspaceSummary s;
    s.id = c.workspace.id;
    s.name = c.workspace.name;
    s.createdUnix = c.workspace.createdUnix;
    s.preset = c.layout.preset;
    s.inputs = c.layout.inputs;
    s.sources = int(c.sources.size());
    s.documents = int(c.documents.size());
    for (const auto& b : c.sources) {
        if (b.excluded)
            ++s.excluded;
        if (b.inContext)
            s.estimatedTokens += b.estimatedTokens;
    }
    return s;
}

std::expected<WorkspaceSummary, std::string> createWorkspace(storage::WriterThread& writer,
                                                             const QString& dataDir, const std::string& name,
                                                             const std::string& preset)
{
    if (name.empty())
        return std::unexpected("a workspace needs a name");
    if (auto p = loadPreset(preset); !p)
        return std::unexpected(p.error());
    auto id = writer.submit([name](storage::Database& db) { return db.createWorkspace(name); }).get();
    if (!id) {
        if (id.error().message.find("UNIQUE") != std::string::npos)
            return std::unexpected("a workspace named \"" + name + "\" exists already");
        return std::unexpected(id.error().message);
    }
    storage::WorkspaceRow row{*id, name, QDateTime::currentSecsSinceEpoch()};
    WorkspaceLayout::remove(dataDir, *id); // a file left from a removed workspace with this id
    auto layout = updateLayout(dataDir, row, [&](WorkspaceLayout& l) { l.preset = preset; });
    if (!layout)
        return std::unexpected(layout.error());
    WorkspaceSummary s;
    s.id = *id;
    s.name = name;
    s.preset = preset;
    s.createdUnix = row.createdUnix;
    return s;
}

std::expected<std::vector<WorkspaceSummary>, std::string> listWorkspaces(storage::Database& db,
                                                                         const QString& dataDir)
{
    auto rows = db.workspaces();
    if (!rows)
        return std::unexpected(rows.error().message);
    std::vector<WorkspaceSummary> out;
    for (const auto& w : *rows) {
        auto c = loadWorkspaceContent(db, dataDir, w, false);
        if (!c)
            return std::unexpected(c.error());
        out.push_back(summarize(*c));
    }
    return out;
}

std::expected<WorkspaceListing, std::string> listSources(storage::Database& db, const QString& dataDir,
                                                         const std::string& workspace)
{
    auto ws = findWorkspace(db, workspace);
    if (!ws)
        return std::unexpected(ws.error());
    auto c = loadWorkspaceContent(db, dataDir, *ws);
    if (!c)
        return std::unexpected(c.error());
    WorkspaceListing l;
    l.summary = summarize(*c);
    std::map<int, const ContextDocument*> docs;
    for (const auto& d : c->documents)
        docs[d.number] = &d;
    for (const auto& b : c->sources) {
        SourceLine line;
        line.budget = b;
        const LayoutEntry* e = c->layout.entryForNumber(b.number);
        line.displayPath = e ? c->layout.displayPath(*e) : b.path;
        if (auto it = docs.find(b.number); it != docs.end())
            line.segments = int(it->second->segments.size());
        l.sources.push_back(std::move(line));
    }
    return l;
}

std::expected<IngestReport, std::string> ingestWorkspace(storage::Database& db, storage::WriterThread& writer,
                                                         const QString& dataDir, const std::string& workspace,
                                                         const std::vector<std::string>& addPaths,
                                                         const ingest::IngestOptions& options,
                                                         const IngestProgressFn& progress,
                                                         const std::atomic<bool>* cancel)
{
    auto ws = findWorkspace(db, workspace);
    if (!ws)
        return std::unexpected(ws.error());
    std::vector<std::string> added;
    for (const auto& p : addPaths) {
        std::error_code ec;
        if (!std::filesystem::exists(p, ec))
            return std::unexpected("no such file or folder: " + p);
        added.push_back(absolute(p));
    }
    auto layout = updateLayout(dataDir, *ws, [&](WorkspaceLayout& l) {
        for (const auto& a : added)
            l.addInput(a);
    });
    if (!layout)
        return std::unexpected(layout.error());
    IngestReport report;
    report.workspace = ws->id;
    if (layout->inputs.empty())
        return std::unexpected("workspace \"" + ws->name + "\" has no sources yet (quire-cli workspace add)");

    // 1. Scan every input; inputs that vanished are reported, and their sources dropped below.
    std::vector<std::filesystem::path> inputs;
    for (const auto& in : layout->inputs) {
        std::error_code ec;
        if (std::filesystem::exists(in, ec))
            inputs.emplace_back(in);
        else
            report.problems.push_back(in + ": no longer exists");
    }
    // The walk only stats files; the Ingestor sniffs each file's first chunk as it reads it, so
    // every file is opened once (binary files come back from it as Skipped documents).
    ingest::ScanOptions scanOptions = options.scan;
    scanOptions.sniffContent = false;
    const auto scan = ingest::scanSources(inputs, scanOptions, cancel);
    if (scan.cancelled) {
        report.cancelled = true;
        return report;
    }
    report.scanned = scan.files.size();

    // 2. Unchanged files (same size and modification time as stored) are not extracted again.
    storage::Catalog catalog(db);
    std::vector<std::filesystem::path> toExtract;
    std::set<std::string> present;
    for (const auto& f : scan.files) {
        present.insert(f.path.string());
        auto stored = catalog.findSource(ws->id, f.path.string());
        if (!stored)
            return std::unexpected(stored.error().message);
        if (*stored && (*stored)->source.size == f.size && (*stored)->source.mtimeNs == f.mtimeNs &&
            (*stored)->status != ingest::SourceStatus::Pending) {
            ++report.unchanged;
            continue;
        }
        toExtract.push_back(f.path);
    }
    for (const auto& issue : scan.issues) {
        present.insert(issue.path.string());
        ++report.skipped;
        report.problems.push_back(issue.path.string() + ": " + issue.error.message);
        if (issue.status == ingest::SourceStatus::Quarantined) {
            ingest::Source src;
            src.path = issue.path.string();
            const std::int64_t id = ws->id;
            const std::string reason = issue.error.message;
            auto q = viaWriter<std::int64_t>(writer, [id, src, reason](storage::Database& w) {
                return storage::Catalog(w).quarantine(id, src, reason);
            });
            if (!q)
                return std::unexpected(q.error());
        }
    }

    // 3. Extract the rest through the batch API; each document is stored as it arrives.
    std::string storeError;
    if (!toExtract.empty()) {
        ingest::Ingestor ingestor(options);
        const std::int64_t id = ws->id;
        const auto summary = ingestor.run(
            toExtract,
            [&](ingest::Document&& doc) {
                if (!storeError.empty())
                    return;
                if (doc.status == ingest::SourceStatus::Partial ||
                    doc.status == ingest::SourceStatus::Quarantined ||
                    doc.status == ingest::SourceStatus::Skipped)
                    report.problems.push_back(doc.source.path + ": " + ingest::toString(doc.status) +
                                              (doc.error.empty() ? "" : " (" + doc.error + ")"));
                std::expected<void, std::string> ok;
                if (doc.status == ingest::SourceStatus::Quarantined) {
                    auto src = doc.source;
                    auto reason = doc.error;
                    auto r = viaWriter<std::int64_t>(writer, [id, src, reason](storage::Database& w) {
                        return storage::Catalog(w).quarantine(id, src, reason);
                    });
                    if (!r)
                        ok = std::unexpected(r.error());
                } else {
                    auto shared = std::make_shared<ingest::Document>(std::move(doc));
                    auto r = viaWriter<storage::PutResult>(writer, [id, shared](storage::Database& w) {
                        return storage::Catalog(w).putDocument(id, *shared);
                    });
                    if (!r)
                        ok = std::unexpected(r.error());
                }
                if (!ok)
                    storeError = ok.error();
            },
            [&](const ingest::IngestProgress& p) {
                if (progress)
                    progress(p);
            },
            cancel);
        report.ingested = summary.ingested;
        report.partial = summary.partial;
        report.quarantined = summary.quarantined;
        report.skipped += summary.skipped;
        report.cancelled = summary.cancelled;
    }
    if (!storeError.empty())
        return std::unexpected("storing a document failed: " + storeError);

    // 4. Sources under the inputs whose files are gone leave the workspace.
    if (!report.cancelled) {
        auto sources = catalog.sources(ws->id);
        if (!sources)
            return std::unexpected(sources.error().message);
        for (const auto& s : *sources) {
            const std::string& path = s.source.path;
            if (present.count(path))
                continue;
            const bool covered = std::any_of(layout->inputs.begin(), layout->inputs.end(),
                                             [&](const std::string& in) { return under(path, in); });
            const bool inputGone =
                std::any_of(layout->inputs.begin(), layout->inputs.end(), [&](const std::string& in) {
                    std::error_code ec;
                    return under(path, in) && !std::filesystem::exists(in, ec);
                });
            if (!covered || inputGone || !std::filesystem::exists(path)) {
                const std::int64_t id = ws->id;
                auto r = viaWriter<bool>(writer, [id, path](storage::Database& w) {
                    return storage::Catalog(w).removeSource(id, path);
                });
                if (!r)
                    return std::unexpected(r.error());
                ++report.removed;
            }
        }
    }

    // 5. New documents join the context order as one batch.
    {
        std::lock_guard lock(layoutMutex());
        auto content = loadWorkspaceContent(db, dataDir, *ws, false);
        if (!content)
            return std::unexpected(content.error());
        const std::size_t before = layout->entries.size();
        if (content->layoutChanged) {
            if (auto ok = content->layout.save(dataDir); !ok)
                return std::unexpected(ok.error());
        }
        report.numbered =
            content->layout.entries.size() > before ? content->layout.entries.size() - before : 0;
    }
    return report;
}

std::expected<std::size_t, std::string> removeSources(storage::Database& db, storage::WriterThread& writer,
                                                      const QString& dataDir, const std::string& workspace,
                                                      const std::vector<std::string>& paths)
{
    auto ws = findWorkspace(db, workspace);
    if (!ws)
        return std::unexpected(ws.error());
    std::vector<std::string> abs;
    for (const auto& p : paths)
        abs.push_back(absolute(p));
    auto sources = storage::Catalog(db).sources(ws->id);
    if (!sources)
        return std::unexpected(sources.error().message);
    std::size_t removed = 0;
    for (const auto& s : *sources) {
        const std::string path = s.source.path;
        if (std::none_of(abs.begin(), abs.end(), [&](const std::string& a) { return under(path, a); }))
            continue;
        const std::int64_t id = ws->id;
        auto r = viaWriter<bool>(
            writer, [id, path](storage::Database& w) { return storage::Catalog(w).removeSource(id, path); });
        if (!r)
            return std::unexpected(r.error());
        removed += *r ? 1 : 0;
    }
    std::size_t inputsRemoved = 0;
    auto layout = updateLayout(dataDir, *ws, [&](WorkspaceLayout& l) {
        inputsRemoved = std::erase_if(l.inputs, [&](const std::string& in) {
            return std::any_of(abs.begin(), abs.end(), [&](const std::string& a) { return under(in, a); });
        });
    });
    if (!layout)
        return std::unexpected(layout.error());
    if (removed == 0 && inputsRemoved == 0)
        return std::unexpected("nothing in workspace \"" + ws->name +
                               "\" lies at or under the given path(s)");
    // The layout forgets the removed sources on its next load.
    std::lock_guard lock(layoutMutex());
    auto content = loadWorkspaceContent(db, dataDir, *ws, false);
    if (content && content->layoutChanged)
        (void)content->layout.save(dataDir);
    return removed;
}

std::expected<void, std::string> removeWorkspace(storage::Database& db, storage::WriterThread& writer,
                                                 const QString& dataDir, const std::string& workspace)
{
    auto ws = findWorkspace(db, workspace);
    if (!ws)
        return std::unexpected(ws.error());
    const std::int64_t id = ws->id;
    auto r = writer.submit([id](storage::Database& w) { return w.removeWorkspace(id); }).get();
    if (!r)
        return std::unexpected(r.error().message);
    std::lock_guard lock(layoutMutex());
    WorkspaceLayout::remove(dataDir, id);
    return {};
}

std::expected<WorkspaceSummary, std::string> configureWorkspace(storage::Database& db, const QString& dataDir,
                                                                const std::string& workspace,
                                                                const std::optional<std::string>& preset,
                                                                const std::set<int>& exclude,
                                                                const std::set<int>& include)
{
    auto ws = findWorkspace(db, workspace);
    if (!ws)
        return std::unexpected(ws.error());
    if (preset) {
        if (auto p = loadPreset(*preset); !p)
            return std::unexpected(p.error());
    }
    std::lock_guard lock(layoutMutex());
    auto content = loadWorkspaceContent(db, dataDir, *ws, false);
    if (!content)
        return std::unexpected(content.error());
    for (int n : exclude) {
        if (!content->layout.entryForNumber(n))
            return std::unexpected("workspace \"" + ws->name + "\" has no doc " + std::to_string(n));
    }
    for (int n : include) {
        if (!content->layout.entryForNumber(n))
            return std::unexpected("workspace \"" + ws->name + "\" has no doc " + std::to_string(n));
    }
    if (preset)
        content->layout.preset = *preset;
    for (int n : exclude)
        content->layout.excluded.insert(n);
    for (int n : include)
        content->layout.excluded.erase(n);
    if (auto ok = content->layout.save(dataDir); !ok)
        return std::unexpected(ok.error());
    auto reloaded = loadWorkspaceContent(db, dataDir, *ws, false);
    if (!reloaded)
        return std::unexpected(reloaded.error());
    return summarize(*reloaded);
}

} // namespace quire::app
