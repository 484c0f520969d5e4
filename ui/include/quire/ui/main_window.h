// The main window: workspaces on the left, the chat in the middle, sources and snapshots in
// docks. Lives on the UI thread; talks only to quire_app services.
#pragma once

#include <QMainWindow>

class QListWidget;
class QPlainTextEdit;
class QLineEdit;

namespace quire::ui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

    QListWidget* workspaceList() const { return m_workspaces; }

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void createActions();
    void restoreLayout();

    QListWidget* m_workspaces = nullptr;
    QPlainTextEdit* m_transcript = nullptr;
    QLineEdit* m_question = nullptr;
};

}  // namespace quire::ui
