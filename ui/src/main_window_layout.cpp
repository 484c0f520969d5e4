// The main window's layout: the docks around the chat and the viewer, files dropped on the
// window, and the geometry, dock state and splitter remembered in QSettings across starts.
#include "quire/ui/main_window.h"

#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QListView>
#include <QMimeData>
#include <QSettings>
#include <QSplitter>
#include <QTimer>

#include "quire/ui/models.h"
#include "quire/ui/panels.h"

namespace quire::ui {

void MainWindow::createDocks()
{
    auto makeDock = [this](const QString& title, const char* name, QWidget* w, Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        return d;
    };
    m_workspaceModel = new WorkspaceModel(this);
    m_workspaceView = new QListView(this);
    m_workspaceView->setObjectName("workspaces");
    m_workspaceView->setModel(m_workspaceModel);
    m_workspaceView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    connect(m_workspaceView->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& i) {
                // A refreshed list re-selects the current workspace: that must not reset it.
                if (i.isValid() && i.data(WorkspaceModel::NameRole).toString() != m_current)
                    selectWorkspace(i.data(WorkspaceModel::NameRole).toString());
            });
    makeDock(tr("Workspaces"), "workspacesDock", m_workspaceView, Qt::LeftDockWidgetArea);
    m_search = new SearchPanel(this);
    makeDock(tr("Search"), "searchDock", m_search, Qt::LeftDockWidgetArea);
    m_sources = new SourcesPanel(this);
    auto* sources = makeDock(tr("Sources"), "sourcesDock", m_sources, Qt::RightDockWidgetArea);
    m_budget = new BudgetPanel(this);
    auto* budget = makeDock(tr("Budget and prefill"), "budgetDock", m_budget, Qt::RightDockWidgetArea);
    m_snapshots = new SnapshotsPanel(this);
    auto* snaps = makeDock(tr("Snapshots"), "snapshotsDock", m_snapshots, Qt::RightDockWidgetArea);
    tabifyDockWidget(sources, budget);
    tabifyDockWidget(budget, snaps);
    sources->raise();
}

void MainWindow::restoreLayout()
{
    QSettings settings;
    restoreGeometry(settings.value("mainWindow/geometry").toByteArray());
    if (!restoreState(settings.value("mainWindow/state").toByteArray())) {
        // First-start proportions: the chat and the viewer get most of the width.
        QTimer::singleShot(0, this, [this] {
            resizeDocks({dock("workspacesDock"), dock("sourcesDock")}, {width() / 6, width() * 3 / 10},
                        Qt::Horizontal);
        });
    }
    m_split->restoreState(settings.value("mainWindow/split").toByteArray());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    for (const auto& u : event->mimeData()->urls()) {
        if (u.isLocalFile() && !m_current.isEmpty()) {
            event->acceptProposedAction();
            return;
        }
    }
    event->ignore();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    QStringList paths;
    for (const auto& u : event->mimeData()->urls()) {
        if (u.isLocalFile())
            paths << u.toLocalFile();
    }
    if (paths.isEmpty() || m_current.isEmpty())
        return event->ignore();
    event->acceptProposedAction();
    addPaths(paths);
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings;
    settings.setValue("mainWindow/geometry", saveGeometry());
    settings.setValue("mainWindow/state", saveState());
    settings.setValue("mainWindow/split", m_split->saveState());
    event->accept();
}

} // namespace quire::ui
