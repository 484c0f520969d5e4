// The main window's panels. Each is a plain widget: it shows the values it is given (slots fed
// by MainWindow from the services' signals) and says what the user asked for through its own
// signals; none talks to a service or blocks. Every button has an action with a shortcut in the
// main window's menus.
#pragma once

#include <QElapsedTimer>
#include <QKeySequence>
#include <QWidget>

#include <functional>
#include <optional>
#include <vector>

#include "quire/app/library_service.h"
#include "quire/app/service_types.h"
#include "quire/ui/citation_target.h"
#include "quire/ui/models.h"

class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableView;
class QTextBrowser;
class QTimer;
class QTreeView;

namespace quire::ui {

class SourcesPanel : public QWidget {
    Q_OBJECT
public:
    explicit SourcesPanel(QWidget* parent = nullptr);
    SourceTreeModel* tree() const { return m_tree; }
    QuarantineModel* quarantine() const { return m_quarantine; }
    QTreeView* treeView() const { return m_treeView; }
    QProgressBar* progressBar() const { return m_progress; }
    QStringList selectedPaths() const;

public slots:
    void setListing(const quire::app::WorkspaceListing& listing);
    void clear();
    void ingestStarted();
    void ingestProgress(const quire::ingest::IngestProgress& progress);
    void ingestFinished(const quire::app::IngestReport& report);
    void ingestFailed(const QString& message);
    void addFiles();  // file dialog
    void addFolder(); // folder dialog

signals:
    void addPathsRequested(const QStringList& paths);
    void removeRequested(const QStringList& paths);
    void reingestRequested();
    void cancelRequested();

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    SourceTreeModel* m_tree;
    QuarantineModel* m_quarantine;
    QTreeView* m_treeView;
    QTableView* m_quarantineView;
    QLabel* m_quarantineLabel;
    QProgressBar* m_progress;
    QLabel* m_status;
    QPushButton* m_cancel;
};

// The token budget (per source, the bar against the window, KV memory, prefill estimate) and the
// prefill with its progress, ETA, pause (cancel keeping the KV held so far) and cancel.
class BudgetPanel : public QWidget {
    Q_OBJECT
public:
    enum class PrefillState { Idle, Running, Paused, Done };
    explicit BudgetPanel(QWidget* parent = nullptr);
    BudgetModel* model() const { return m_model; }
    QProgressBar* contextBar() const { return m_contextBar; }
    QProgressBar* prefillBar() const { return m_prefillBar; }
    PrefillState prefillState() const { return m_state; }
    QString summaryText() const;
    QString etaText() const;
    QString estimateText() const;
    // The main window's shortcut for its Prefill action, named where the panel points to it.
    void setPrefillShortcut(const QKeySequence& key);

public slots:
    void setBudgetPending();
    void setBudget(const quire::app::BudgetResult& result);
    void setBudgetFailed(const QString& message);
    void prefillStarted();
    void prefillProgress(qint64 done, qint64 total);
    void prefillFinished(const quire::app::PrefillResult& result);
    void prefillPaused(const QString& message);
    void prefillFailed(const QString& message);
    // A prefill of `workspace` was running when the app last closed.
    void setResumable(const QString& workspace);
    void clear();

signals:
    void budgetRequested();
    void prefillRequested(); // also resume
    void pauseRequested();
    void cancelRequested();
    void inclusionChanged(int docNumber, bool included);

private:
    void updateButtons();
    BudgetModel* m_model;
    QLabel* m_modelLabel;
    QLabel* m_summary;
    QProgressBar* m_contextBar;
    QLabel* m_kv;
    QLabel* m_estimate;
    QLabel* m_advice;
    QProgressBar* m_prefillBar;
    QLabel* m_eta;
    QPushButton* m_prefill;
    QPushButton* m_pause;
    QPushButton* m_cancel;
    PrefillState m_state = PrefillState::Idle;
    QKeySequence m_prefillShortcut;
    QElapsedTimer m_clock;
    qint64 m_firstDone = -1;
    qint64 m_lastDone = 0;
    qint64 m_lastTotal = 0;
};

// Questions and streamed answers; citation marks become chips (links) marked verified,
// supported or flagged, which open the document viewer; uncited sentences get a grey
// "attributed" chip to the best-matching passage.
class ChatPanel : public QWidget {
    Q_OBJECT
public:
    explicit ChatPanel(QWidget* parent = nullptr);
    QLineEdit* questionEdit() const { return m_question; }
    QTextBrowser* transcript() const { return m_view; }
    bool busy() const { return m_busy; }
    int turnCount() const { return int(m_turns.size()); }
    // Chips of turn `turn` (links "cite:TURN/INDEX"), in order.
    int citationCount(int turn) const;
    std::optional<CitationTarget> citationTarget(int turn, int index) const;
    void activateCitation(int turn, int index);
    // Sentences the model left uncited link to the passage that best matches them ("attributed",
    // shown apart from citations).
    int attributionCount(int turn) const;
    std::optional<CitationTarget> attributionTarget(int turn, int index) const;
    void activateAttribution(int turn, int index);
    QString answerText(int turn) const;

public slots:
    void ask(); // the question in the box
    void answerStarted(const QString& question);
    void appendAnswerText(const QString& text);
    void answerFinished(const quire::app::AnswerRecord& record);
    void answerFailed(const QString& message);
    // Earlier answers of the workspace (stored turns), shown before new ones; ignored while a
    // question is being answered.
    void setHistory(const std::vector<quire::app::AnswerRecord>& records);
    void clear();
    void setEnabledForWorkspace(bool enabled);

signals:
    void askRequested(const QString& question);
    void stopRequested();
    void citationActivated(const quire::ui::CitationTarget& target);
    void citationUnavailable(const QString& message);

private:
    struct Turn {
        QString question;
        QString answer;
        std::optional<app::AnswerRecord> record;
        QString error;
    };
    void render();
    void scheduleRender();
    void markDirty(int turn);
    QString turnMarkdown(int turn) const;
    void styleChips(int from);
    void onLink(const QUrl& url);
    QString answerHtml(const Turn& t, int turnIndex) const;

    QTextBrowser* m_view;
    QLineEdit* m_question;
    QPushButton* m_askButton;
    QPushButton* m_stop;
    QTimer* m_renderTimer;
    std::vector<Turn> m_turns;
    std::vector<int> m_turnStarts; // document position where each rendered turn begins
    int m_dirtyFrom = 0;           // first turn to (re)build at the next render()
    bool m_busy = false;
};

class SnapshotsPanel : public QWidget {
    Q_OBJECT
public:
    explicit SnapshotsPanel(QWidget* parent = nullptr);
    SnapshotModel* model() const { return m_model; }
    QTableView* view() const { return m_view; }
    QString message() const;
    bool restoring() const;
    // Replaces the confirmation dialog (tests).
    void setConfirm(std::function<bool(const QString&)> confirm) { m_confirm = std::move(confirm); }
    void setNamePrompt(std::function<QString()> prompt) { m_prompt = std::move(prompt); }

public slots:
    // `lead` (the outcome of the action that asked for this listing) stays in front of the count.
    void setSnapshots(const quire::app::SnapshotListing& listing, const QString& lead = {});
    void showMessage(const QString& message);
    void restoreSelected();
    void branchSelected();
    void deleteSelected();
    // A restore in progress: a bar of tokens restored and a Stop button (Esc) until it ends.
    void restoreStarted(const QString& name);
    void restoreProgress(qint64 done, qint64 total);
    void restoreEnded(const QString& message);

signals:
    void refreshRequested();
    void restoreRequested(qint64 snapshotId);
    void stopRestoreRequested();
    void branchRequested(qint64 snapshotId, const QString& name);
    void deleteRequested(qint64 snapshotId);

private:
    std::optional<storage::SnapshotRow> selected() const;
    SnapshotModel* m_model;
    QTableView* m_view;
    QLabel* m_message;
    QProgressBar* m_progress;
    QPushButton* m_stop;
    std::function<bool(const QString&)> m_confirm;
    std::function<QString()> m_prompt;
};

class SearchPanel : public QWidget {
    Q_OBJECT
public:
    explicit SearchPanel(QWidget* parent = nullptr);
    SearchModel* model() const { return m_model; }
    QLineEdit* queryEdit() const { return m_query; }
    QTableView* view() const { return m_view; }
    static CitationTarget targetFor(const app::SearchResultLine& hit);

public slots:
    void setResults(const std::vector<quire::app::SearchResultLine>& hits);
    void searchFailed(const QString& message);
    void activateRow(int row);

signals:
    void searchRequested(const QString& query);
    void hitActivated(const quire::ui::CitationTarget& target);

private:
    SearchModel* m_model;
    QLineEdit* m_query;
    QTableView* m_view;
    QLabel* m_status;
    QTimer* m_debounce;
};

} // namespace quire::ui
