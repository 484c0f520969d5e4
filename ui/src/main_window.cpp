#include "quire/ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStatusBar>
#include <QVBoxLayout>

#include "quire/app/version.h"

namespace quire::ui {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent)
{
    setObjectName("MainWindow");
    setWindowTitle(tr("Quire"));
    setWindowIcon(QIcon(":/quire/icons/quire.svg"));
    resize(1200, 800);

    auto* central = new QWidget(this);
    auto* layout = new QVBoxLayout(central);
    m_transcript = new QPlainTextEdit(central);
    m_transcript->setObjectName("transcript");
    m_transcript->setReadOnly(true);
    m_transcript->setPlaceholderText(tr("Add sources to a workspace, prefill, then ask a question."));
    m_question = new QLineEdit(central);
    m_question->setObjectName("question");
    m_question->setPlaceholderText(tr("Ask about the whole workspace (Ctrl+L)"));
    layout->addWidget(m_transcript, 1);
    layout->addWidget(m_question);
    setCentralWidget(central);

    auto* workspaceDock = new QDockWidget(tr("Workspaces"), this);
    workspaceDock->setObjectName("workspacesDock");
    m_workspaces = new QListWidget(workspaceDock);
    m_workspaces->setObjectName("workspaces");
    workspaceDock->setWidget(m_workspaces);
    addDockWidget(Qt::LeftDockWidgetArea, workspaceDock);

    auto* sourcesDock = new QDockWidget(tr("Sources"), this);
    sourcesDock->setObjectName("sourcesDock");
    sourcesDock->setWidget(new QLabel(tr("No sources yet."), sourcesDock));
    addDockWidget(Qt::RightDockWidgetArea, sourcesDock);

    createActions();
    statusBar()->showMessage(tr("Ready"));
    restoreLayout();
}

void MainWindow::createActions()
{
    auto* fileMenu = menuBar()->addMenu(tr("&File"));
    auto* quit = fileMenu->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    auto* editMenu = menuBar()->addMenu(tr("&Edit"));
    auto* ask = editMenu->addAction(tr("Focus &question"), this, [this] { m_question->setFocus(); });
    ask->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));

    auto* helpMenu = menuBar()->addMenu(tr("&Help"));
    helpMenu->addAction(tr("&About Quire"), this, [this] {
        QMessageBox::about(this, tr("About Quire"),
                           tr("<b>Quire %1</b><p>Long-context document analysis, on your machine.</p>")
                               .arg(QStringLiteral(QUIRE_VERSION)));
    });
}

void MainWindow::restoreLayout()
{
    QSettings settings;
    restoreGeometry(settings.value("mainWindow/geometry").toByteArray());
    restoreState(settings.value("mainWindow/state").toByteArray());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings;
    settings.setValue("mainWindow/geometry", saveGeometry());
    settings.setValue("mainWindow/state", saveState());
    event->accept();
}

}  // namespace quire::ui
