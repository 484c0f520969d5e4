// The main window's menus: every action with its shortcut.
#include "quire/ui/main_window.h"

#include <QAction>
#include <QDockWidget>
#include <QFileDialog>
#include <QInputDialog>
#include <QLineEdit>
#include <QListView>
#include <QMenuBar>
#include <QMessageBox>
#include <QTableView>
#include <QTreeView>

#include "quire/app/version.h"
#include "quire/app/workspace_service.h"
#include "quire/ui/document_viewer.h"
#include "quire/ui/panels.h"

namespace quire::ui {

// Shortcuts are spelled out rather than QKeySequence::StandardKey: some platform themes (the
// offscreen one among them) leave standard keys such as Quit empty.
void MainWindow::createActions()
{
    auto add = [this](QMenu* menu, const QString& text, const QKeySequence& key, auto slot) {
        QAction* a = menu->addAction(text);
        a->setShortcut(key);
        a->setShortcutContext(Qt::WindowShortcut);
        connect(a, &QAction::triggered, this, slot);
        return a;
    };
    auto* file = menuBar()->addMenu(tr("&File"));
    add(file, tr("&New workspace…"), QKeySequence(Qt::CTRL | Qt::Key_N), [this] {
        const QString name = QInputDialog::getText(this, tr("New workspace"), tr("Name:"));
        createWorkspace(name);
    });
    add(file, tr("Add &files…"), QKeySequence(Qt::CTRL | Qt::Key_O), [this] { m_sources->addFiles(); });
    add(file, tr("Add fol&der…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O),
        [this] { m_sources->addFolder(); });
    file->addSeparator();
    add(file, tr("Export session as &Markdown…"), QKeySequence(Qt::CTRL | Qt::Key_E), [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Export session"), m_current + ".md",
                                                       tr("Markdown (*.md)"));
        if (!p.isEmpty())
            exportSessionTo(p);
    });
    add(file, tr("Export session as &PDF…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), [this] {
        const QString p =
            QFileDialog::getSaveFileName(this, tr("Export session"), m_current + ".pdf", tr("PDF (*.pdf)"));
        if (!p.isEmpty())
            exportSessionTo(p);
    });
    file->addSeparator();
    add(file, tr("&Settings…"), QKeySequence(Qt::CTRL | Qt::Key_Comma), [this] { showSettings(); });
    add(file, tr("&Quit"), QKeySequence(Qt::CTRL | Qt::Key_Q), [this] { close(); });

    auto* ws = menuBar()->addMenu(tr("&Workspace"));
    add(ws, tr("&Refresh"), QKeySequence(Qt::Key_F5), [this] {
        refreshWorkspaces();
        if (!m_current.isEmpty())
            m_sourcesId = m_workspaces->listSources(m_current);
    });
    add(ws, tr("Re-&ingest sources"), QKeySequence(Qt::CTRL | Qt::Key_R), [this] { addPaths({}); });
    add(ws, tr("&Cancel ingest"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_K),
        [this] { m_workspaces->cancel(m_ingestId); });
    add(ws, tr("Remove selected &sources"), QKeySequence(Qt::CTRL | Qt::Key_Delete), [this] {
        const auto paths = m_sources->selectedPaths();
        if (!paths.isEmpty() && !m_current.isEmpty())
            m_workspaces->removeSources(m_current, paths);
    });
    add(ws, tr("Remove &workspace…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_W), [this] {
        if (m_current.isEmpty())
            return;
        if (QMessageBox::question(
                this, tr("Remove workspace"),
                tr("Remove the workspace \"%1\" with its documents, sessions and snapshots? "
                   "The source files stay where they are.")
                    .arg(m_current)) == QMessageBox::Yes)
            removeWorkspace(m_current);
    });
    ws->addSeparator();
    add(ws, tr("Token &budget"), QKeySequence(Qt::CTRL | Qt::Key_B), [this] {
        dock("budgetDock")->raise();
        requestBudget();
    });
    const QAction* prefill = add(ws, tr("&Prefill / resume"), QKeySequence(Qt::CTRL | Qt::Key_P), [this] {
        dock("budgetDock")->raise();
        startPrefill();
    });
    m_budget->setPrefillShortcut(prefill->shortcut());
    add(ws, tr("P&ause prefill"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P), [this] { pausePrefill(); });
    add(ws, tr("Cancel pre&fill"), QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_P), [this] { cancelPrefill(); });

    auto* chat = menuBar()->addMenu(tr("&Chat"));
    add(chat, tr("Focus &question"), QKeySequence(Qt::CTRL | Qt::Key_L),
        [this] { m_chat->questionEdit()->setFocus(); });
    add(chat, tr("&Stop answer"), QKeySequence(Qt::CTRL | Qt::Key_Period), [this] { stopAnswer(); });
    add(chat, tr("&Search the workspace"), QKeySequence(Qt::CTRL | Qt::Key_F), [this] {
        dock("searchDock")->raise();
        m_search->queryEdit()->setFocus();
        m_search->queryEdit()->selectAll();
    });

    auto* snaps = menuBar()->addMenu(tr("S&napshots"));
    add(snaps, tr("&Refresh"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R),
        [this] { refreshSnapshots(); });
    add(snaps, tr("Re&store selected"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S),
        [this] { m_snapshots->restoreSelected(); });
    add(snaps, tr("&Branch from selected…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_B),
        [this] { m_snapshots->branchSelected(); });
    add(snaps, tr("&Delete selected"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Delete),
        [this] { m_snapshots->deleteSelected(); });

    auto* view = menuBar()->addMenu(tr("&View"));
    const char* docks[] = {"workspacesDock", "searchDock", "sourcesDock", "budgetDock", "snapshotsDock"};
    int n = 1;
    for (const char* name : docks) {
        QAction* t = dock(name)->toggleViewAction();
        t->setShortcut(QKeySequence(Qt::ALT | Qt::SHIFT | Qt::Key(Qt::Key_0 + n++)));
        view->addAction(t);
    }
    add(view, tr("Focus &workspaces"), QKeySequence(Qt::CTRL | Qt::Key_1),
        [this] { m_workspaceView->setFocus(); });
    add(view, tr("Focus &sources"), QKeySequence(Qt::CTRL | Qt::Key_2), [this] {
        dock("sourcesDock")->raise();
        m_sources->treeView()->setFocus();
    });
    add(view, tr("Focus &budget"), QKeySequence(Qt::CTRL | Qt::Key_3),
        [this] { dock("budgetDock")->raise(); });
    add(view, tr("Focus s&napshots"), QKeySequence(Qt::CTRL | Qt::Key_4), [this] {
        dock("snapshotsDock")->raise();
        m_snapshots->view()->setFocus();
    });
    add(view, tr("Focus &viewer"), QKeySequence(Qt::CTRL | Qt::Key_5), [this] { m_viewer->setFocus(); });

    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Quire"), QKeySequence(Qt::SHIFT | Qt::Key_F1), this, [this] {
        QMessageBox::about(this, tr("About Quire"),
                           tr("<b>Quire %1</b><p>Long-context document analysis, on your machine.</p>")
                               .arg(QStringLiteral(QUIRE_VERSION)));
    });
}

} // namespace quire::ui
