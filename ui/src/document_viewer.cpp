#include "quire/ui/document_viewer.h"

#include <algorithm>

#include <QFile>
#include <QFutureWatcher>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QStackedWidget>
#include <QTextBlock>
#include <QUrl>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <poppler-qt6.h>

#include "quire/app/library_service.h"
#include "quire/ui/span_player.h"

namespace quire::ui {

namespace {

QString timeText(std::int64_t ms)
{
    const std::int64_t s = ms / 1000;
    return QString("%1:%2:%3")
        .arg(s / 3600, 2, 10, QChar('0'))
        .arg((s / 60) % 60, 2, 10, QChar('0'))
        .arg(s % 60, 2, 10, QChar('0'));
}

struct PageRender {
    QImage image;
    QString error;
    double dpi = 0;
};

// Runs on a QtConcurrent worker: poppler objects never touch the UI thread.
// The page is rendered to fit `widthPx` (device pixels), between 50 and 200 dpi.
PageRender renderPage(const QString& path, int page, double widthPx)
{
    auto doc = Poppler::Document::load(path);
    if (!doc || doc->isLocked())
        return {{}, QObject::tr("cannot open %1 as a PDF").arg(path)};
    if (page < 1 || page > doc->numPages())
        return {{}, QObject::tr("%1 has no page %2").arg(path).arg(page)};
    doc->setRenderHint(Poppler::Document::Antialiasing);
    doc->setRenderHint(Poppler::Document::TextAntialiasing);
    auto p = doc->page(page - 1);
    if (!p)
        return {{}, QObject::tr("cannot read page %1 of %2").arg(page).arg(path)};
    const double points = std::max(1.0, p->pageSizeF().width());
    const double dpi = std::clamp(widthPx * 72.0 / points, 50.0, 200.0);
    return {p->renderToImage(dpi, dpi), {}, dpi};
}

} // namespace

// ---- CodeView ------------------------------------------------------------------------------

class LineGutter : public QWidget {
public:
    explicit LineGutter(CodeView* view) : QWidget(view), m_view(view) {}
    QSize sizeHint() const override { return {m_view->gutterWidth(), 0}; }

protected:
    void paintEvent(QPaintEvent* e) override { m_view->paintGutter(e); }

private:
    CodeView* m_view;
};

CodeView::CodeView(QWidget* parent) : QPlainTextEdit(parent), m_gutter(new LineGutter(this))
{
    setObjectName("codeView");
    setReadOnly(true);
    setLineWrapMode(QPlainTextEdit::NoWrap);
    QFont mono("monospace");
    mono.setStyleHint(QFont::Monospace);
    setFont(mono);
    connect(this, &QPlainTextEdit::blockCountChanged, this,
            [this] { setViewportMargins(gutterWidth(), 0, 0, 0); });
    connect(this, &QPlainTextEdit::updateRequest, this, [this](const QRect& r, int dy) {
        if (dy)
            m_gutter->scroll(0, dy);
        else
            m_gutter->update(0, r.y(), m_gutter->width(), r.height());
    });
    setViewportMargins(gutterWidth(), 0, 0, 0);
}

int CodeView::gutterWidth() const
{
    int digits = 1;
    for (int n = std::max(1, blockCount()); n >= 10; n /= 10)
        ++digits;
    return 12 + fontMetrics().horizontalAdvance(QLatin1Char('9')) * digits;
}

void CodeView::resizeEvent(QResizeEvent* event)
{
    QPlainTextEdit::resizeEvent(event);
    const QRect cr = contentsRect();
    m_gutter->setGeometry(QRect(cr.left(), cr.top(), gutterWidth(), cr.height()));
}

void CodeView::paintGutter(QPaintEvent* event)
{
    QPainter p(m_gutter);
    p.fillRect(event->rect(), palette().alternateBase());
    QTextBlock block = firstVisibleBlock();
    int number = block.blockNumber() + 1;
    int top = qRound(blockBoundingGeometry(block).translated(contentOffset()).top());
    int bottom = top + qRound(blockBoundingRect(block).height());
    while (block.isValid() && top <= event->rect().bottom()) {
        if (block.isVisible() && bottom >= event->rect().top()) {
            const bool cited = number >= m_first && number <= m_last;
            p.setPen(cited ? palette().text().color() : palette().placeholderText().color());
            QFont f = font();
            f.setBold(cited);
            p.setFont(f);
            p.drawText(0, top, m_gutter->width() - 6, fontMetrics().height(), Qt::AlignRight,
                       QString::number(number));
        }
        block = block.next();
        top = bottom;
        bottom = top + qRound(blockBoundingRect(block).height());
        ++number;
    }
}

void CodeView::showText(const QString& text, int firstLine, int lastLine)
{
    setPlainText(text);
    m_first = firstLine;
    m_last = std::max(firstLine, lastLine);
    QList<QTextEdit::ExtraSelection> sels;
    if (m_first > 0) {
        QTextEdit::ExtraSelection sel;
        sel.format.setBackground(QColor(255, 236, 150));
        sel.format.setProperty(QTextFormat::FullWidthSelection, true);
        QTextCursor c(document()->findBlockByNumber(m_first - 1));
        const QTextBlock last = document()->findBlockByNumber(std::min(m_last, blockCount()) - 1);
        c.setPosition(last.position() + last.length() - 1, QTextCursor::KeepAnchor);
        sel.cursor = c;
        sels << sel;
        // Scroll so the range starts a few lines from the top.
        QTextCursor at(document()->findBlockByNumber(std::max(0, m_first - 4)));
        setTextCursor(at);
        verticalScrollBar()->setValue(std::max(0, m_first - 4));
    }
    setExtraSelections(sels);
    m_gutter->update();
}

// ---- DocumentViewer ------------------------------------------------------------------------

DocumentViewer::DocumentViewer(app::LibraryService* library, QWidget* parent)
    : QWidget(parent), m_library(library)
{
    setObjectName("documentViewer");
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    m_heading = new QLabel(tr("No document open"), this);
    m_heading->setObjectName("viewerHeading");
    m_heading->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_play = new QPushButton(tr("&Play cited span"), this);
    m_play->setObjectName("playButton");
    m_play->setVisible(false);
    connect(m_play, &QPushButton::clicked, this, &DocumentViewer::play);
    m_spanPlayer = new SpanPlayer(this);
    connect(
        m_spanPlayer, &SpanPlayer::handedToSystemPlayer, this, [this](const QString&, const QString& reason) {
            const auto* time = std::get_if<ingest::TimeAnchor>(&m_target.anchor.where);
            const QString span =
                time ? tr(" (the span is %1 to %2)").arg(timeText(time->beginMs), timeText(time->endMs))
                     : QString();
            m_heading->setText(m_heading->text().section(QStringLiteral(" — cannot play here"), 0, 0) +
                               " — " +
                               tr("cannot play here: %1; opened in the system player%2").arg(reason, span));
        });
    top->addWidget(m_heading, 1);
    top->addWidget(m_play);
    layout->addLayout(top);
    m_stack = new QStackedWidget(this);
    m_empty = new QLabel(tr("Click a citation in an answer, or a search hit, to open it here."), m_stack);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_pdfScroll = new QScrollArea(m_stack);
    m_pdfLabel = new QLabel(m_pdfScroll);
    m_pdfLabel->setObjectName("pdfPage");
    m_pdfLabel->setAlignment(Qt::AlignCenter);
    m_pdfScroll->setWidget(m_pdfLabel);
    m_pdfScroll->setWidgetResizable(true);
    m_code = new CodeView(m_stack);
    m_segments = new QListWidget(m_stack);
    m_segments->setObjectName("segmentList");
    m_segments->setWordWrap(true);
    m_stack->addWidget(m_empty);
    m_stack->addWidget(m_pdfScroll);
    m_stack->addWidget(m_code);
    m_stack->addWidget(m_segments);
    layout->addWidget(m_stack, 1);
    connect(m_library, &app::LibraryService::documentLoaded, this,
            [this](quint64 id, const app::DocumentContent& doc) {
                if (id == m_documentRequest)
                    showDocument(doc);
            });
    connect(m_library, &app::LibraryService::failed, this, [this](quint64 id, const QString& m) {
        if (id == m_documentRequest)
            fail(m);
    });
}

DocumentViewer::~DocumentViewer() = default;

QString DocumentViewer::heading() const
{
    return m_heading->text();
}

void DocumentViewer::setMode(Mode mode)
{
    m_mode = mode;
    switch (mode) {
    case Mode::Empty:
        m_stack->setCurrentWidget(m_empty);
        break;
    case Mode::Pdf:
        m_stack->setCurrentWidget(m_pdfScroll);
        break;
    case Mode::Code:
        m_stack->setCurrentWidget(m_code);
        break;
    case Mode::Transcript:
    case Mode::Paragraphs:
        m_stack->setCurrentWidget(m_segments);
        break;
    }
    m_play->setVisible(mode == Mode::Transcript);
}

void DocumentViewer::finish()
{
    m_ready = true;
    emit ready();
}

void DocumentViewer::fail(const QString& message)
{
    m_empty->setText(message);
    setMode(Mode::Empty);
    m_ready = true;
    emit failed(message);
}

QList<int> DocumentViewer::highlightedRows() const
{
    QList<int> rows;
    for (int i = 0; i < m_segments->count(); ++i) {
        if (m_segments->item(i)->data(Qt::UserRole).toBool())
            rows << i;
    }
    return rows;
}

void DocumentViewer::open(const CitationTarget& target)
{
    m_spanPlayer->stop(); // the span of the previous target
    m_target = target;
    m_ready = false;
    m_highlight = {};
    m_page = 0;
    const quint64 serial = ++m_serial;
    const QString name = target.title.isEmpty() ? target.path.section('/', -1) : target.title;
    QString status;
    if (target.status)
        status = app::isUsable(*target.status) ? tr(" (verified or supported)") : tr(" (not verified)");
    m_heading->setText(QString("%1 — %2%3").arg(target.label, name, status));
    const auto& where = target.anchor.where;

    if (const auto* page = std::get_if<ingest::PageAnchor>(&where)) {
        m_page = page->page;
        const qreal dpr = devicePixelRatioF();
        const double widthPx = std::max(300, m_pdfScroll->viewport()->width() - 4) * dpr;
        const QString path = target.path;
        const int pageNo = page->page;
        const ingest::BoundingBox box = page->box;
        auto* watcher = new QFutureWatcher<PageRender>(this);
        connect(watcher, &QFutureWatcher<PageRender>::finished, this, [=, this] {
            const PageRender r = watcher->result();
            watcher->deleteLater();
            if (serial != m_serial)
                return;
            if (!r.error.isEmpty())
                return fail(r.error);
            QImage img = r.image;
            const double scale = r.dpi / 72.0;
            if (box.width > 0 && box.height > 0) {
                m_highlight = QRectF(box.x * scale, box.y * scale, box.width * scale, box.height * scale)
                                  .toAlignedRect()
                                  .adjusted(-3, -3, 3, 3);
                QPainter p(&img);
                p.fillRect(m_highlight, QColor(255, 214, 0, 90));
                p.setPen(QPen(QColor(230, 140, 0), 2 * dpr));
                p.drawRect(m_highlight);
            }
            m_pageImage = img;
            QPixmap pm = QPixmap::fromImage(img);
            pm.setDevicePixelRatio(dpr);
            m_pdfLabel->setPixmap(pm);
            setMode(Mode::Pdf);
            if (!m_highlight.isEmpty()) {
                m_pdfLabel->adjustSize();
                m_pdfScroll->ensureVisible(int(m_highlight.left() / dpr), int(m_highlight.center().y() / dpr),
                                           20, int(m_highlight.height() / dpr) + 60);
            }
            finish();
        });
        watcher->setFuture(QtConcurrent::run(renderPage, path, pageNo, widthPx));
        return;
    }
    if (const auto* lines = std::get_if<ingest::LineAnchor>(&where)) {
        const QString path = target.path;
        const int first = lines->lineBegin, last = lines->lineEnd;
        auto* watcher = new QFutureWatcher<QString>(this);
        connect(watcher, &QFutureWatcher<QString>::finished, this, [=, this] {
            const QString text = watcher->result();
            watcher->deleteLater();
            if (serial != m_serial)
                return;
            if (text.isNull())
                return fail(tr("cannot read %1 (moved or deleted?)").arg(path));
            m_code->showText(text, first, last);
            setMode(Mode::Code);
            finish();
        });
        watcher->setFuture(QtConcurrent::run([path]() -> QString {
            QFile f(path);
            if (!f.open(QIODevice::ReadOnly))
                return QString();
            return QString::fromUtf8(f.read(std::int64_t{64} << 20));
        }));
        return;
    }
    if (std::holds_alternative<ingest::TimeAnchor>(where) ||
        std::holds_alternative<ingest::ParagraphAnchor>(where) || target.documentId > 0) {
        m_documentRequest = m_library->document(target.documentId);
        return;
    }
    fail(tr("%1 has no place to show").arg(target.label));
}

void DocumentViewer::showDocument(const app::DocumentContent& doc)
{
    m_segments->clear();
    const auto& where = m_target.anchor.where;
    const auto* time = std::get_if<ingest::TimeAnchor>(&where);
    const auto* para = std::get_if<ingest::ParagraphAnchor>(&where);
    int firstHit = -1;
    for (const auto& seg : doc.segments) {
        QString label;
        bool hit = false;
        if (const auto* t = std::get_if<ingest::TimeAnchor>(&seg.anchor.where)) {
            label = "[" + timeText(t->beginMs) + "] ";
            if (time)
                hit = t->beginMs < std::max(time->endMs, time->beginMs + 1) && t->endMs > time->beginMs;
        } else if (const auto* p = std::get_if<ingest::ParagraphAnchor>(&seg.anchor.where)) {
            label = QString("¶%1 ").arg(p->paragraph + 1);
            hit = para && para->paragraph == p->paragraph;
        }
        auto* item = new QListWidgetItem(label + QString::fromStdString(seg.text), m_segments);
        item->setData(Qt::UserRole, hit);
        if (hit) {
            item->setBackground(QColor(255, 236, 150));
            QFont f = item->font();
            f.setBold(true);
            item->setFont(f);
            if (firstHit < 0)
                firstHit = m_segments->count() - 1;
        }
    }
    setMode(time ? Mode::Transcript : Mode::Paragraphs);
    if (firstHit >= 0) {
        m_segments->setCurrentRow(firstHit);
        m_segments->scrollToItem(m_segments->item(firstHit), QAbstractItemView::PositionAtTop);
    }
    finish();
}

void DocumentViewer::play()
{
    const auto* time = std::get_if<ingest::TimeAnchor>(&m_target.anchor.where);
    if (time)
        m_spanPlayer->play(m_target.path, time->beginMs, time->endMs);
}

} // namespace quire::ui
