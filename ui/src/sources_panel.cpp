#include <QApplication>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMimeData>
#include <QPainter>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QTreeView>
#include <QVBoxLayout>

#include "quire/ui/panels.h"

namespace quire::ui {

namespace {

// Draws a folder's share of finished files as a progress bar under its status text.
class FolderProgressDelegate : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override
    {
        if (!index.data(SourceTreeModel::IsFolderRole).toBool()) {
            QStyledItemDelegate::paint(painter, option, index);
            return;
        }
        QStyleOptionProgressBar bar;
        bar.rect = option.rect.adjusted(1, 2, -1, -2);
        bar.minimum = 0;
        bar.maximum = 100;
        bar.progress = index.data(SourceTreeModel::ProgressRole).toInt();
        bar.text = index.data(Qt::DisplayRole).toString();
        bar.textVisible = true;
        bar.state = option.state | QStyle::State_Horizontal;
        const QWidget* w = option.widget;
        (w ? w->style() : QApplication::style())->drawControl(QStyle::CE_ProgressBar, &bar, painter, w);
    }
};

} // namespace

SourcesPanel::SourcesPanel(QWidget* parent)
    : QWidget(parent), m_tree(new SourceTreeModel(this)), m_quarantine(new QuarantineModel(this))
{
    setObjectName("sourcesPanel");
    setAcceptDrops(true);
    auto* layout = new QVBoxLayout(this);

    auto* buttons = new QHBoxLayout;
    auto* addFilesButton = new QPushButton(tr("Add &files…"), this);
    auto* addFolderButton = new QPushButton(tr("Add fol&der…"), this);
    auto* removeButton = new QPushButton(tr("&Remove"), this);
    auto* reingestButton = new QPushButton(tr("Re-in&gest"), this);
    addFilesButton->setObjectName("addFiles");
    addFolderButton->setObjectName("addFolder");
    removeButton->setObjectName("removeSources");
    reingestButton->setObjectName("reingest");
    for (auto* b : {addFilesButton, addFolderButton, removeButton, reingestButton})
        buttons->addWidget(b);
    buttons->addStretch();
    layout->addLayout(buttons);
    connect(addFilesButton, &QPushButton::clicked, this, &SourcesPanel::addFiles);
    connect(addFolderButton, &QPushButton::clicked, this, &SourcesPanel::addFolder);
    connect(removeButton, &QPushButton::clicked, this, [this] {
        const auto paths = selectedPaths();
        if (!paths.isEmpty())
            emit removeRequested(paths);
    });
    connect(reingestButton, &QPushButton::clicked, this, &SourcesPanel::reingestRequested);

    auto* progressRow = new QHBoxLayout;
    m_progress = new QProgressBar(this);
    m_progress->setObjectName("ingestProgress");
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setVisible(false);
    m_cancel = new QPushButton(tr("Cancel"), this);
    m_cancel->setObjectName("cancelIngest");
    m_cancel->setVisible(false);
    connect(m_cancel, &QPushButton::clicked, this, &SourcesPanel::cancelRequested);
    progressRow->addWidget(m_progress, 1);
    progressRow->addWidget(m_cancel);
    layout->addLayout(progressRow);
    m_status = new QLabel(tr("Drop files or folders here, or use Add files / Add folder."), this);
    m_status->setObjectName("ingestStatus");
    m_status->setWordWrap(true);
    layout->addWidget(m_status);

    auto* split = new QSplitter(Qt::Vertical, this);
    m_treeView = new QTreeView(split);
    m_treeView->setObjectName("sourceTree");
    m_treeView->setModel(m_tree);
    m_treeView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_treeView->setItemDelegateForColumn(SourceTreeModel::StatusColumn,
                                         new FolderProgressDelegate(m_treeView));
    m_treeView->header()->setStretchLastSection(false);
    m_treeView->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_treeView->header()->setSectionResizeMode(SourceTreeModel::NameColumn, QHeaderView::Stretch);
    m_treeView->header()->setSectionResizeMode(SourceTreeModel::StatusColumn, QHeaderView::Interactive);
    m_treeView->header()->resizeSection(SourceTreeModel::StatusColumn, 130);
    auto* quarantineBox = new QWidget(split);
    auto* ql = new QVBoxLayout(quarantineBox);
    ql->setContentsMargins(0, 0, 0, 0);
    m_quarantineLabel = new QLabel(tr("Quarantine"), quarantineBox);
    m_quarantineView = new QTableView(quarantineBox);
    m_quarantineView->setObjectName("quarantine");
    m_quarantineView->setModel(m_quarantine);
    m_quarantineView->horizontalHeader()->setStretchLastSection(true);
    m_quarantineView->verticalHeader()->hide();
    m_quarantineView->setSelectionBehavior(QAbstractItemView::SelectRows);
    ql->addWidget(m_quarantineLabel);
    ql->addWidget(m_quarantineView);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    layout->addWidget(split, 1);
}

QStringList SourcesPanel::selectedPaths() const
{
    QStringList out;
    for (const auto& i : m_treeView->selectionModel()->selectedRows(0)) {
        const QString p = i.data(SourceTreeModel::PathRole).toString();
        if (!p.isEmpty())
            out << p;
    }
    return out;
}

void SourcesPanel::setListing(const app::WorkspaceListing& listing)
{
    m_tree->setListing(listing);
    m_quarantine->setListing(listing);
    m_treeView->expandAll();
    m_quarantineLabel->setText(tr("Quarantine (%1)").arg(m_quarantine->rowCount()));
    if (!m_progress->isVisible())
        m_status->setText(
            tr("%n source(s), %1 document(s) in the workspace.", nullptr, int(listing.sources.size()))
                .arg(listing.summary.documents));
}

void SourcesPanel::clear()
{
    m_tree->clear();
    m_quarantine->clear();
    m_quarantineLabel->setText(tr("Quarantine"));
}

void SourcesPanel::ingestStarted()
{
    m_tree->beginIngest();
    m_progress->setRange(0, 0); // busy until the first progress says how many files
    m_progress->setVisible(true);
    m_cancel->setVisible(true);
    m_status->setText(tr("Scanning…"));
}

void SourcesPanel::ingestProgress(const ingest::IngestProgress& p)
{
    m_tree->ingestProgress(p);
    if (p.filesTotal > 0) {
        m_progress->setRange(0, int(p.filesTotal));
        m_progress->setValue(int(p.filesDone));
    }
    m_status->setText(tr("%1 of %2 files: %3")
                          .arg(p.filesDone)
                          .arg(p.filesTotal)
                          .arg(QString::fromStdString(p.currentPath).section('/', -1)));
}

void SourcesPanel::ingestFinished(const app::IngestReport& r)
{
    m_progress->setVisible(false);
    m_cancel->setVisible(false);
    QString text = tr("%1 file(s) found: %2 extracted, %3 unchanged, %4 partial, %5 quarantined, %6 skipped")
                       .arg(r.scanned)
                       .arg(r.ingested)
                       .arg(r.unchanged)
                       .arg(r.partial)
                       .arg(r.quarantined)
                       .arg(r.skipped);
    if (r.removed > 0)
        text += tr(", %1 removed").arg(r.removed);
    if (r.cancelled)
        text += tr(" (cancelled; what was stored stays)");
    m_status->setText(text + ".");
}

void SourcesPanel::ingestFailed(const QString& message)
{
    m_progress->setVisible(false);
    m_cancel->setVisible(false);
    m_status->setText(tr("Ingest failed: %1").arg(message));
}

void SourcesPanel::addFiles()
{
    const auto files = QFileDialog::getOpenFileNames(this, tr("Add files to the workspace"));
    if (!files.isEmpty())
        emit addPathsRequested(files);
}

void SourcesPanel::addFolder()
{
    const auto dir = QFileDialog::getExistingDirectory(this, tr("Add a folder to the workspace"));
    if (!dir.isEmpty())
        emit addPathsRequested({dir});
}

void SourcesPanel::dragEnterEvent(QDragEnterEvent* event)
{
    if (event->mimeData()->hasUrls()) {
        for (const auto& u : event->mimeData()->urls()) {
            if (u.isLocalFile()) {
                event->acceptProposedAction();
                return;
            }
        }
    }
    event->ignore();
}

void SourcesPanel::dropEvent(QDropEvent* event)
{
    QStringList paths;
    for (const auto& u : event->mimeData()->urls()) {
        if (u.isLocalFile())
            paths << u.toLocalFile();
    }
    if (paths.isEmpty())
        return event->ignore();
    event->acceptProposedAction();
    emit addPathsRequested(paths);
}

} // namespace quire::ui
