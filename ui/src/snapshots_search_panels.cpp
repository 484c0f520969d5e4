#include <algorithm>
#include <limits>

#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QShortcut>
#include <QPushButton>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include "quire/ui/panels.h"

namespace quire::ui {

// ---- SnapshotsPanel ------------------------------------------------------------------------

SnapshotsPanel::SnapshotsPanel(QWidget* parent) : QWidget(parent), m_model(new SnapshotModel(this))
{
    setObjectName("snapshotsPanel");
    auto* layout = new QVBoxLayout(this);
    m_view = new QTableView(this);
    m_view->setObjectName("snapshotTable");
    m_view->setModel(m_model);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_view->horizontalHeader()->setSectionResizeMode(SnapshotModel::NameColumn, QHeaderView::Stretch);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    layout->addWidget(m_view, 1);
    auto* row = new QHBoxLayout;
    auto* refresh = new QPushButton(tr("Re&fresh"), this);
    auto* restore = new QPushButton(tr("&Restore"), this);
    auto* branch = new QPushButton(tr("&Branch…"), this);
    auto* remove = new QPushButton(tr("&Delete"), this);
    restore->setObjectName("restoreSnapshot");
    branch->setObjectName("branchSnapshot");
    remove->setObjectName("deleteSnapshot");
    for (auto* b : {refresh, restore, branch, remove})
        row->addWidget(b);
    row->addStretch();
    layout->addLayout(row);
    auto* progressRow = new QHBoxLayout;
    m_progress = new QProgressBar(this);
    m_progress->setObjectName("restoreProgress");
    m_progress->setFormat(tr("%v of %m tokens"));
    m_stop = new QPushButton(tr("&Stop"), this);
    m_stop->setObjectName("stopRestore");
    m_stop->setToolTip(tr("Stop restoring (Esc); the session keeps the blocks restored so far"));
    progressRow->addWidget(m_progress, 1);
    progressRow->addWidget(m_stop);
    layout->addLayout(progressRow);
    m_progress->hide();
    m_stop->hide();
    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this, nullptr, nullptr, Qt::WidgetWithChildrenShortcut);
    connect(esc, &QShortcut::activated, this, [this] {
        if (restoring())
            emit stopRestoreRequested();
    });
    connect(m_stop, &QPushButton::clicked, this, &SnapshotsPanel::stopRestoreRequested);
    m_message = new QLabel(tr("Snapshots are saved prefixes of the context's KV cache."), this);
    m_message->setObjectName("snapshotMessage");
    m_message->setWordWrap(true);
    layout->addWidget(m_message);
    connect(refresh, &QPushButton::clicked, this, &SnapshotsPanel::refreshRequested);
    connect(restore, &QPushButton::clicked, this, &SnapshotsPanel::restoreSelected);
    connect(branch, &QPushButton::clicked, this, &SnapshotsPanel::branchSelected);
    connect(remove, &QPushButton::clicked, this, &SnapshotsPanel::deleteSelected);
    m_confirm = [this](const QString& text) {
        return QMessageBox::question(this, tr("Delete snapshot"), text) == QMessageBox::Yes;
    };
    m_prompt = [this] {
        return QInputDialog::getText(this, tr("Branch from snapshot"),
                                     tr("Name of the new line of questions:"));
    };
}

QString SnapshotsPanel::message() const
{
    return m_message->text();
}

void SnapshotsPanel::setSnapshots(const app::SnapshotListing& listing, const QString& lead)
{
    m_model->setSnapshots(listing.snapshots);
    const QString count = listing.snapshots.empty()
                              ? tr("No snapshots in this workspace yet.")
                              : tr("%n snapshot(s).", nullptr, int(listing.snapshots.size()));
    m_message->setText(lead.isEmpty() ? count : lead + QLatin1Char(' ') + count);
}

void SnapshotsPanel::showMessage(const QString& message)
{
    m_message->setText(message);
}

bool SnapshotsPanel::restoring() const
{
    return !m_stop->isHidden();
}

void SnapshotsPanel::restoreStarted(const QString& name)
{
    m_message->setText(tr("Restoring \"%1\"…").arg(name));
    m_progress->setRange(0, 0); // busy until the first block reports its total
    m_progress->show();
    m_stop->show();
    m_stop->setEnabled(true);
}

void SnapshotsPanel::restoreProgress(qint64 done, qint64 total)
{
    // Token counts fit an int up to 2^31: past that, the bar counts thousands.
    const int scale = total > std::numeric_limits<int>::max() ? 1000 : 1;
    m_progress->setRange(0, int(total / scale));
    m_progress->setValue(int(done / scale));
}

void SnapshotsPanel::restoreEnded(const QString& message)
{
    m_progress->hide();
    m_stop->hide();
    m_message->setText(message);
}

std::optional<storage::SnapshotRow> SnapshotsPanel::selected() const
{
    const auto rows = m_view->selectionModel()->selectedRows();
    if (rows.isEmpty()) {
        const_cast<SnapshotsPanel*>(this)->showMessage(tr("Select a snapshot first."));
        return std::nullopt;
    }
    return m_model->at(rows.first().row());
}

void SnapshotsPanel::restoreSelected()
{
    if (auto s = selected())
        emit restoreRequested(s->id);
}

void SnapshotsPanel::branchSelected()
{
    auto s = selected();
    if (!s)
        return;
    const QString name = m_prompt();
    if (!name.trimmed().isEmpty())
        emit branchRequested(s->id, name.trimmed());
}

void SnapshotsPanel::deleteSelected()
{
    auto s = selected();
    if (!s)
        return;
    if (m_confirm(tr("Delete the snapshot \"%1\"? Its blocks are freed when no other snapshot uses them.")
                      .arg(QString::fromStdString(s->name))))
        emit deleteRequested(s->id);
}

// ---- SearchPanel ---------------------------------------------------------------------------

SearchPanel::SearchPanel(QWidget* parent) : QWidget(parent), m_model(new SearchModel(this))
{
    setObjectName("searchPanel");
    auto* layout = new QVBoxLayout(this);
    m_query = new QLineEdit(this);
    m_query->setObjectName("searchBox");
    m_query->setPlaceholderText(tr("Search the workspace (Ctrl+F)"));
    m_query->setClearButtonEnabled(true);
    layout->addWidget(m_query);
    m_view = new QTableView(this);
    m_view->setObjectName("searchResults");
    m_view->setModel(m_model);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    layout->addWidget(m_view, 1);
    m_status = new QLabel(this);
    layout->addWidget(m_status);
    m_debounce = new QTimer(this);
    m_debounce->setSingleShot(true);
    m_debounce->setInterval(250);
    connect(m_query, &QLineEdit::textChanged, m_debounce, qOverload<>(&QTimer::start));
    connect(m_query, &QLineEdit::returnPressed, this, [this] {
        m_debounce->stop();
        if (!m_query->text().trimmed().isEmpty())
            emit searchRequested(m_query->text().trimmed());
    });
    connect(m_debounce, &QTimer::timeout, this, [this] {
        if (m_query->text().trimmed().size() >= 2)
            emit searchRequested(m_query->text().trimmed());
    });
    connect(m_view, &QTableView::activated, this, [this](const QModelIndex& i) { activateRow(i.row()); });
}

CitationTarget SearchPanel::targetFor(const app::SearchResultLine& h)
{
    CitationTarget t;
    t.documentId = h.hit.documentId;
    t.docNumber = h.docNumber;
    t.path = QString::fromStdString(h.hit.path);
    t.title = QString::fromStdString(h.hit.title);
    t.anchor = h.hit.anchor;
    t.label = QString::fromStdString(h.mark);
    // In a line range, show the lines of the first match rather than the whole segment.
    auto* lines = std::get_if<ingest::LineAnchor>(&t.anchor.where);
    if (lines && !h.hit.matches.empty()) {
        const auto& m = h.hit.matches.front();
        const std::string& text = h.hit.text;
        const auto upTo = [&](std::int64_t offset) {
            const auto end = text.begin() + std::clamp<std::int64_t>(offset, 0, std::int64_t(text.size()));
            return int(std::count(text.begin(), end, '\n'));
        };
        const int first = lines->lineBegin + upTo(m.begin);
        const int last = lines->lineBegin + upTo(std::max(m.begin, m.end - 1));
        if (first <= lines->lineEnd)
            *lines = ingest::LineAnchor{first, std::min(last, lines->lineEnd)};
    }
    return t;
}

void SearchPanel::setResults(const std::vector<app::SearchResultLine>& hits)
{
    m_model->setHits(hits);
    m_view->resizeColumnToContents(SearchModel::PlaceColumn);
    m_status->setText(tr("%n hit(s)", nullptr, int(hits.size())));
}

void SearchPanel::searchFailed(const QString& message)
{
    m_model->setHits({});
    m_status->setText(message);
}

void SearchPanel::activateRow(int row)
{
    if (row >= 0 && row < m_model->rowCount())
        emit hitActivated(targetFor(m_model->at(row)));
}

} // namespace quire::ui
