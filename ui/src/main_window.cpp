// The main window: construction, and the slots the panels, menus and tests call. Service wiring
// is in main_window_wiring.cpp, menus and shortcuts in main_window_actions.cpp, docks and the
// remembered layout in main_window_layout.cpp.
#include "quire/ui/main_window.h"

#include <QDockWidget>
#include <QFutureWatcher>
#include <QLabel>
#include <QListView>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QtConcurrent/QtConcurrentRun>

#include "main_window_keys.h"
#include "quire/app/answer_service.h"
#include "quire/app/library_service.h"
#include "quire/app/samples.h"
#include "quire/app/search_service.h"
#include "quire/app/workspace_service.h"
#include "quire/ui/document_viewer.h"
#include "quire/ui/panels.h"
#include "quire/ui/settings_dialog.h"

namespace quire::ui {

namespace {

void registerMetaTypes()
{
    qRegisterMetaType<app::WorkspaceSummary>();
    qRegisterMetaType<app::WorkspaceListing>();
    qRegisterMetaType<app::IngestReport>();
    qRegisterMetaType<ingest::IngestProgress>();
    qRegisterMetaType<app::BudgetResult>();
    qRegisterMetaType<app::PrefillResult>();
    qRegisterMetaType<app::AnswerRecord>();
    qRegisterMetaType<std::vector<app::WorkspaceSummary>>();
    qRegisterMetaType<std::vector<app::SearchResultLine>>();
    qRegisterMetaType<app::DocumentContent>();
    qRegisterMetaType<app::SnapshotListing>();
    qRegisterMetaType<app::SessionListing>();
    qRegisterMetaType<app::SessionHistory>();
}

} // namespace

MainWindow::MainWindow(app::ServiceConfig config, EngineSettings engine, MainWindowOptions options,
                       QWidget* parent)
    : QMainWindow(parent), m_config(std::move(config)), m_engine(std::move(engine)), m_options(options)
{
    registerMetaTypes();
    setObjectName("MainWindow");
    setWindowTitle(tr("Quire"));
    setWindowIcon(QIcon(":/quire/icons/quire.svg"));
    resize(1280, 820);
    setAcceptDrops(true);
    m_config.engine = m_engine.toEngineOptions();
    createServices();

    m_split = new QSplitter(Qt::Horizontal, this);
    m_split->setObjectName("centralSplit");
    m_chat = new ChatPanel(m_split);
    m_viewer = new DocumentViewer(m_library.get(), m_split);
    m_split->setStretchFactor(0, 3);
    m_split->setStretchFactor(1, 2);
    setCentralWidget(m_split);
    createDocks();
    createActions();
    m_modelLabel = new QLabel(tr("Model: %1 (loads on first use)")
                                  .arg(QString::fromStdString(m_config.engine.modelPath.filename().string())),
                              this);
    statusBar()->addPermanentWidget(m_modelLabel);
    status(tr("Ready"));
    restoreLayout();
    connectPanels();

    m_chat->setEnabledForWorkspace(false);
    m_firstRunPending = m_options.firstRun;
    if (m_firstRunPending)
        startFirstRun();
    else
        refreshWorkspaces();
}

MainWindow::~MainWindow()
{
    // Services cancel their work and join their threads; the answer service first (the longest).
    m_answers.reset();
    m_workspaces.reset();
}

QDockWidget* MainWindow::dock(const QString& objectName) const
{
    return findChild<QDockWidget*>(objectName);
}

void MainWindow::status(const QString& message)
{
    statusBar()->showMessage(message, 10000);
}

// ---- slots ---------------------------------------------------------------------------------

void MainWindow::refreshWorkspaces()
{
    m_listId = m_workspaces->listWorkspaces();
}

void MainWindow::selectWorkspace(const QString& name)
{
    if (name.isEmpty())
        return;
    if (m_prefillId != 0 && name != m_current)
        cancelPrefill();
    m_current = name;
    QSettings().setValue(kLastWorkspace, name);
    setWindowTitle(tr("%1 — Quire").arg(name));
    const int row = m_workspaceModel->rowOf(name);
    if (row >= 0 && m_workspaceView->currentIndex().row() != row)
        m_workspaceView->setCurrentIndex(m_workspaceModel->index(row));
    m_sources->clear();
    m_budget->clear();
    m_chat->clear();
    m_chat->setEnabledForWorkspace(true);
    m_search->setResults({});
    m_sourcesId = m_workspaces->listSources(name);
    m_historyId = m_library->history(name);
    requestBudget();
    refreshSnapshots();
    if (QSettings().value(kPendingPrefill).toString() == name)
        m_budget->setResumable(name);
}

void MainWindow::createWorkspace(const QString& name)
{
    if (!name.trimmed().isEmpty())
        m_createId = m_workspaces->createWorkspace(name.trimmed());
}

void MainWindow::removeWorkspace(const QString& name)
{
    if (name == m_current && m_prefillId != 0)
        cancelPrefill();
    m_workspaces->removeWorkspace(name);
}

void MainWindow::addPaths(const QStringList& paths)
{
    if (m_current.isEmpty()) {
        status(tr("Create or choose a workspace first."));
        return;
    }
    if (m_ingestId != 0) {
        status(tr("An ingest is running; wait for it or cancel it."));
        return;
    }
    m_sources->ingestStarted();
    m_ingestId =
        paths.isEmpty() ? m_workspaces->ingest(m_current) : m_workspaces->addSources(m_current, paths);
}

void MainWindow::requestBudget()
{
    if (m_current.isEmpty())
        return;
    m_budget->setBudgetPending();
    m_budgetId = m_answers->budget(m_current, m_options.measureBudget);
}

void MainWindow::startPrefill()
{
    if (m_current.isEmpty() || m_prefillId != 0)
        return;
    m_pausing = false;
    QSettings().setValue(kPendingPrefill, m_current);
    m_budget->prefillStarted();
    m_prefillId = m_answers->prefill(m_current);
}

void MainWindow::pausePrefill()
{
    if (m_prefillId == 0)
        return;
    m_pausing = true;
    m_answers->cancel(m_prefillId);
}

void MainWindow::cancelPrefill()
{
    if (m_prefillId != 0) {
        m_pausing = false;
        m_answers->cancel(m_prefillId);
    } else if (m_budget->prefillState() == BudgetPanel::PrefillState::Paused) {
        QSettings().remove(kPendingPrefill);
        m_budget->prefillFailed(tr("Prefill cancelled."));
    }
}

void MainWindow::ask(const QString& question)
{
    if (m_current.isEmpty() || m_askId != 0)
        return;
    m_chat->answerStarted(question);
    app::AskRequest r;
    r.workspace = m_current;
    r.question = question;
    r.maxTokens = m_engine.maxAnswerTokens;
    m_askId = m_answers->ask(r);
}

void MainWindow::stopAnswer()
{
    if (m_askId != 0)
        m_answers->cancel(m_askId);
}

void MainWindow::openTarget(const CitationTarget& target)
{
    m_viewer->open(target);
    status(tr("Opened %1").arg(target.label));
}

void MainWindow::search(const QString& query)
{
    if (!m_current.isEmpty())
        m_searchId = m_searchService->search(m_current, query, 30);
}

void MainWindow::refreshSnapshots()
{
    if (!m_current.isEmpty())
        m_snapshotsId = m_library->snapshots(m_current);
}

void MainWindow::exportSessionTo(const QString& path)
{
    if (m_current.isEmpty())
        return;
    m_exportPath = path;
    m_exportId = m_library->exportSession(m_current);
}

void MainWindow::applyEngineSettings(const EngineSettings& settings)
{
    // Every setting but the answer length is the engine's: any change makes a new one.
    EngineSettings sameAnswers = settings;
    sameAnswers.maxAnswerTokens = m_engine.maxAnswerTokens;
    const bool engineChanged = !(sameAnswers == m_engine);
    m_engine = settings;
    m_engine.save();
    if (!engineChanged)
        return;
    // A new engine: the running prefill or answer is cancelled with the old service.
    m_config.engine = m_engine.toEngineOptions();
    m_prefillId = m_askId = m_budgetId = 0;
    m_budget->clear();
    if (m_chat->busy())
        m_chat->answerFailed(tr("Stopped: the engine settings changed."));
    createAnswerService();
    m_modelLabel->setText(tr("Model: %1 (loads on first use)")
                              .arg(QString::fromStdString(m_config.engine.modelPath.filename().string())));
    requestBudget();
}

void MainWindow::showSettings()
{
    SettingsDialog d(m_engine, this);
    if (d.exec() == QDialog::Accepted)
        applyEngineSettings(d.settings());
}

void MainWindow::startFirstRun()
{
    status(tr("First start: setting up the sample workspace…"));
    const QString dataDir = m_config.dataDir;
    auto* watcher = new QFutureWatcher<QString>(this);
    connect(watcher, &QFutureWatcher<QString>::finished, this, [this, watcher] {
        const QString error = watcher->result();
        watcher->deleteLater();
        if (!error.isEmpty()) {
            status(tr("The sample files could not be written: %1").arg(error));
            m_firstRunPending = false;
            refreshWorkspaces();
            return;
        }
        QSettings().setValue("firstRun/done", true);
        // Creating fails harmlessly when it exists; the sample folder is ingested either way.
        m_createId = m_workspaces->createWorkspace(app::kSampleWorkspace);
        connect(
            m_workspaces.get(), &app::WorkspaceService::failed, this,
            [this](quint64 id, const QString&) {
                if (id == m_createId && m_firstRunPending) {
                    m_firstRunPending = false;
                    m_pendingSelect = app::kSampleWorkspace;
                    selectWorkspace(app::kSampleWorkspace);
                    addPaths({app::samplesFolder(m_config.dataDir)});
                    refreshWorkspaces();
                }
            },
            Qt::SingleShotConnection);
    });
    watcher->setFuture(QtConcurrent::run([dataDir]() -> QString {
        auto r = app::installSamples(dataDir);
        return r ? QString() : QString::fromStdString(r.error());
    }));
}

} // namespace quire::ui
