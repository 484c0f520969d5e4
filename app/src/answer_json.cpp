#include "quire/app/answer_json.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

#include <cmath>
#include <cstdio>

namespace quire::app {

namespace {

QString qs(const std::string& s)
{
    return QString::fromStdString(s);
}

QJsonObject segmentRef(const SourceMap& map, std::size_t index)
{
    const auto& s = map.segments.at(index);
    QJsonObject o;
    o["label"] = qs(map.markFor(index));
    o["doc"] = s.docNumber;
    o["documentId"] = qint64(s.anchor.document);
    o["segmentId"] = qint64(s.segmentId);
    o["anchor"] = anchorToJson(s.anchor);
    if (const auto* d = map.document(s.docNumber))
        o["path"] = qs(d->path);
    return o;
}

std::string line(const QJsonObject& o, const char* key)
{
    return o[key].toString().toStdString();
}

std::string fmtSeconds(qint64 ms)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", double(ms) / 1000.0);
    return buf;
}

} // namespace

QJsonObject anchorToJson(const ingest::Anchor& anchor)
{
    QJsonObject o;
    if (const auto* p = std::get_if<ingest::PageAnchor>(&anchor.where)) {
        o["type"] = "page";
        o["page"] = p->page;
        auto r2 = [](double v) { return std::round(v * 100) / 100; };
        o["box"] = QJsonArray{r2(p->box.x), r2(p->box.y), r2(p->box.width), r2(p->box.height)};
    } else if (const auto* l = std::get_if<ingest::LineAnchor>(&anchor.where)) {
        o["type"] = "lines";
        o["begin"] = l->lineBegin;
        o["end"] = l->lineEnd;
    } else if (const auto* t = std::get_if<ingest::TimeAnchor>(&anchor.where)) {
        o["type"] = "time";
        o["beginMs"] = qint64(t->beginMs);
        o["endMs"] = qint64(t->endMs);
    } else if (const auto* g = std::get_if<ingest::ParagraphAnchor>(&anchor.where)) {
        o["type"] = "paragraph";
        o["index"] = g->paragraph;
    } else {
        o["type"] = "none";
    }
    o["label"] = qs(ingest::formatAnchor(anchor));
    return o;
}

QJsonObject answerCheckToJson(const std::string& answer, const AnswerCheck& check, const SourceMap& map)
{
    QJsonArray cites;
    for (const auto& c : check.citations) {
        QJsonObject o;
        o["mark"] = qs(answer.substr(c.citation.offset, c.citation.length));
        o["raw"] = qs(c.citation.raw);
        o["offset"] = qint64(c.citation.offset);
        o["length"] = qint64(c.citation.length);
        o["doc"] = c.citation.docNumber;
        o["place"] = qs(formatLocator(c.citation.where));
        if (c.citation.quote)
            o["quote"] = qs(*c.citation.quote);
        o["status"] = statusName(c.status);
        o["usable"] = isUsable(c.status);
        o["score"] = std::round(c.score * 1000) / 1000;
        if (!c.note.empty())
            o["note"] = qs(c.note);
        if (c.matchSegment) {
            QJsonObject src = segmentRef(map, *c.matchSegment);
            src["matchBegin"] = qint64(c.matchBegin);
            src["matchEnd"] = qint64(c.matchEnd);
            src["excerpt"] =
                qs(map.segments[*c.matchSegment].text.substr(c.matchBegin, c.matchEnd - c.matchBegin));
            o["source"] = src;
        }
        if (c.elsewhere)
            o["elsewhere"] = segmentRef(map, *c.elsewhere);
        cites.append(o);
    }
    QJsonArray attrs;
    for (const auto& a : check.attributions) {
        QJsonObject o = segmentRef(map, a.segment);
        o["sentence"] = qs(answer.substr(a.sentenceBegin, a.sentenceEnd - a.sentenceBegin));
        o["coverage"] = std::round(a.coverage * 1000) / 1000;
        o["bm25"] = std::round(a.bm25 * 1000) / 1000;
        attrs.append(o);
    }
    QJsonObject root;
    root["version"] = 1;
    root["citations"] = cites;
    root["attributions"] = attrs;
    return root;
}

std::string exportMarkdown(const SessionExport& e)
{
    std::string md = "# " + e.session.name + "\n\n";
    md += "Workspace: " + e.workspace + "  \n";
    md += "Session " + std::to_string(e.session.id) + ", started " +
          QDateTime::fromSecsSinceEpoch(e.session.createdUnix).toString(Qt::ISODate).toStdString() + ", " +
          std::to_string(e.turns.size()) + " question(s)\n";
    for (const auto& t : e.turns) {
        md += "\n## " + std::to_string(t.ordinal + 1) + ". " + t.question + "\n\n";
        md += t.answer + "\n";
        const auto doc = QJsonDocument::fromJson(QByteArray::fromStdString(t.citationsJson));
        const auto cites = doc.object()["citations"].toArray();
        const auto attrs = doc.object()["attributions"].toArray();
        if (!cites.isEmpty()) {
            md += "\n**Citations**\n\n";
            for (const auto& v : cites) {
                const auto c = v.toObject();
                md += "- `" + line(c, "mark") + "` " + line(c, "status");
                if (c.contains("source"))
                    md += ": " + c["source"].toObject()["path"].toString().toStdString() + " " +
                          c["source"].toObject()["anchor"].toObject()["label"].toString().toStdString();
                if (c.contains("quote"))
                    md += " \xE2\x80\x94 \"" + line(c, "quote") + "\"";
                if (c.contains("note"))
                    md += " (" + line(c, "note") + ")";
                md += "\n";
            }
        }
        if (!attrs.isEmpty()) {
            md += "\n**Attributed** (found by word overlap, not cited by the model)\n\n";
            QString lastSentence;
            for (const auto& v : attrs) {
                const auto a = v.toObject();
                char pct[16];
                std::snprintf(pct, sizeof pct, "%d%%", int(a["coverage"].toDouble() * 100 + 0.5));
                if (a["sentence"].toString() != lastSentence) {
                    md += "- \"" + line(a, "sentence") + "\"\n";
                    lastSentence = a["sentence"].toString();
                }
                md += "  - `" + line(a, "label") + "` " + line(a, "path") + " (" + pct +
                      " of the sentence's words)\n";
            }
        }
        if (cites.isEmpty() && attrs.isEmpty())
            md += "\n_No citation, and no passage of the context matches the answer's words._\n";
        const auto& tm = t.timings;
        md += "\n_Tokens: prompt " + std::to_string(tm.promptTokens.value_or(0)) +
              " (context and question), answer " + std::to_string(tm.answerTokens.value_or(0)) +
              ". Time: prefill " + fmtSeconds(tm.prefillMs.value_or(0)) + ", first token " +
              fmtSeconds(tm.firstTokenMs.value_or(0)) + ", total " + fmtSeconds(tm.totalMs.value_or(0)) +
              "._\n";
    }
    return md;
}

std::string exportJson(const SessionExport& e)
{
    QJsonObject root;
    root["workspace"] = qs(e.workspace);
    root["session"] = QJsonObject{{"id", qint64(e.session.id)},
                                  {"name", qs(e.session.name)},
                                  {"modelFingerprint", qs(e.session.modelFingerprint)},
                                  {"createdUnix", qint64(e.session.createdUnix)}};
    QJsonArray turns;
    for (const auto& t : e.turns) {
        QJsonObject o;
        o["ordinal"] = t.ordinal;
        o["question"] = qs(t.question);
        o["answer"] = qs(t.answer);
        o["createdUnix"] = qint64(t.createdUnix);
        const auto cj = QJsonDocument::fromJson(QByteArray::fromStdString(t.citationsJson));
        o["citations"] = cj.object()["citations"];
        o["attributions"] = cj.object()["attributions"];
        QJsonObject tm;
        auto put = [&](const char* k, const std::optional<std::int64_t>& v) {
            if (v)
                tm[k] = qint64(*v);
        };
        put("promptTokens", t.timings.promptTokens);
        put("answerTokens", t.timings.answerTokens);
        put("prefillMs", t.timings.prefillMs);
        put("firstTokenMs", t.timings.firstTokenMs);
        put("totalMs", t.timings.totalMs);
        o["timings"] = tm;
        turns.append(o);
    }
    root["turns"] = turns;
    return QJsonDocument(root).toJson(QJsonDocument::Indented).toStdString();
}

} // namespace quire::app
