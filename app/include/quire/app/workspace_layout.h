// The workspace layout: what the app remembers about a workspace beyond the catalog. The inputs
// the user added (files and folders, rescanned by ingest), the stable order of its documents and
// the number each is known by in the context ("doc N", assigned once and never reused), the
// batches they arrived in (a batch's files are appended together, sorted by path, so the stored
// context prefix survives; the code preset prints a tree per batch), the preset, and the
// documents the user chose to leave out of the context.
//
// Stored as JSON beside the library (<data>/workspaces/<id>.json, written atomically). A value
// type; thread-safe as a value. Loading checks the workspace id and name, so a file left from a
// removed workspace is never applied to a new one that reuses the id.
#pragma once

#include <QString>

#include <cstdint>
#include <expected>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace quire::app {

struct LayoutEntry {
    std::int64_t sourceId = 0;
    int number = 0;
    int batch = 0;
    std::string path;
};

struct LayoutBatch {
    std::string root; // common folder of the batch's files, for display paths
    std::int64_t createdUnix = 0;
};

class WorkspaceLayout {
public:
    std::int64_t workspaceId = 0;
    std::string workspaceName;
    std::string preset = "general";
    std::vector<std::string> inputs;  // as added; absolute paths
    std::vector<LayoutEntry> entries; // context order
    std::vector<LayoutBatch> batches;
    std::set<int> excluded; // document numbers left out of the context
    int nextNumber = 1;

    // Appends the sources not in the layout yet, sorted by path, as one new batch. Returns how
    // many were added.
    std::size_t appendBatch(std::vector<std::pair<std::int64_t, std::string>> sources, std::int64_t nowUnix);
    // Forgets entries whose source is gone (numbers are not reused).
    void dropMissing(const std::set<std::int64_t>& existingSources);
    const LayoutEntry* entryForNumber(int number) const;
    const LayoutEntry* entryForSource(std::int64_t sourceId) const;
    std::string displayPath(const LayoutEntry& e) const;
    bool addInput(const std::string& path); // false when already present

    std::string toJson() const;
    static std::expected<WorkspaceLayout, std::string> fromJson(const std::string& json);

    // <dataDir>/workspaces/<id>.json
    static QString fileFor(const QString& dataDir, std::int64_t workspaceId);
    // The stored layout, or a fresh one when there is none (or it belongs to another workspace).
    static std::expected<WorkspaceLayout, std::string> load(const QString& dataDir, std::int64_t workspaceId,
                                                            const std::string& workspaceName);
    std::expected<void, std::string> save(const QString& dataDir) const;
    static void remove(const QString& dataDir, std::int64_t workspaceId);
};

} // namespace quire::app
