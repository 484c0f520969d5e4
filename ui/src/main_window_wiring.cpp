// The main window's service wiring: creates the app services and routes their queued signals,
// matched against the request ids the window waits for, to the panels; and the panels' requests
// back to the services. Nothing here blocks on a service.
#include "quire/ui/main_window.h"

#include <QFileInfo>
#include <QLabel>
#include <QListView>
#include <QPdfWriter>
#include <QSaveFile>
#include <QSettings>
#include <QTextDocument>

#include <utility>

#include "main_window_keys.h"
#include "quire/app/answer_service.h"
#include "quire/app/library_service.h"
#include "quire/app/samples.h"
#include "quire/app/search_service.h"
#include "quire/app/workspace_service.h"
#include "quire/ui/panels.h"
#include "quire/ui/stored_answer.h"

namespace quire::ui {

void MainWindow::createServices()
{
    m_workspaces = std::make_unique<app::WorkspaceService>(m_config);
    m_searchService = std::make_unique<app::SearchService>(m_config);
    m_library = std::make_unique<app::LibraryService>(m_config);
    createAnswerService();
    connectWorkspaceService();
    connectLibraryService();
    connect(m_searchService.get(), &app::SearchService::results, this,
            [this](quint64 id, const std::vector<app::SearchResultLine>& hits) {
                if (id == m_searchId)
                    m_search->setResults(hits);
            });
    connect(m_searchService.get(), &app::SearchService::failed, this, [this](quint64 id, const QString& m) {
        if (id == m_searchId)
            m_search->searchFailed(m);
    });
}

void MainWindow::connectWorkspaceService()
{
    auto* ws = m_workspaces.get();
    connect(ws, &app::WorkspaceService::workspacesListed, this,
            [this](quint64, const std::vector<app::WorkspaceSummary>& all) { onWorkspacesListed(all); });
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
}

void MainWindow::onWorkspacesListed(const std::vector<app::WorkspaceSummary>& all)
{
    const QString keep = !m_pendingSelect.isEmpty() ? m_pendingSelect : m_current;
    m_workspaceModel->setWorkspaces(all);
    QString want = keep;
    if (want.isEmpty())
        want = QSettings().value(kLastWorkspace).toString();
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
}

void MainWindow::connectLibraryService()
{
    connect(m_library.get(), &app::LibraryService::snapshotsListed, this,
            [this](quint64 id, const app::SnapshotListing& l) {
                if (id == m_snapshotsId)
                    m_snapshots->setSnapshots(l, std::exchange(m_snapshotNote, QString()));
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
        m_snapshotNote = tr("Snapshot deleted; blocks no other snapshot uses were freed.");
        m_snapshots->showMessage(m_snapshotNote);
        refreshSnapshots();
    });
    connect(m_library.get(), &app::LibraryService::snapshotBranched, this,
            [this](quint64, qint64, const QString& name) {
                m_snapshotNote = tr("Branch \"%1\" made: it shares the snapshot's blocks.").arg(name);
                m_snapshots->showMessage(m_snapshotNote);
                refreshSnapshots();
            });
    connect(m_library.get(), &app::LibraryService::sessionExported, this,
            [this](quint64 id, const QString& md, int turns) {
                if (id == m_exportId)
                    writeExport(md, turns);
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

void MainWindow::writeExport(const QString& markdown, int turns)
{
    const QString path = m_exportPath;
    bool ok = false;
    QString message;
    if (path.endsWith(".pdf", Qt::CaseInsensitive)) {
        QTextDocument doc;
        doc.setMarkdown(markdown);
        QPdfWriter writer(path);
        writer.setTitle(tr("Quire session: %1").arg(m_current));
        writer.setPageSize(QPageSize(QPageSize::A4));
        writer.setResolution(150);
        doc.setPageSize(QSizeF(writer.width(), writer.height()));
        doc.print(&writer);
        ok = QFileInfo(path).size() > 0;
    } else {
        QSaveFile f(path);
        ok = f.open(QIODevice::WriteOnly) && f.write(markdown.toUtf8()) >= 0 && f.commit();
    }
    message =
        ok ? tr("Exported %n turn(s) to %1", nullptr, turns).arg(path) : tr("Cannot write %1").arg(path);
    status(message);
    emit exported(path, ok, message);
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
        else if (id == m_restoreId)
            m_snapshots->restoreProgress(done, total);
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
                m_snapshots->restoreEnded(message);
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
        m_snapshots->restoreEnded(kind == app::AnswerService::Cancelled ? tr("Restore stopped: %1").arg(message)
                                                                         : message);
    }
    status(message);
}

// The panels' requests: to the window's slots, or straight to a service where no state is kept.
void MainWindow::connectPanels()
{
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
        if (m_restoreId != 0)
            return; // one restore at a time
        m_snapshots->restoreStarted(name);
        m_restoreId = m_answers->restoreSnapshot(m_current, name);
    });
    connect(m_snapshots, &SnapshotsPanel::stopRestoreRequested, this, [this] {
        if (m_restoreId != 0 && m_answers)
            m_answers->cancel(m_restoreId);
    });
    connect(m_snapshots, &SnapshotsPanel::branchRequested, this,
            [this](qint64 id, const QString& name) { m_library->branchSnapshot(id, name); });
}

} // namespace quire::ui
