#include "quire/ui/main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFutureWatcher>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QTextDocument>
#include <QTimer>
#include <QTreeView>
#include <QtConcurrent/QtConcurrentRun>

#include "quire/app/answer_service.h"
#include "quire/app/library_service.h"
#include "quire/app/samples.h"
#include "quire/app/search_service.h"
#include "quire/app/version.h"
#include "quire/app/workspace_service.h"
#include "quire/ui/document_viewer.h"
#include "quire/ui/panels.h"
#include "quire/ui/settings_dialog.h"
#include "quire/ui/stored_answer.h"

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

constexpr const char* kPendingPrefill = "prefill/pending";

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

    connect(m_chat, &ChatPanel::askRequested, this, &MainWindow::ask);
    connect(m_chat, &ChatPanel::stopRequested, this, &MainWindow::stopAnswer);
    connect(m_chat, &ChatPanel::citationActivated, this, &MainWindow::openTarget);
    connect(m_chat, &ChatPanel::citationUnavailable, this, &MainWindow::status);
    connect(m_search, &SearchPanel::searchRequested, this, &MainWindow::search);
    connect(m_search, &SearchPanel::hitActivated, this, &MainWindow::openTarget);
    connect(m_sources, &SourcesPanel::addPathsRequested, this, &MainWindow::addPaths);
    connect(m_sources, &SourcesPanel::removeRequested, this, [this](const QStringList& paths) {
        if (!m_current.isEmpty())
            m_workspaces->removeSources(m_current, paths);
    });
    connect(m_sources, &SourcesPanel::reingestRequested, this, [this] { addPaths({}); });
    connect(m_sources, &SourcesPanel::cancelRequested, this, [this] { m_workspaces->cancel(m_ingestId); });
    connect(m_budget, &BudgetPanel::budgetRequested, this, &MainWindow::requestBudget);
    connect(m_budget, &BudgetPanel::prefillRequested, this, &MainWindow::startPrefill);
    connect(m_budget, &BudgetPanel::pauseRequested, this, &MainWindow::pausePrefill);
    connect(m_budget, &BudgetPanel::cancelRequested, this, &MainWindow::cancelPrefill);
    connect(m_budget, &BudgetPanel::inclusionChanged, this, [this](int doc, bool include) {
        if (m_current.isEmpty())
            return;
        std::set<int> in, out;
        (include ? in : out).insert(doc);
        m_workspaces->configure(m_current, std::nullopt, out, in);
    });
    connect(m_snapshots, &SnapshotsPanel::refreshRequested, this, &MainWindow::refreshSnapshots);
    connect(m_snapshots, &SnapshotsPanel::deleteRequested, this,
            [this](qint64 id) { m_library->removeSnapshot(id); });
    connect(m_snapshots, &SnapshotsPanel::restoreRequested, this, [this](qint64 id) {
        QString name;
        for (int r = 0; r < m_snapshots->model()->rowCount(); ++r) {
            if (m_snapshots->model()->at(r).id == id)
                name = QString::fromStdString(m_snapshots->model()->at(r).name);
        }
        if (name.isEmpty() || m_current.isEmpty() || !m_answers) {
            m_snapshots->showMessage(tr("Open a workspace and select one of its snapshots."));
            return;
        }
        m_snapshots->showMessage(tr("Restoring \"%1\"…").arg(name));
        m_restoreId = m_answers->restoreSnapshot(m_current, name);
    });
    connect(m_snapshots, &SnapshotsPanel::branchRequested, this,
            [this](qint64 id, const QString& name) { m_library->branchSnapshot(id, name); });

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

// ---- services ------------------------------------------------------------------------------

void MainWindow::createServices()
{
    m_workspaces = std::make_unique<app::WorkspaceService>(m_config);
    m_searchService = std::make_unique<app::SearchService>(m_config);
    m_library = std::make_unique<app::LibraryService>(m_config);
    createAnswerService();
    auto* ws = m_workspaces.get();
    connect(ws, &app::WorkspaceService::workspacesListed, this,
            [this](quint64, const std::vector<app::WorkspaceSummary>& all) {
                const QString keep = !m_pendingSelect.isEmpty() ? m_pendingSelect : m_current;
                m_workspaceModel->setWorkspaces(all);
                QString want = keep;
                if (want.isEmpty())
                    want = QSettings().value("ui/workspace").toString();
                int row = m_workspaceModel->rowOf(want);
                if (row < 0 && m_workspaceModel->rowCount() > 0)
                    row = 0;
                if (row >= 0) {
                    m_workspaceView->setCurrentIndex(m_workspaceModel->index(row));
                    const QString name = m_workspaceModel->at(row).name.c_str();
                    if (name != m_current)
                        selectWorkspace(name);
                } else {
                    m_current.clear();
                    m_sources->clear();
                    m_budget->clear();
                    m_chat->clear();
                    m_chat->setEnabledForWorkspace(false);
                    m_snapshots->setSnapshots({});
                    setWindowTitle(tr("Quire"));
                }
                m_pendingSelect.clear();
            });
    connect(ws, &app::WorkspaceService::workspaceCreated, this,
            [this](quint64 id, const app::WorkspaceSummary& w) {
                m_pendingSelect = QString::fromStdString(w.name);
                status(tr("Created workspace %1").arg(m_pendingSelect));
                if (id == m_createId && m_firstRunPending) {
                    m_firstRunPending = false;
                    selectWorkspace(m_pendingSelect);
                    addPaths({app::samplesFolder(m_config.dataDir)});
                }
                refreshWorkspaces();
            });
    connect(ws, &app::WorkspaceService::sourcesListed, this,
            [this](quint64 id, const app::WorkspaceListing& l) {
                if (id == m_sourcesId)
                    m_sources->setListing(l);
            });
    connect(ws, &app::WorkspaceService::ingestProgress, this,
            [this](quint64 id, const ingest::IngestProgress& p) {
                if (id == m_ingestId)
                    m_sources->ingestProgress(p);
            });
    connect(ws, &app::WorkspaceService::ingestFinished, this, [this](quint64 id, const app::IngestReport& r) {
        if (id != m_ingestId)
            return;
        m_ingestId = 0;
        m_sources->ingestFinished(r);
        m_sourcesId = m_workspaces->listSources(m_current);
        requestBudget();
        refreshWorkspaces();
    });
    connect(ws, &app::WorkspaceService::sourcesRemoved, this, [this](quint64, int n) {
        status(tr("Removed %n source(s)", nullptr, n));
        m_sourcesId = m_workspaces->listSources(m_current);
        requestBudget();
    });
    connect(ws, &app::WorkspaceService::configured, this, [this](quint64, const app::WorkspaceSummary&) {
        m_sourcesId = m_workspaces->listSources(m_current);
        requestBudget();
    });
    connect(ws, &app::WorkspaceService::workspaceRemoved, this, [this](quint64) {
        m_current.clear();
        refreshWorkspaces();
    });
    connect(ws, &app::WorkspaceService::failed, this, &MainWindow::onWorkspaceFailed);

    connect(m_searchService.get(), &app::SearchService::results, this,
            [this](quint64 id, const std::vector<app::SearchResultLine>& hits) {
                if (id == m_searchId)
                    m_search->setResults(hits);
            });
    connect(m_searchService.get(), &app::SearchService::failed, this, [this](quint64 id, const QString& m) {
        if (id == m_searchId)
            m_search->searchFailed(m);
    });

    connect(m_library.get(), &app::LibraryService::snapshotsListed, this,
            [this](quint64 id, const app::SnapshotListing& l) {
                if (id == m_snapshotsId)
                    m_snapshots->setSnapshots(l);
            });
    connect(m_library.get(), &app::LibraryService::historyLoaded, this,
            [this](quint64 id, const app::SessionHistory& h) {
                if (id != m_historyId || m_chat->turnCount() > 0)
                    return;
                std::vector<app::AnswerRecord> records;
                for (const auto& t : h.turns)
                    records.push_back(recordFromTurn(t));
                m_chat->setHistory(records);
                if (!records.empty())
                    status(tr("Showing %n earlier answer(s) of \"%1\"", nullptr, int(records.size()))
                               .arg(QString::fromStdString(h.session.name)));
            });
    connect(m_library.get(), &app::LibraryService::snapshotRemoved, this, [this](quint64, qint64) {
        m_snapshots->showMessage(tr("Snapshot deleted; blocks no other snapshot uses were freed."));
        refreshSnapshots();
    });
    connect(m_library.get(), &app::LibraryService::snapshotBranched, this,
            [this](quint64, qint64, const QString& name) {
                m_snapshots->showMessage(tr("Branch \"%1\" made: it shares the snapshot's blocks.").arg(name));
                refreshSnapshots();
            });
    connect(m_library.get(), &app::LibraryService::sessionExported, this,
            [this](quint64 id, const QString& md, int turns) {
                if (id != m_exportId)
                    return;
                const QString path = m_exportPath;
                bool ok = false;
                QString message;
                if (path.endsWith(".pdf", Qt::CaseInsensitive)) {
                    QTextDocument doc;
                    doc.setMarkdown(md);
                    QPdfWriter writer(path);
                    writer.setTitle(tr("Quire session: %1").arg(m_current));
                    writer.setPageSize(QPageSize(QPageSize::A4));
                    writer.setResolution(150);
                    doc.setPageSize(QSizeF(writer.width(), writer.height()));
                    doc.print(&writer);
                    ok = QFileInfo(path).size() > 0;
                } else {
                    QSaveFile f(path);
                    ok = f.open(QIODevice::WriteOnly) && f.write(md.toUtf8()) >= 0 && f.commit();
                }
                message = ok ? tr("Exported %n turn(s) to %1", nullptr, turns).arg(path)
                             : tr("Cannot write %1").arg(path);
                status(message);
                emit exported(path, ok, message);
            });
    connect(m_library.get(), &app::LibraryService::failed, this, [this](quint64 id, const QString& m) {
        if (id == m_exportId) {
            status(tr("Export failed: %1").arg(m));
            emit exported(m_exportPath, false, m);
        } else if (id == m_snapshotsId) {
            m_snapshots->showMessage(m);
        } else {
            m_snapshots->showMessage(m); // restore, branch, delete
        }
    });
}

void MainWindow::createAnswerService()
{
    m_answers = std::make_unique<app::AnswerService>(m_config);
    auto* a = m_answers.get();
    connect(a, &app::AnswerService::modelLoaded, this, [this](quint64, const QString& name, int window) {
        m_modelLabel->setText(tr("Model: %1, %2-token window, %3")
                                  .arg(name)
                                  .arg(window)
                                  .arg(QString::fromStdString(m_config.engine.backend)));
    });
    connect(a, &app::AnswerService::budgetReady, this, [this](quint64 id, const app::BudgetResult& r) {
        if (id == m_budgetId)
            m_budget->setBudget(r);
    });
    connect(a, &app::AnswerService::prefillProgress, this, [this](quint64 id, qint64 done, qint64 total) {
        if (id == m_prefillId)
            m_budget->prefillProgress(done, total);
        else if (id == m_askId)
            status(tr("Preparing the context: %1 of %2 tokens").arg(done).arg(total));
    });
    connect(a, &app::AnswerService::prefilled, this, [this](quint64 id, const app::PrefillResult& r) {
        if (id != m_prefillId)
            return;
        m_prefillId = 0;
        QSettings().remove(kPendingPrefill);
        m_budget->prefillFinished(r);
        refreshSnapshots();
        // The measured speed now gives the budget its estimate.
        m_budgetId = m_answers->budget(m_current, false);
    });
    connect(a, &app::AnswerService::answerText, this, [this](quint64 id, const QString& text) {
        if (id == m_askId)
            m_chat->appendAnswerText(text);
    });
    connect(a, &app::AnswerService::answered, this, [this](quint64 id, const app::AnswerRecord& r) {
        if (id != m_askId)
            return;
        m_askId = 0;
        m_chat->answerFinished(r);
        status(tr("Answered: %1 usable and %2 flagged citation(s)")
                   .arg(r.outcome.check.usableCitations())
                   .arg(r.outcome.check.flaggedCitations()));
    });
    connect(a, &app::AnswerService::snapshotRestored, this,
            [this](quint64 id, const QString& message, qint64 held) {
                if (id != m_restoreId)
                    return;
                m_restoreId = 0;
                m_snapshots->showMessage(message);
                status(tr("The session holds %n context token(s) from the snapshot", nullptr, int(held)));
            });
    connect(a, &app::AnswerService::failed, this, &MainWindow::onAnswerFailed);
}

void MainWindow::onWorkspaceFailed(quint64 id, const QString& message)
{
    if (id == m_ingestId) {
        m_ingestId = 0;
        m_sources->ingestFailed(message);
    }
    status(message);
}

void MainWindow::onAnswerFailed(quint64 id, const QString& message, int kind)
{
    if (id == m_budgetId) {
        m_budget->setBudgetFailed(message);
    } else if (id == m_prefillId) {
        m_prefillId = 0;
        if (kind == app::AnswerService::Cancelled && m_pausing) {
            m_budget->prefillPaused(message);
        } else {
            QSettings().remove(kPendingPrefill);
            m_budget->prefillFailed(kind == app::AnswerService::Cancelled ? tr("Prefill cancelled.")
                                                                          : message);
        }
        m_pausing = false;
    } else if (id == m_askId) {
        m_askId = 0;
        m_chat->answerFailed(kind == app::AnswerService::Cancelled ? tr("Stopped.") : message);
    } else if (id == m_restoreId) {
        m_restoreId = 0;
        m_snapshots->showMessage(message);
    }
    status(message);
}

// ---- actions -------------------------------------------------------------------------------

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
    QSettings().setValue("ui/workspace", name);
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
    const bool engineChanged = settings.toEngineOptions().modelPath != m_config.engine.modelPath ||
                               settings.backend != m_engine.backend || settings.threads != m_engine.threads ||
                               settings.contextTokens != m_engine.contextTokens;
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
    add(ws, tr("&Prefill / resume"), QKeySequence(Qt::CTRL | Qt::Key_P), [this] {
        dock("budgetDock")->raise();
        startPrefill();
    });
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
