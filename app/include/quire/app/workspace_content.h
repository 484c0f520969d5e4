// A workspace as the context sees it: the catalog's documents and segments (storage) put in the
// workspace layout's order, numbered, with their display paths and the user's exclusions, plus a
// budget line per source. Runs on the thread that owns the Database connection it is given.
#pragma once

#include <QString>

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "quire/app/budget.h"
#include "quire/app/context_assembly.h"
#include "quire/app/workspace_layout.h"
#include "quire/storage/database.h"

namespace quire::app {

struct WorkspaceContent {
    storage::WorkspaceRow workspace;
    WorkspaceLayout layout;
    std::vector<SourceBudget> sources;              // every source, context order; estimates filled in
    std::vector<ContextDocument> documents;         // the ones in the context, context order
    std::vector<ContextDocument> excludedDocuments; // with text, left out by the user
    bool layoutChanged = false;                     // sources were numbered now (the caller may save)
};

// A workspace by name, or by id when `nameOrId` is a number and no workspace has that name.
std::expected<storage::WorkspaceRow, std::string> findWorkspace(storage::Database& db,
                                                                const std::string& nameOrId);

// Reads the workspace's documents; sources the layout does not know yet are numbered as a new
// batch (layoutChanged), sources gone from the catalog are dropped from it. Without `withText`
// no segment is read: documents carry only storedSegments, and token estimates come from the
// catalog's stored counts (exact once a context was assembled) plus a guess per uncounted segment.
std::expected<WorkspaceContent, std::string> loadWorkspaceContent(storage::Database& db,
                                                                  const QString& dataDir,
                                                                  const storage::WorkspaceRow& workspace,
                                                                  bool withText = true);

// Fills exactTokens of `content.sources` from an assembled context.
void applyExactCounts(WorkspaceContent& content, const AssembledContext& context);

} // namespace quire::app
