// The document viewer: opens a cited or found place. A PDF page is rendered with poppler-qt6
// (on a worker through QtConcurrent, never on the UI thread) with the cited box highlighted;
// code and text show line numbers with the cited range highlighted; transcripts list their
// segments with time stamps, the cited span highlighted and playable from its start to its end
// (SpanPlayer: Qt Multimedia when the build has it, else the system player); DOCX paragraphs like a
// transcript without times. Reads what it needs through LibraryService or off the UI thread.
#pragma once

#include <QPlainTextEdit>
#include <QWidget>

#include "quire/ui/citation_target.h"

class QLabel;
class QListWidget;
class QPushButton;
class QScrollArea;
class QStackedWidget;

namespace quire::app {
class LibraryService;
struct DocumentContent;
} // namespace quire::app

namespace quire::ui {

class SpanPlayer;

// Plain text with a line-number gutter and one highlighted line range.
class CodeView : public QPlainTextEdit {
    Q_OBJECT
public:
    explicit CodeView(QWidget* parent = nullptr);
    void showText(const QString& text, int firstLine, int lastLine);
    int highlightFirst() const { return m_first; }
    int highlightLast() const { return m_last; }
    int gutterWidth() const;

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    friend class LineGutter;
    void paintGutter(QPaintEvent* event);
    QWidget* m_gutter;
    int m_first = 0;
    int m_last = 0;
};

class DocumentViewer : public QWidget {
    Q_OBJECT
public:
    enum class Mode { Empty, Pdf, Code, Transcript, Paragraphs };
    DocumentViewer(app::LibraryService* library, QWidget* parent = nullptr);
    ~DocumentViewer() override;

    void open(const CitationTarget& target);
    Mode mode() const { return m_mode; }
    const CitationTarget& target() const { return m_target; }
    int currentPage() const { return m_page; }
    QRect highlightRect() const { return m_highlight; } // in the rendered page's pixels
    QImage pageImage() const { return m_pageImage; }
    CodeView* codeView() const { return m_code; }
    QListWidget* segmentList() const { return m_segments; }
    QList<int> highlightedRows() const;
    bool isReady() const { return m_ready; }
    QString heading() const;
    SpanPlayer* spanPlayer() const { return m_spanPlayer; }

public slots:
    // Plays the cited time span of a transcript's recording; nothing for other targets.
    void play();

signals:
    void ready();
    void failed(const QString& message);

private:
    void setMode(Mode mode);
    void finish();
    void fail(const QString& message);
    void showPdfPage(const QImage& image, const QString& error);
    void showDocument(const app::DocumentContent& doc);

    app::LibraryService* m_library;
    CitationTarget m_target;
    Mode m_mode = Mode::Empty;
    quint64 m_serial = 0; // drops results of a target opened before the current one
    quint64 m_documentRequest = 0;
    int m_page = 0;
    QRect m_highlight;
    QImage m_pageImage;
    bool m_ready = false;

    QLabel* m_heading;
    QPushButton* m_play;
    QStackedWidget* m_stack;
    QLabel* m_empty;
    QScrollArea* m_pdfScroll;
    QLabel* m_pdfLabel;
    CodeView* m_code;
    QListWidget* m_segments;
    SpanPlayer* m_spanPlayer;
};

} // namespace quire::ui
