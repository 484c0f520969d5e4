// The workspace operations behind WorkspaceService, as plain blocking functions: create, list,
// add and ingest (scan the inputs, skip files whose size and time match the catalog, extract the
// rest through the ingest module's batch API, store through the writer thread, drop files that
// are gone, number new documents as a batch appended to the context order), remove, and the
// layout settings (preset, exclusions). They run on the calling thread with its own read
// connection `db`; every write goes through `writer`. Layout files are updated under a
// process-wide lock (two processes writing one workspace's layout at once are not guarded).
#pragma once

#include <QString>

#include <atomic>
#include <expected>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "quire/app/service_types.h"
#include "quire/app/workspace_content.h"
#include "quire/storage/database.h"
#include "quire/storage/writer_thread.h"

namespace quire::app {

using IngestProgressFn = std::function<void(const ingest::IngestProgress&)>;

// Loads the layout, applies `change`, saves it; serialised within the process.
std::expected<WorkspaceLayout, std::string> updateLayout(const QString& dataDir,
                                                         const storage::WorkspaceRow& ws,
                                                         const std::function<void(WorkspaceLayout&)>& change);

WorkspaceSummary summarize(const WorkspaceContent& content);

std::expected<WorkspaceSummary, std::string> createWorkspace(storage::WriterThread& writer,
                                                             const QString& dataDir, const std::string& name,
                                                             const std::string& preset);
std::expected<std::vector<WorkspaceSummary>, std::string> listWorkspaces(storage::Database& db,
                                                                         const QString& dataDir);
std::expected<WorkspaceListing, std::string> listSources(storage::Database& db, const QString& dataDir,
                                                         const std::string& workspace);
// Adds `addPaths` (files or folders; must exist) to the inputs, then ingests every input.
std::expected<IngestReport, std::string> ingestWorkspace(storage::Database& db, storage::WriterThread& writer,
                                                         const QString& dataDir, const std::string& workspace,
                                                         const std::vector<std::string>& addPaths,
                                                         const ingest::IngestOptions& options,
                                                         const IngestProgressFn& progress,
                                                         const std::atomic<bool>* cancel);
// Removes inputs and the sources at or under `paths`; returns how many sources went.
std::expected<std::size_t, std::string> removeSources(storage::Database& db, storage::WriterThread& writer,
                                                      const QString& dataDir, const std::string& workspace,
                                                      const std::vector<std::string>& paths);
std::expected<void, std::string> removeWorkspace(storage::Database& db, storage::WriterThread& writer,
                                                 const QString& dataDir, const std::string& workspace);
// Sets the preset (when given) and moves document numbers in or out of the exclusion list.
// Unknown numbers are refused.
std::expected<WorkspaceSummary, std::string> configureWorkspace(storage::Database& db, const QString& dataDir,
                                                                const std::string& workspace,
                                                                const std::optional<std::string>& preset,
                                                                const std::set<int>& exclude,
                                                                const std::set<int>& include);

} // namespace quire::app
