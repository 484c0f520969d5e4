#include "quire/ui/stored_answer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace quire::ui {

namespace {

app::CitationStatus statusFromName(const QString& name)
{
    for (auto s :
         {app::CitationStatus::Verified, app::CitationStatus::QuoteNotFound, app::CitationStatus::Supported,
          app::CitationStatus::Unsupported, app::CitationStatus::Unresolved}) {
        if (name == QLatin1String(app::statusName(s)))
            return s;
    }
    return app::CitationStatus::Unresolved;
}

// Adds the segment a JSON reference ({doc, documentId, segmentId, anchor, path, excerpt}) names;
// returns its index.
std::size_t addSegment(app::SourceMap& map, const QJsonObject& ref)
{
    app::MappedSegment seg;
    seg.segmentId = ref["segmentId"].toInteger();
    seg.docNumber = ref["doc"].toInt();
    seg.anchor = anchorFromJson(ref["anchor"].toObject());
    seg.anchor.document = ref["documentId"].toInteger();
    seg.text = ref["excerpt"].toString().toStdString();
    if (!map.document(seg.docNumber)) {
        app::MappedDocument d;
        d.number = seg.docNumber;
        d.documentId = seg.anchor.document;
        d.path = ref["path"].toString().toStdString();
        map.documents.push_back(d);
    }
    map.segments.push_back(seg);
    return map.segments.size() - 1;
}

} // namespace

ingest::Anchor anchorFromJson(const QJsonObject& o)
{
    ingest::Anchor a;
    const QString type = o["type"].toString();
    if (type == "page") {
        const auto box = o["box"].toArray();
        a.where = ingest::PageAnchor{
            o["page"].toInt(),
            {box.at(0).toDouble(), box.at(1).toDouble(), box.at(2).toDouble(), box.at(3).toDouble()}};
    } else if (type == "lines") {
        a.where = ingest::LineAnchor{o["begin"].toInt(), o["end"].toInt()};
    } else if (type == "time") {
        a.where = ingest::TimeAnchor{o["beginMs"].toInteger(), o["endMs"].toInteger()};
    } else if (type == "paragraph") {
        a.where = ingest::ParagraphAnchor{o["index"].toInt()};
    }
    return a;
}

app::AnswerRecord recordFromTurn(const storage::Turn& turn)
{
    app::AnswerRecord r;
    r.session = turn.session;
    r.turn = turn.id;
    r.citationsJson = turn.citationsJson;
    r.outcome.question = turn.question;
    r.outcome.text = turn.answer;
    r.outcome.timings.answerTokens = turn.timings.answerTokens.value_or(0);
    r.outcome.timings.firstTokenMs = turn.timings.firstTokenMs.value_or(0);
    r.outcome.timings.totalMs = turn.timings.totalMs.value_or(0);
    auto map = std::make_shared<app::SourceMap>();
    const QJsonObject root = QJsonDocument::fromJson(QByteArray::fromStdString(turn.citationsJson)).object();
    for (const auto& v : root["citations"].toArray()) {
        const QJsonObject o = v.toObject();
        app::CheckedCitation c;
        c.citation.offset = std::size_t(o["offset"].toInteger());
        c.citation.length = std::size_t(o["length"].toInteger());
        c.citation.raw = o["raw"].toString().toStdString();
        c.citation.docNumber = o["doc"].toInt();
        if (o.contains("quote"))
            c.citation.quote = o["quote"].toString().toStdString();
        c.status = statusFromName(o["status"].toString());
        c.score = o["score"].toDouble();
        c.note = o["note"].toString().toStdString();
        if (o.contains("source")) {
            const std::size_t i = addSegment(*map, o["source"].toObject());
            c.segments = {i};
            c.matchSegment = i;
        }
        if (c.citation.offset + c.citation.length <= turn.answer.size())
            r.outcome.check.citations.push_back(std::move(c));
    }
    for (const auto& v : root["attributions"].toArray()) {
        const QJsonObject o = v.toObject();
        const std::string sentence = o["sentence"].toString().toStdString();
        const std::size_t at = sentence.empty() ? std::string::npos : turn.answer.find(sentence);
        if (at == std::string::npos)
            continue;
        app::Attribution a;
        a.sentenceBegin = at;
        a.sentenceEnd = at + sentence.size();
        a.segment = addSegment(*map, o);
        a.coverage = o["coverage"].toDouble();
        a.bm25 = o["bm25"].toDouble();
        r.outcome.check.attributions.push_back(a);
    }
    r.map = map;
    return r;
}

} // namespace quire::ui
