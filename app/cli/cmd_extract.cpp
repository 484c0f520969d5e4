// `quire-cli extract PATH... [--json]`: runs the ingest pipeline over files and folders and
// prints every document with its segments and anchors, one JSON object per line with --json
// (path, kind, status, error, segments with text and anchor), for scripts and tests.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <cstdio>

#include "commands.h"
#include "quire/ingest/ingestor.h"

namespace quire::cli {

namespace {

QJsonArray boxJson(const ingest::BoundingBox& b)
{
    auto round2 = [](double v) { return std::round(v * 100) / 100; };
    return {round2(b.x), round2(b.y), round2(b.width), round2(b.height)};
}

QJsonObject anchorJson(const ingest::Anchor& anchor)
{
    QJsonObject o;
    if (const auto* p = std::get_if<ingest::PageAnchor>(&anchor.where)) {
        o["type"] = "page";
        o["page"] = p->page;
        o["box"] = boxJson(p->box);
    } else if (const auto* l = std::get_if<ingest::LineAnchor>(&anchor.where)) {
        o["type"] = "lines";
        o["begin"] = l->lineBegin;
        o["end"] = l->lineEnd;
    } else if (const auto* t = std::get_if<ingest::TimeAnchor>(&anchor.where)) {
        o["type"] = "time";
        o["beginMs"] = static_cast<qint64>(t->beginMs);
        o["endMs"] = static_cast<qint64>(t->endMs);
    } else if (const auto* g = std::get_if<ingest::ParagraphAnchor>(&anchor.where)) {
        o["type"] = "paragraph";
        o["index"] = g->paragraph;
    } else {
        o["type"] = "none";
    }
    o["label"] = QString::fromStdString(ingest::formatAnchor(anchor));
    return o;
}

QJsonObject documentJson(const ingest::Document& d, bool words)
{
    QJsonObject o;
    o["path"] = QString::fromStdString(d.source.path);
    o["kind"] = ingest::toString(d.source.kind);
    o["status"] = ingest::toString(d.status);
    o["error"] = QString::fromStdString(d.error);
    o["title"] = QString::fromStdString(d.title);
    o["language"] = QString::fromStdString(d.language);
    o["size"] = static_cast<qint64>(d.source.size);
    o["contentHash"] = QString::fromStdString(d.source.contentHash);
    QJsonArray segments;
    for (const auto& s : d.segments) {
        QJsonObject so;
        so["text"] = QString::fromStdString(s.text);
        so["anchor"] = anchorJson(s.anchor);
        if (s.framePath)
            so["frame"] = QString::fromStdString(*s.framePath);
        if (s.headingLevel > 0)
            so["heading"] = s.headingLevel;
        if (words && !s.words.empty()) {
            QJsonArray wa;
            for (const auto& w : s.words)
                wa.append(QJsonObject{{"text", QString::fromStdString(s.text.substr(w.offset, w.length))},
                                      {"box", boxJson(w.box)}});
            so["words"] = wa;
        }
        segments.append(so);
    }
    o["segments"] = segments;
    return o;
}

void printUsage(FILE* to)
{
    std::fputs(
        "Usage: quire-cli extract PATH... [options]\n"
        "Extracts files and folders (code, text, PDF, DOCX, audio, video) into anchored segments.\n\n"
        "Options:\n"
        "  --list FILE         also the paths listed in FILE, one per line\n"
        "  --json              one JSON object per document and line (path, kind, status, error, segments)\n"
        "  --words             with --json: the word boxes of PDF segments too\n"
        "  --no-ocr            do not OCR PDF pages without a text layer\n"
        "  --no-asr            do not transcribe audio (video still yields key frames)\n"
        "  --frames DIR        where video key frames go (default: <tmp>/quire-frames)\n"
        "  --max-size MIB      skip files larger than this (default 4096)\n"
        "  --timeout SECONDS   per-file time limit for PDF, DOCX and media (default 14400)\n"
        "  --threads N         files extracted at once (default: cores, at most 4)\n"
        "  --progress          progress on stderr\n",
        to);
}

} // namespace

int cmdExtract(const QStringList& args)
{
    if (args.contains("--help")) {
        printUsage(stdout);
        return Ok;
    }
    ingest::IngestOptions options;
    std::vector<std::filesystem::path> inputs;
    bool json = false, words = false, showProgress = false;
    for (qsizetype i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        auto value = [&]() -> std::optional<QString> {
            if (i + 1 >= args.size())
                return std::nullopt;
            return args[++i];
        };
        bool ok = true;
        if (a == "--json") {
            json = true;
        } else if (a == "--words") {
            words = true;
        } else if (a == "--no-ocr") {
            options.extract.pdf.ocr = false;
        } else if (a == "--no-asr") {
            options.extract.media.transcribe = false;
        } else if (a == "--progress") {
            showProgress = true;
        } else if (a == "--list") {
            auto v = value();
            ok = v.has_value();
            if (ok) {
                auto listed = ingest::readPathList(v->toStdString());
                if (!listed) {
                    std::fprintf(stderr, "quire-cli extract: %s\n", listed.error().message.c_str());
                    return Failure;
                }
                inputs.insert(inputs.end(), listed->begin(), listed->end());
            }
        } else if (a == "--frames") {
            auto v = value();
            ok = v.has_value();
            if (ok)
                options.extract.media.frameDir = v->toStdString();
        } else if (a == "--max-size") {
            auto v = value();
            const qint64 mib = v ? v->toLongLong(&ok) : 0;
            ok = ok && v && mib > 0;
            options.scan.maxFileBytes = mib << 20;
        } else if (a == "--timeout") {
            auto v = value();
            const int s = v ? v->toInt(&ok) : 0;
            ok = ok && v && s > 0;
            options.limits.timeLimit = std::chrono::seconds(s);
        } else if (a == "--threads") {
            auto v = value();
            options.threads = v ? v->toInt(&ok) : 0;
            ok = ok && v && options.threads > 0;
        } else if (a.startsWith("--")) {
            std::fprintf(stderr, "quire-cli extract: unknown option %s\n", qPrintable(a));
            return Usage;
        } else {
            inputs.emplace_back(a.toStdString());
        }
        if (!ok) {
            std::fprintf(stderr, "quire-cli extract: %s needs a valid value\n", qPrintable(a));
            return Usage;
        }
    }
    if (inputs.empty()) {
        printUsage(stderr);
        return Usage;
    }

    const ingest::Ingestor ingestor(options);
    auto onDocument = [&](ingest::Document&& d) {
        if (json) {
            const QByteArray line = QJsonDocument(documentJson(d, words)).toJson(QJsonDocument::Compact);
            std::fwrite(line.constData(), 1, static_cast<size_t>(line.size()), stdout);
            std::fputc('\n', stdout);
        } else {
            std::printf("%-11s %-5s %s (%zu segments)%s%s\n", ingest::toString(d.status),
                        ingest::toString(d.source.kind), d.source.path.c_str(), d.segments.size(),
                        d.error.empty() ? "" : ": ", d.error.c_str());
        }
        std::fflush(stdout);
    };
    auto onProgress = [&](const ingest::IngestProgress& p) {
        if (showProgress)
            std::fprintf(stderr, "\r%zu/%zu files, %lld/%lld MiB", p.filesDone, p.filesTotal,
                         static_cast<long long>(p.bytesDone >> 20),
                         static_cast<long long>(p.bytesTotal >> 20));
    };
    const ingest::IngestSummary summary = ingestor.run(inputs, onDocument, onProgress);
    if (showProgress)
        std::fputc('\n', stderr);
    if (!json)
        std::printf("%zu ingested, %zu partial, %zu quarantined, %zu skipped\n", summary.ingested,
                    summary.partial, summary.quarantined, summary.skipped);
    return summary.cancelled ? Cancelled : Ok;
}

} // namespace quire::cli
