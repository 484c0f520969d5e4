#include "quire/ui/models.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>
#include <QLocale>

#include <algorithm>

namespace quire::ui {

namespace {

QString qs(const std::string& s)
{
    return QString::fromStdString(s);
}

QString tokensText(std::int64_t n, bool exact)
{
    return (exact ? QString() : QStringLiteral("~")) + QLocale().toString(qlonglong(n));
}

QVariant statusColor(ingest::SourceStatus s)
{
    switch (s) {
    case ingest::SourceStatus::Quarantined:
        return QBrush(QColor(0xb0, 0x1c, 0x1c));
    case ingest::SourceStatus::Partial:
        return QBrush(QColor(0xa8, 0x5d, 0x00));
    case ingest::SourceStatus::Skipped:
        return QBrush(QColor(0x70, 0x70, 0x70));
    default:
        return {};
    }
}

} // namespace

QString kindName(ingest::SourceKind kind)
{
    return QString::fromLatin1(ingest::toString(kind));
}

QString statusName(ingest::SourceStatus status)
{
    return QString::fromLatin1(ingest::toString(status));
}

// ---- WorkspaceModel ------------------------------------------------------------------------

void WorkspaceModel::setWorkspaces(std::vector<app::WorkspaceSummary> workspaces)
{
    beginResetModel();
    m_rows = std::move(workspaces);
    endResetModel();
}

int WorkspaceModel::rowOf(const QString& name) const
{
    for (std::size_t i = 0; i < m_rows.size(); ++i) {
        if (qs(m_rows[i].name) == name)
            return int(i);
    }
    return -1;
}

int WorkspaceModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant WorkspaceModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto& w = m_rows[std::size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
    case NameRole:
        return qs(w.name);
    case Qt::ToolTipRole:
        return tr("%1: %2 document(s), ~%3 tokens, preset %4")
            .arg(qs(w.name))
            .arg(w.documents)
            .arg(QLocale().toString(qlonglong(w.estimatedTokens)))
            .arg(qs(w.preset));
    case DocumentsRole:
        return w.documents;
    case TokensRole:
        return qlonglong(w.estimatedTokens);
    default:
        return {};
    }
}

// ---- SourceTreeModel -----------------------------------------------------------------------

struct SourceTreeModel::Node {
    QString name;
    QString path; // files only
    bool folder = true;
    bool done = true; // during an ingest: reported by the progress
    app::SourceLine line;
    Node* parent = nullptr;
    std::vector<std::unique_ptr<Node>> children;

    int row() const
    {
        if (!parent)
            return 0;
        for (std::size_t i = 0; i < parent->children.size(); ++i) {
            if (parent->children[i].get() == this)
                return int(i);
        }
        return 0;
    }
    Node* child(const QString& childName, bool isFolder)
    {
        for (auto& c : children) {
            if (c->name == childName && c->folder == isFolder)
                return c.get();
        }
        auto n = std::make_unique<Node>();
        n->name = childName;
        n->folder = isFolder;
        n->parent = this;
        children.push_back(std::move(n));
        return children.back().get();
    }
};

SourceTreeModel::SourceTreeModel(QObject* parent)
    : QAbstractItemModel(parent), m_root(std::make_unique<Node>())
{
}

SourceTreeModel::~SourceTreeModel() = default;

void SourceTreeModel::clear()
{
    beginResetModel();
    m_root = std::make_unique<Node>();
    m_byPath.clear();
    m_ingesting = false;
    endResetModel();
}

void SourceTreeModel::setListing(const app::WorkspaceListing& listing)
{
    beginResetModel();
    m_root = std::make_unique<Node>();
    m_byPath.clear();
    m_ingesting = false;
    for (const auto& s : listing.sources) {
        QString display = qs(s.displayPath.empty() ? s.budget.path : s.displayPath);
        QStringList parts = display.split('/', Qt::SkipEmptyParts);
        if (parts.isEmpty())
            parts << display;
        Node* n = m_root.get();
        for (int i = 0; i + 1 < parts.size(); ++i)
            n = n->child(parts[i], true);
        Node* leaf = n->child(parts.last(), false);
        leaf->path = qs(s.budget.path);
        leaf->line = s;
        m_byPath.insert(leaf->path, leaf);
    }
    endResetModel();
}

void SourceTreeModel::beginIngest()
{
    m_ingesting = true;
    for (Node* n : std::as_const(m_byPath))
        n->done = false;
    // Every status and progress may have changed: one signal per level of the tree.
    std::vector<Node*> stack{m_root.get()};
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        if (!n->children.empty()) {
            const QModelIndex p = n == m_root.get() ? QModelIndex() : indexOf(n, 0);
            emit dataChanged(index(0, StatusColumn, p), index(int(n->children.size()) - 1, StatusColumn, p));
            for (auto& c : n->children)
                stack.push_back(c.get());
        }
    }
}

void SourceTreeModel::ingestProgress(const ingest::IngestProgress& progress)
{
    auto it = m_byPath.find(qs(progress.currentPath));
    if (it == m_byPath.end())
        return;
    Node* n = it.value();
    n->done = true;
    for (; n && n != m_root.get(); n = n->parent) {
        const QModelIndex i = indexOf(n, StatusColumn);
        emit dataChanged(i, i);
    }
}

int SourceTreeModel::fileCount() const
{
    return int(m_byPath.size());
}

QModelIndex SourceTreeModel::indexForPath(const QString& path) const
{
    auto it = m_byPath.find(path);
    return it == m_byPath.end() ? QModelIndex() : indexOf(it.value(), 0);
}

SourceTreeModel::Node* SourceTreeModel::nodeOf(const QModelIndex& index) const
{
    return index.isValid() ? static_cast<Node*>(index.internalPointer()) : m_root.get();
}

QModelIndex SourceTreeModel::indexOf(Node* node, int column) const
{
    if (!node || node == m_root.get())
        return {};
    return createIndex(node->row(), column, node);
}

QModelIndex SourceTreeModel::index(int row, int column, const QModelIndex& parent) const
{
    if (!hasIndex(row, column, parent))
        return {};
    Node* p = nodeOf(parent);
    return createIndex(row, column, p->children[std::size_t(row)].get());
}

QModelIndex SourceTreeModel::parent(const QModelIndex& child) const
{
    if (!child.isValid())
        return {};
    Node* n = nodeOf(child);
    return indexOf(n->parent, 0);
}

int SourceTreeModel::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid() && parent.column() != 0)
        return 0;
    return int(nodeOf(parent)->children.size());
}

int SourceTreeModel::columnCount(const QModelIndex&) const
{
    return ColumnCount;
}

void SourceTreeModel::countDone(const Node* node, int& done, int& total) const
{
    if (!node->folder) {
        ++total;
        const bool finished =
            m_ingesting ? node->done : node->line.budget.status != ingest::SourceStatus::Pending;
        done += finished ? 1 : 0;
        return;
    }
    for (const auto& c : node->children)
        countDone(c.get(), done, total);
}

QVariant SourceTreeModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid))
        return {};
    const Node* n = nodeOf(index);
    const auto& b = n->line.budget;
    if (role == PathRole)
        return n->path;
    if (role == IsFolderRole)
        return n->folder;
    if (role == DocNumberRole)
        return n->folder ? 0 : b.number;
    if (role == ProgressRole) {
        int done = 0, total = 0;
        countDone(n, done, total);
        return total == 0 ? 100 : done * 100 / total;
    }
    if (role == Qt::ToolTipRole) {
        if (n->folder)
            return n->name;
        QString t = n->path;
        if (!b.note.empty())
            t += "\n" + qs(b.note);
        return t;
    }
    if (role == Qt::ForegroundRole && !n->folder)
        return statusColor(b.status);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case NameColumn:
        return n->name;
    case StatusColumn:
        if (n->folder) {
            int done = 0, total = 0;
            countDone(n, done, total);
            return m_ingesting ? tr("%1 of %2 done").arg(done).arg(total) : tr("%n file(s)", nullptr, total);
        }
        if (m_ingesting && !n->done)
            return tr("waiting");
        return b.note.empty() ? statusName(b.status) : statusName(b.status) + ": " + qs(b.note);
    case TokensColumn:
        return n->folder ? QVariant() : QVariant(tokensText(b.tokens(), b.exactTokens.has_value()));
    case KindColumn:
        return n->folder ? QVariant() : QVariant(kindName(b.kind));
    default:
        return {};
    }
}

QVariant SourceTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NameColumn:
        return tr("Source");
    case StatusColumn:
        return tr("Status");
    case TokensColumn:
        return tr("Tokens");
    case KindColumn:
        return tr("Kind");
    default:
        return {};
    }
}

// ---- QuarantineModel -----------------------------------------------------------------------

void QuarantineModel::setListing(const app::WorkspaceListing& listing)
{
    beginResetModel();
    m_rows.clear();
    for (const auto& s : listing.sources) {
        const auto st = s.budget.status;
        if (st == ingest::SourceStatus::Quarantined || st == ingest::SourceStatus::Skipped ||
            st == ingest::SourceStatus::Partial)
            m_rows.push_back(s);
    }
    endResetModel();
}

void QuarantineModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

int QuarantineModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int QuarantineModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant QuarantineModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto& s = m_rows[std::size_t(index.row())];
    if (role == PathRole)
        return qs(s.budget.path);
    if (role == Qt::ForegroundRole && index.column() == StatusColumn)
        return statusColor(s.budget.status);
    if (role == Qt::ToolTipRole)
        return qs(s.budget.path) + "\n" + qs(s.budget.note);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case FileColumn:
        return qs(s.displayPath.empty() ? s.budget.path : s.displayPath);
    case StatusColumn:
        return statusName(s.budget.status);
    case ReasonColumn:
        return s.budget.note.empty() ? tr("(no reason recorded)") : qs(s.budget.note);
    default:
        return {};
    }
}

QVariant QuarantineModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char* names[] = {"File", "Status", "Reason"};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

// ---- BudgetModel ---------------------------------------------------------------------------

void BudgetModel::setReport(const app::BudgetReport& report)
{
    beginResetModel();
    m_rows = report.input.sources;
    m_context = report.contextTokens;
    endResetModel();
}

void BudgetModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_context = 0;
    endResetModel();
}

int BudgetModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int BudgetModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant BudgetModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto& s = m_rows[std::size_t(index.row())];
    if (role == TokensRole)
        return qlonglong(s.tokens());
    if (role == ExactRole)
        return s.exactTokens.has_value();
    if (role == Qt::CheckStateRole && index.column() == IncludedColumn)
        return s.number > 0 ? QVariant(s.excluded ? Qt::Unchecked : Qt::Checked) : QVariant();
    if (role == Qt::ToolTipRole)
        return qs(s.path) + (s.note.empty() ? QString() : "\n" + qs(s.note));
    if (role == Qt::TextAlignmentRole &&
        (index.column() == TokensColumn || index.column() == ShareColumn || index.column() == DocColumn))
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case DocColumn:
        return s.number > 0 ? QVariant(s.number) : QVariant();
    case SourceColumn:
        return qs(s.displayPath.empty() ? s.path : s.displayPath);
    case TokensColumn:
        return tokensText(s.tokens(), s.exactTokens.has_value());
    case ShareColumn:
        if (!s.inContext || m_context <= 0)
            return QStringLiteral("-");
        return QString::number(100.0 * double(s.tokens()) / double(m_context), 'f', 1) + " %";
    case IncludedColumn:
        return s.excluded ? tr("left out") : (s.inContext ? tr("in context") : tr("no text"));
    default:
        return {};
    }
}

bool BudgetModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid) || role != Qt::CheckStateRole ||
        index.column() != IncludedColumn)
        return false;
    const auto& s = m_rows[std::size_t(index.row())];
    if (s.number <= 0)
        return false;
    const bool include = value.toInt() == Qt::Checked;
    if (include == !s.excluded)
        return false;
    emit inclusionChanged(s.number, include);
    return false; // changes when the next budget arrives
}

Qt::ItemFlags BudgetModel::flags(const QModelIndex& index) const
{
    auto f = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == IncludedColumn && m_rows[std::size_t(index.row())].number > 0)
        f |= Qt::ItemIsUserCheckable;
    return f;
}

QVariant BudgetModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char* names[] = {"Doc", "Source", "Tokens", "Share", "Context"};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

// ---- SnapshotModel -------------------------------------------------------------------------

void SnapshotModel::setSnapshots(std::vector<storage::SnapshotRow> rows)
{
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

int SnapshotModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int SnapshotModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant SnapshotModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto& s = m_rows[std::size_t(index.row())];
    if (role == IdRole)
        return qlonglong(s.id);
    if (role == Qt::ToolTipRole)
        return s.complete ? tr("%1 block(s)").arg(s.blockCount)
                          : tr("incomplete: some blocks are missing and will be recomputed");
    if (role == Qt::ForegroundRole && !s.complete)
        return QBrush(QColor(0xa8, 0x5d, 0x00));
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case NameColumn:
        return qs(s.name);
    case TokensColumn:
        return QLocale().toString(qlonglong(s.tokenCount));
    case SizeColumn:
        return qs(app::formatBytes(s.bytes));
    case CreatedColumn:
        return QDateTime::fromSecsSinceEpoch(s.createdUnix).toString("yyyy-MM-dd hh:mm");
    default:
        return {};
    }
}

QVariant SnapshotModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char* names[] = {"Name", "Tokens", "Size", "Created"};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

// ---- SearchModel ---------------------------------------------------------------------------

void SearchModel::setHits(std::vector<app::SearchResultLine> hits)
{
    beginResetModel();
    m_rows = std::move(hits);
    endResetModel();
}

int SearchModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int SearchModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant SearchModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto& h = m_rows[std::size_t(index.row())];
    if (role == Qt::ToolTipRole)
        return qs(h.hit.path);
    if (role != Qt::DisplayRole)
        return {};
    switch (index.column()) {
    case PlaceColumn:
        return qs(h.mark);
    case DocumentColumn:
        return qs(h.hit.title.empty() ? h.hit.path : h.hit.title);
    case SnippetColumn:
        return qs(h.hit.snippet).simplified();
    default:
        return {};
    }
}

QVariant SearchModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char* names[] = {"Place", "Document", "Text"};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

} // namespace quire::ui
