#include <QElapsedTimer>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextCursor>
#include <QTextDocument>
#include <QTimer>
#include <QVBoxLayout>

#include <map>
#include <set>

#include "quire/ui/panels.h"

namespace quire::ui {

namespace {

struct ChipStyle {
    const char* symbol;
    QColor background;
    QColor foreground;
};

ChipStyle chipStyle(app::CitationStatus s)
{
    switch (s) {
    case app::CitationStatus::Verified:
        return {"\u2713", QColor(0xd7, 0xf0, 0xdb), QColor(0x1b, 0x5e, 0x20)};
    case app::CitationStatus::Supported:
        return {"\u2248", QColor(0xe3, 0xec, 0xf7), QColor(0x0d, 0x47, 0xa1)};
    case app::CitationStatus::QuoteNotFound:
    case app::CitationStatus::Unsupported:
        return {"?", QColor(0xff, 0xf1, 0xd6), QColor(0x8a, 0x4b, 0x00)};
    case app::CitationStatus::Unresolved:
    default:
        return {"\u2717", QColor(0xf8, 0xd7, 0xda), QColor(0x8b, 0x1a, 0x1a)};
    }
}

QString statusText(app::CitationStatus s)
{
    switch (s) {
    case app::CitationStatus::Verified:
        return QObject::tr("verified: the quoted words are in the cited place");
    case app::CitationStatus::Supported:
        return QObject::tr("supported: the cited place holds most of the claim's words");
    case app::CitationStatus::QuoteNotFound:
        return QObject::tr("not verified: the quoted words are not in the cited place");
    case app::CitationStatus::Unsupported:
        return QObject::tr("not verified: the cited place does not hold the claim");
    default:
        return QObject::tr("unresolved: no such document or place");
    }
}

QString qs(const std::string& s)
{
    return QString::fromStdString(s);
}

// Backslash-escapes what Markdown would read as markup in plain text (the question).
QString escapeMarkdown(const QString& text)
{
    QString out;
    for (QChar c : text) {
        if (QStringLiteral("\\`*_{}[]()#+-.!<>|").contains(c))
            out += '\\';
        out += c;
    }
    return out;
}

} // namespace

ChatPanel::ChatPanel(QWidget* parent) : QWidget(parent)
{
    setObjectName("chatPanel");
    auto* layout = new QVBoxLayout(this);
    m_view = new QTextBrowser(this);
    m_view->setObjectName("transcript");
    m_view->setOpenLinks(false);
    m_view->setPlaceholderText(tr("Add sources to a workspace, prefill, then ask a question. Citations in "
                                  "answers open the cited page, lines or moment."));
    connect(m_view, &QTextBrowser::anchorClicked, this, &ChatPanel::onLink);
    layout->addWidget(m_view, 1);
    auto* row = new QHBoxLayout;
    m_question = new QLineEdit(this);
    m_question->setObjectName("question");
    m_question->setPlaceholderText(tr("Ask about the whole workspace (Ctrl+L)"));
    m_askButton = new QPushButton(tr("As&k"), this);
    m_askButton->setObjectName("askButton");
    m_stop = new QPushButton(tr("S&top"), this);
    m_stop->setObjectName("stopButton");
    m_stop->setEnabled(false);
    row->addWidget(m_question, 1);
    row->addWidget(m_askButton);
    row->addWidget(m_stop);
    layout->addLayout(row);
    connect(m_question, &QLineEdit::returnPressed, this, &ChatPanel::ask);
    connect(m_askButton, &QPushButton::clicked, this, &ChatPanel::ask);
    connect(m_stop, &QPushButton::clicked, this, &ChatPanel::stopRequested);
    m_renderTimer = new QTimer(this);
    m_renderTimer->setSingleShot(true);
    m_renderTimer->setInterval(60); // streamed text is drawn at most ~16 times a second
    connect(m_renderTimer, &QTimer::timeout, this, &ChatPanel::render);
}

void ChatPanel::setEnabledForWorkspace(bool enabled)
{
    m_question->setEnabled(enabled);
    m_askButton->setEnabled(enabled && !m_busy);
}

void ChatPanel::ask()
{
    const QString q = m_question->text().trimmed();
    if (q.isEmpty() || m_busy)
        return;
    emit askRequested(q);
}

void ChatPanel::answerStarted(const QString& question)
{
    m_turns.push_back({question, {}, std::nullopt, {}});
    markDirty(turnCount() - 1);
    m_busy = true;
    m_question->clear();
    m_askButton->setEnabled(false);
    m_stop->setEnabled(true);
    render();
}

void ChatPanel::appendAnswerText(const QString& text)
{
    if (m_turns.empty())
        return;
    m_turns.back().answer += text;
    markDirty(turnCount() - 1);
    scheduleRender();
}

void ChatPanel::answerFinished(const app::AnswerRecord& record)
{
    if (m_turns.empty())
        return;
    m_turns.back().answer = qs(record.outcome.text);
    m_turns.back().record = record;
    markDirty(turnCount() - 1);
    m_busy = false;
    m_askButton->setEnabled(true);
    m_stop->setEnabled(false);
    render();
}

void ChatPanel::answerFailed(const QString& message)
{
    if (!m_turns.empty() && !m_turns.back().record)
        m_turns.back().error = message;
    markDirty(turnCount() - 1);
    m_busy = false;
    m_askButton->setEnabled(true);
    m_stop->setEnabled(false);
    render();
}

void ChatPanel::setHistory(const std::vector<app::AnswerRecord>& records)
{
    if (m_busy)
        return;
    m_turns.clear();
    m_dirtyFrom = 0;
    for (const auto& r : records)
        m_turns.push_back({qs(r.outcome.question), qs(r.outcome.text), r, {}});
    render();
}

void ChatPanel::clear()
{
    m_turns.clear();
    m_turnStarts.clear();
    m_dirtyFrom = 0;
    m_busy = false;
    m_askButton->setEnabled(true);
    m_stop->setEnabled(false);
    m_view->clear();
}

void ChatPanel::scheduleRender()
{
    if (!m_renderTimer->isActive())
        m_renderTimer->start();
}

int ChatPanel::citationCount(int turn) const
{
    if (turn < 0 || turn >= turnCount() || !m_turns[std::size_t(turn)].record)
        return 0;
    return int(m_turns[std::size_t(turn)].record->outcome.check.citations.size());
}

QString ChatPanel::answerText(int turn) const
{
    return turn >= 0 && turn < turnCount() ? m_turns[std::size_t(turn)].answer : QString();
}

// The answer as Markdown, each citation mark replaced by a link "cite:TURN/INDEX", and after each
// sentence the model left uncited a link "attr:TURN/INDEX" to the passage that best matches it;
// render() turns both into chips.
QString ChatPanel::answerHtml(const Turn& t, int turnIndex) const
{
    if (!t.record)
        return t.answer;
    const std::string& text = t.record->outcome.text;
    const auto& cites = t.record->outcome.check.citations;
    const auto& attrs = t.record->outcome.check.attributions;
    struct Edit {
        std::size_t offset;
        std::size_t length; // bytes replaced (0: an insertion)
        std::string link;
    };
    std::vector<Edit> edits;
    const std::string turnText = std::to_string(turnIndex);
    std::map<std::size_t, std::size_t> bracketEnd; // one bracket may hold several citations
    for (std::size_t i = 0; i < cites.size(); ++i) {
        const auto& c = cites[i].citation;
        const bool first = bracketEnd.find(c.offset) == bracketEnd.end();
        bracketEnd[c.offset] = c.length;
        edits.push_back(
            {c.offset, first ? c.length : 0, " [cite](cite:" + turnText + "/" + std::to_string(i) + ")"});
    }
    // One chip per sentence and place: two segments of one page make one chip.
    std::set<std::pair<std::size_t, std::string>> seen;
    for (std::size_t i = 0; i < attrs.size(); ++i) {
        const std::string mark = t.record->map ? t.record->map->markFor(attrs[i].segment) : std::string();
        if (!seen.insert({attrs[i].sentenceEnd, mark}).second)
            continue;
        edits.push_back(
            {attrs[i].sentenceEnd, 0, " [attr](attr:" + turnText + "/" + std::to_string(i) + ")"});
    }
    std::stable_sort(edits.begin(), edits.end(),
                     [](const Edit& a, const Edit& b) { return a.offset < b.offset; });
    std::string out;
    std::size_t pos = 0;
    for (const auto& e : edits) {
        if (e.offset < pos || e.offset > text.size())
            continue;
        out += text.substr(pos, e.offset - pos);
        out += e.link;
        pos = std::min(text.size(), e.offset + e.length);
    }
    if (pos < text.size())
        out += text.substr(pos);
    return qs(out);
}

QString ChatPanel::turnMarkdown(int i) const
{
    const Turn& t = m_turns[std::size_t(i)];
    QString md = "**" + tr("You") + ":** " + escapeMarkdown(t.question) + "\n\n";
    md += answerHtml(t, i);
    if (!t.error.isEmpty())
        md += "\n\n*" + escapeMarkdown(t.error) + "*";
    else if (t.answer.isEmpty() && !t.record)
        md += "*" + tr("thinking…") + "*";
    if (t.record) {
        const auto& tm = t.record->outcome.timings;
        md += "\n\n*" +
              tr("%1 citation(s): %2 usable, %3 flagged. First token after %4 ms, %5 tokens in %6 ms.")
                  .arg(t.record->outcome.check.citations.size())
                  .arg(t.record->outcome.check.usableCitations())
                  .arg(t.record->outcome.check.flaggedCitations())
                  .arg(tm.firstTokenMs)
                  .arg(tm.answerTokens)
                  .arg(tm.totalMs) +
              (t.record->outcome.check.citations.empty() && !t.record->outcome.check.attributions.empty()
                   ? " " + tr("The model cited nothing; the grey chips point to the passages that best match "
                              "its sentences.")
                   : QString()) +
              "*";
    }
    return md + "\n\n---\n\n";
}

void ChatPanel::markDirty(int turn)
{
    m_dirtyFrom = std::min(m_dirtyFrom, std::max(0, turn));
}

// Only turns from m_dirtyFrom on are (re)built; earlier ones stay in the document as they are,
// so streaming onto a long session costs the last answer only. A long history is built a slice
// per event-loop pass.
void ChatPanel::render()
{
    QTextDocument* doc = m_view->document();
    auto* bar = m_view->verticalScrollBar();
    const bool atEnd = bar->value() >= bar->maximum() - 4;
    const int from = std::min<int>(m_dirtyFrom, int(m_turnStarts.size()));
    if (from == 0) {
        doc->clear();
    } else if (std::size_t(from) < m_turnStarts.size()) {
        // Turns before `from` are clean; everything from where turn `from` began is rebuilt.
        QTextCursor c(doc);
        c.setPosition(std::min(m_turnStarts[std::size_t(from)], doc->characterCount() - 1));
        c.movePosition(QTextCursor::End, QTextCursor::KeepAnchor);
        c.removeSelectedText();
    }
    m_turnStarts.resize(std::size_t(from));
    QElapsedTimer clock;
    clock.start();
    for (int i = from; i < turnCount(); ++i) {
        QTextCursor c(doc);
        c.movePosition(QTextCursor::End);
        const int start = c.position();
        m_turnStarts.push_back(start);
        c.insertMarkdown(turnMarkdown(i));
        styleChips(start);
        if (clock.elapsed() > 40 && i + 1 < turnCount()) {
            m_dirtyFrom = i + 1;
            QTimer::singleShot(0, this, &ChatPanel::render);
            return;
        }
    }
    m_dirtyFrom = turnCount();
    if (atEnd)
        bar->setValue(bar->maximum());
}

// Links "cite:T/I" and "attr:T/I" from `from` on become chips: the status symbol and the
// citation, coloured by status, or a grey "attributed" chip.
void ChatPanel::styleChips(int from)
{
    QTextDocument* doc = m_view->document();
    for (QTextBlock b = doc->findBlock(from); b.isValid(); b = b.next()) {
        std::vector<std::pair<int, int>> ranges; // position, length of each cite link
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextFragment f = it.fragment();
            const QString href = f.charFormat().anchorHref();
            if (href.startsWith("cite:") || href.startsWith("attr:"))
                ranges.push_back({f.position(), f.length()});
        }
        for (auto r = ranges.rbegin(); r != ranges.rend(); ++r) {
            QTextCursor c(doc);
            c.setPosition(r->first);
            c.setPosition(r->first + r->second, QTextCursor::KeepAnchor);
            const QString href = c.charFormat().anchorHref();
            const QStringList parts = href.mid(5).split('/');
            if (parts.size() != 2)
                continue;
            const auto& rec = *m_turns[std::size_t(parts[0].toInt())].record;
            const std::size_t index = std::size_t(parts[1].toInt());
            QTextCharFormat fmt;
            fmt.setAnchor(true);
            fmt.setAnchorHref(href);
            if (href.startsWith("cite:")) {
                const auto& cc = rec.outcome.check.citations[index];
                const ChipStyle st = chipStyle(cc.status);
                fmt.setBackground(st.background);
                fmt.setForeground(st.foreground);
                fmt.setFontWeight(QFont::DemiBold);
                QString tip = qs(cc.citation.raw) + ": " + statusText(cc.status);
                if (!cc.note.empty())
                    tip += "\n" + qs(cc.note);
                fmt.setToolTip(tip);
                c.insertText(QString(" %1 %2 ").arg(QString::fromUtf8(st.symbol), qs(cc.citation.raw)), fmt);
            } else {
                const auto& a = rec.outcome.check.attributions[index];
                QString mark = rec.map ? qs(rec.map->markFor(a.segment)) : QString();
                mark = mark.mid(1, mark.size() - 2);
                fmt.setBackground(QColor(0xee, 0xee, 0xee));
                fmt.setForeground(QColor(0x55, 0x55, 0x55));
                fmt.setFontItalic(true);
                fmt.setToolTip(tr("attributed, not cited: the passage that best matches this sentence "
                                  "(%1 % of its words); the model gave no usable citation")
                                   .arg(int(a.coverage * 100)));
                c.insertText(QString(" \u2197 %1 ").arg(mark), fmt);
            }
        }
    }
}

std::optional<CitationTarget> ChatPanel::citationTarget(int turn, int index) const
{
    if (turn < 0 || turn >= turnCount() || !m_turns[std::size_t(turn)].record)
        return std::nullopt;
    const auto& rec = *m_turns[std::size_t(turn)].record;
    const auto& cites = rec.outcome.check.citations;
    if (index < 0 || std::size_t(index) >= cites.size() || !rec.map)
        return std::nullopt;
    const auto& cc = cites[std::size_t(index)];
    if (cc.segments.empty())
        return std::nullopt;
    const std::size_t segIndex = cc.matchSegment.value_or(cc.segments.front());
    if (segIndex >= rec.map->segments.size())
        return std::nullopt;
    const auto& seg = rec.map->segments[segIndex];
    const auto* doc = rec.map->document(seg.docNumber);
    CitationTarget t;
    t.docNumber = seg.docNumber;
    t.documentId = seg.anchor.document;
    t.anchor = seg.anchor;
    t.label = qs(cc.citation.raw);
    t.status = cc.status;
    if (doc) {
        t.path = qs(doc->path);
        t.title = qs(doc->title);
        t.documentId = doc->documentId;
    }
    // A line citation names its own range; show that rather than the whole segment.
    const auto& where = cc.citation.where;
    if (where.kind == app::Locator::Kind::Lines && std::holds_alternative<ingest::LineAnchor>(t.anchor.where))
        t.anchor.where = ingest::LineAnchor{where.first, std::max(where.first, where.last)};
    return t;
}

int ChatPanel::attributionCount(int turn) const
{
    if (turn < 0 || turn >= turnCount() || !m_turns[std::size_t(turn)].record)
        return 0;
    return int(m_turns[std::size_t(turn)].record->outcome.check.attributions.size());
}

std::optional<CitationTarget> ChatPanel::attributionTarget(int turn, int index) const
{
    if (index < 0 || index >= attributionCount(turn))
        return std::nullopt;
    const auto& rec = *m_turns[std::size_t(turn)].record;
    const auto& a = rec.outcome.check.attributions[std::size_t(index)];
    if (!rec.map || a.segment >= rec.map->segments.size())
        return std::nullopt;
    const auto& seg = rec.map->segments[a.segment];
    CitationTarget t;
    t.docNumber = seg.docNumber;
    t.documentId = seg.anchor.document;
    t.anchor = seg.anchor;
    const QString mark = qs(rec.map->markFor(a.segment));
    t.label = tr("attributed: %1").arg(mark.mid(1, mark.size() - 2));
    if (const auto* doc = rec.map->document(seg.docNumber)) {
        t.path = qs(doc->path);
        t.title = qs(doc->title);
        t.documentId = doc->documentId;
    }
    return t;
}

void ChatPanel::activateAttribution(int turn, int index)
{
    if (auto t = attributionTarget(turn, index))
        emit citationActivated(*t);
}

void ChatPanel::activateCitation(int turn, int index)
{
    if (auto t = citationTarget(turn, index)) {
        emit citationActivated(*t);
        return;
    }
    QString why = tr("This citation does not point at a stored place.");
    if (turn >= 0 && turn < turnCount() && m_turns[std::size_t(turn)].record) {
        const auto& cites = m_turns[std::size_t(turn)].record->outcome.check.citations;
        if (index >= 0 && std::size_t(index) < cites.size())
            why = qs(cites[std::size_t(index)].citation.raw) + ": " +
                  statusText(cites[std::size_t(index)].status);
    }
    emit citationUnavailable(why);
}

void ChatPanel::onLink(const QUrl& url)
{
    const QString s = url.toString();
    const QStringList parts = s.mid(5).split('/');
    if (parts.size() != 2)
        return;
    if (s.startsWith("cite:"))
        activateCitation(parts[0].toInt(), parts[1].toInt());
    else if (s.startsWith("attr:"))
        activateAttribution(parts[0].toInt(), parts[1].toInt());
}

} // namespace quire::ui
