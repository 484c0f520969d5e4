// The GUI's item models, one per kind of row: workspaces, the source tree (folders and files with
// a status each and folder progress), the quarantine list, the token budget per source, the
// workspace's KV snapshots, and search hits. Each is filled with the values a service sent
// (replace the rows with set...()) and changed only on the UI thread. Columns are `enum Column`,
// extra data `enum Role`. Sorting and filtering go through proxies where a view needs them.
#pragma once

#include <QAbstractItemModel>
#include <QAbstractTableModel>
#include <QHash>

#include <memory>
#include <vector>

#include "quire/app/budget.h"
#include "quire/app/service_types.h"
#include "quire/storage/block_store.h"

namespace quire::ui {

QString kindName(ingest::SourceKind kind);
QString statusName(ingest::SourceStatus status);

class WorkspaceModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum Role { NameRole = Qt::UserRole + 1, DocumentsRole, TokensRole };
    using QAbstractListModel::QAbstractListModel;
    void setWorkspaces(std::vector<app::WorkspaceSummary> workspaces);
    int rowOf(const QString& name) const;
    const app::WorkspaceSummary& at(int row) const { return m_rows.at(std::size_t(row)); }

    int rowCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

private:
    std::vector<app::WorkspaceSummary> m_rows;
};

// Folders (from each source's display path) and files. A folder's Status column shows how many
// of its files are done; during an ingest files move from "waiting" to done as progress comes.
class SourceTreeModel : public QAbstractItemModel {
    Q_OBJECT
public:
    enum Column { NameColumn, StatusColumn, TokensColumn, KindColumn, ColumnCount };
    enum Role {
        PathRole = Qt::UserRole + 1, // the file's absolute path ("" for folders)
        ProgressRole,                // 0..100: share of files done (folders), 100 or 0 (files)
        IsFolderRole,
        DocNumberRole,
    };
    explicit SourceTreeModel(QObject* parent = nullptr);
    ~SourceTreeModel() override;

    void setListing(const app::WorkspaceListing& listing);
    // Ingest running: files not reported yet show as waiting.
    void beginIngest();
    void ingestProgress(const ingest::IngestProgress& progress);
    void clear();
    int fileCount() const;
    QModelIndex indexForPath(const QString& path) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Node;
    Node* nodeOf(const QModelIndex& index) const;
    QModelIndex indexOf(Node* node, int column) const;
    void countDone(const Node* node, int& done, int& total) const;
    std::unique_ptr<Node> m_root;
    QHash<QString, Node*> m_byPath;
    bool m_ingesting = false;
};

// Files that were quarantined, skipped or only partly extracted, with the reason.
class QuarantineModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { FileColumn, StatusColumn, ReasonColumn, ColumnCount };
    enum Role { PathRole = Qt::UserRole + 1 };
    using QAbstractTableModel::QAbstractTableModel;
    void setListing(const app::WorkspaceListing& listing);
    void clear();

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<app::SourceLine> m_rows;
};

// Tokens per source. The In-context column is checkable: unchecking asks to leave the document
// out (inclusionChanged); the model changes when the service has applied it and a new budget
// arrives.
class BudgetModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { DocColumn, SourceColumn, TokensColumn, ShareColumn, IncludedColumn, ColumnCount };
    enum Role { TokensRole = Qt::UserRole + 1, ExactRole };
    using QAbstractTableModel::QAbstractTableModel;
    void setReport(const app::BudgetReport& report);
    void clear();

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

signals:
    void inclusionChanged(int docNumber, bool included);

private:
    std::vector<app::SourceBudget> m_rows;
    std::int64_t m_context = 0;
};

class SnapshotModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { NameColumn, TokensColumn, SizeColumn, CreatedColumn, ColumnCount };
    enum Role { IdRole = Qt::UserRole + 1 };
    using QAbstractTableModel::QAbstractTableModel;
    void setSnapshots(std::vector<storage::SnapshotRow> rows);
    const storage::SnapshotRow& at(int row) const { return m_rows.at(std::size_t(row)); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<storage::SnapshotRow> m_rows;
};

class SearchModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { PlaceColumn, DocumentColumn, SnippetColumn, ColumnCount };
    using QAbstractTableModel::QAbstractTableModel;
    void setHits(std::vector<app::SearchResultLine> hits);
    const app::SearchResultLine& at(int row) const { return m_rows.at(std::size_t(row)); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<app::SearchResultLine> m_rows;
};

} // namespace quire::ui
