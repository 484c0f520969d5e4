// The main window: workspaces and search on the left, the chat and the document viewer in the
// middle, sources (with the quarantine), the token budget with the prefill, and snapshots in
// docks on the right. It owns the app services (each on its own thread) and routes their queued
// signals to the panels, keeping the request ids it waits for; nothing here waits on inference,
// ingest or SQLite. Every action has a shortcut; the layout is remembered in QSettings.
//
// Lives on the UI thread. Dependencies come from main(): the service configuration (data
// folder, library writer) and the engine settings.
#pragma once

#include <QMainWindow>

#include <memory>
#include <vector>

#include "quire/app/service_types.h"
#include "quire/ui/settings.h"

class QListView;
class QSplitter;
class QLabel;
class QDockWidget;

namespace quire::app {
class WorkspaceService;
class AnswerService;
class SearchService;
class LibraryService;
} // namespace quire::app

namespace quire::ui {

class WorkspaceModel;
class SourcesPanel;
class BudgetPanel;
class ChatPanel;
class SnapshotsPanel;
class SearchPanel;
class DocumentViewer;
struct CitationTarget;

struct MainWindowOptions {
    bool firstRun = false;     // install and open the sample workspace
    bool measureBudget = true; // let a budget measure prefill speed when none is known
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    MainWindow(app::ServiceConfig config, EngineSettings engine, MainWindowOptions options = {},
               QWidget* parent = nullptr);
    ~MainWindow() override;

    QListView* workspaceList() const { return m_workspaceView; }
    WorkspaceModel* workspaceModel() const { return m_workspaceModel; }
    SourcesPanel* sourcesPanel() const { return m_sources; }
    BudgetPanel* budgetPanel() const { return m_budget; }
    ChatPanel* chatPanel() const { return m_chat; }
    SnapshotsPanel* snapshotsPanel() const { return m_snapshots; }
    SearchPanel* searchPanel() const { return m_search; }
    DocumentViewer* viewer() const { return m_viewer; }
    QDockWidget* dock(const QString& objectName) const;
    QString currentWorkspace() const { return m_current; }
    const EngineSettings& engineSettings() const { return m_engine; }
    // What the answer service's engine is opened with.
    const app::EngineOptions& engineOptions() const { return m_config.engine; }

public slots:
    void refreshWorkspaces();
    void selectWorkspace(const QString& name);
    void createWorkspace(const QString& name);
    void removeWorkspace(const QString& name); // the menu action asks first

    void addPaths(const QStringList& paths);
    void requestBudget();
    void startPrefill();
    void pausePrefill();
    void cancelPrefill();
    void ask(const QString& question);
    void stopAnswer();
    void openTarget(const quire::ui::CitationTarget& target);
    void search(const QString& query);
    void refreshSnapshots();
    // Writes the latest session of the workspace as Markdown (.md) or PDF (.pdf) to `path`.
    void exportSessionTo(const QString& path);
    void applyEngineSettings(const EngineSettings& settings);
    void showSettings();

signals:
    void exported(const QString& path, bool ok, const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    // Files and folders dropped anywhere on the window are added to the current workspace.
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    // Service wiring (main_window_wiring.cpp): each service's queued signals to the panels.
    void createServices();
    void connectWorkspaceService();
    void connectLibraryService();
    void createAnswerService();
    void connectPanels();
    void onWorkspacesListed(const std::vector<app::WorkspaceSummary>& all);
    void onWorkspaceFailed(quint64 id, const QString& message);
    void onAnswerFailed(quint64 id, const QString& message, int kind);
    void writeExport(const QString& markdown, int turns);
    // Layout and its persistence (main_window_layout.cpp); menus and shortcuts
    // (main_window_actions.cpp).
    void createDocks();
    void createActions();
    void restoreLayout();
    void startFirstRun();
    void status(const QString& message);

    app::ServiceConfig m_config;
    EngineSettings m_engine;
    MainWindowOptions m_options;
    std::unique_ptr<app::WorkspaceService> m_workspaces;
    std::unique_ptr<app::AnswerService> m_answers;
    std::unique_ptr<app::SearchService> m_searchService;
    std::unique_ptr<app::LibraryService> m_library;

    WorkspaceModel* m_workspaceModel = nullptr;
    QListView* m_workspaceView = nullptr;
    SourcesPanel* m_sources = nullptr;
    BudgetPanel* m_budget = nullptr;
    ChatPanel* m_chat = nullptr;
    SnapshotsPanel* m_snapshots = nullptr;
    SearchPanel* m_search = nullptr;
    DocumentViewer* m_viewer = nullptr;
    QSplitter* m_split = nullptr;
    QLabel* m_modelLabel = nullptr;

    QString m_current;
    QString m_pendingSelect;
    quint64 m_listId = 0, m_sourcesId = 0, m_ingestId = 0, m_budgetId = 0, m_prefillId = 0, m_askId = 0,
            m_restoreId = 0, m_searchId = 0, m_snapshotsId = 0, m_exportId = 0, m_createId = 0,
            m_historyId = 0;
    QString m_exportPath;
    QString m_snapshotNote; // what the last branch or delete did, shown with the listing it asked for
    bool m_pausing = false;
    bool m_firstRunPending = false;
};

} // namespace quire::ui
