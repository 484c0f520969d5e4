#include "answer_output.h"

#include <unistd.h>

#include <chrono>

#include "quire/app/source_map.h"

namespace quire::cli {

namespace {

std::string kindOf(const app::SourceBudget& s)
{
    return ingest::toString(s.kind);
}

std::string placeOf(const app::SourceMap& map, std::size_t segment)
{
    const auto& s = map.segments.at(segment);
    const auto* d = map.document(s.docNumber);
    return (d ? d->displayPath : std::string("?")) + " " + ingest::formatAnchor(s.anchor);
}

std::string seconds(std::int64_t ms)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", double(ms) / 1000.0);
    return buf;
}

std::string excerpt(const std::string& text, std::size_t max = 90)
{
    std::string s;
    for (char c : text)
        s += (c == '\n' || c == '\t') ? ' ' : c;
    if (s.size() > max) {
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
            --cut;
        s = s.substr(0, cut) + "...";
    }
    return s;
}

} // namespace

void printBudget(const app::BudgetResult& r)
{
    const auto& rep = r.report;
    const auto& in = rep.input;
    printLine("Workspace \"" + r.workspace.name + "\" (preset " + r.workspace.preset + "), model " +
              r.modelName + " on " + r.backend + ", window " + withThousands(in.contextWindow) + " tokens");
    printLine("");
    printLine("   doc     tokens         kind   status       path");
    for (const auto& s : in.sources) {
        char buf[160];
        const std::string count = s.number > 0 && (s.exactTokens || s.estimatedTokens > 0)
                                      ? withThousands(s.tokens()) + (s.exactTokens ? " exact" : " est. ")
                                      : std::string("-");
        const std::string status = s.excluded ? "LEFT OUT" : ingest::toString(s.status);
        std::snprintf(buf, sizeof buf, "  %4d  %15s  %-5s  %-11s  ", s.number, count.c_str(),
                      kindOf(s).c_str(), status.c_str());
        std::string line = buf + (s.displayPath.empty() ? s.path : s.displayPath);
        if (!s.inContext && !s.excluded)
            line += "  (" + (s.note.empty() ? std::string("no text") : s.note) + ")";
        printLine(line);
    }
    printLine("");
    printLine("  prompt and overviews   " + withThousands(in.promptTokens) + " tokens");
    printLine("  context                " + withThousands(rep.contextTokens) + " tokens" +
              (rep.allExact ? " (exact)" : " (partly estimated)"));
    printLine("  + question and answer  " + withThousands(in.reserveTokens) + " tokens kept free");
    if (rep.fits) {
        printLine("  fits: " + withThousands(rep.neededTokens) + " of " + withThousands(in.contextWindow) +
                  " tokens");
    } else {
        printLine("  DOES NOT FIT: needs " + withThousands(rep.neededTokens) + " tokens, the window holds " +
                  withThousands(in.contextWindow) + " (over by " + withThousands(rep.overBy) + ").");
        printLine("  Nothing is cut. Choose what to leave out: quire-cli workspace set " + r.workspace.name +
                  " --exclude N,...");
        if (!rep.suggestExclude.empty()) {
            std::string s;
            for (int n : rep.suggestExclude) {
                if (!s.empty())
                    s += ',';
                s += std::to_string(n);
            }
            printLine("  (leaving out the largest, " + s + ", would make it fit)");
        } else {
            printLine("  (even the prompt alone does not fit: use a model with a longer context, or --ctx)");
        }
    }
    printLine("  KV cache               " + app::formatBytes(rep.kv.totalBytes) + "  (" + rep.kv.formula +
              ")");
    if (rep.prefillSeconds)
        printLine("  prefill                ~" + app::formatDuration(*rep.prefillSeconds) + " at " +
                  std::to_string(int(*in.prefillTokensPerSecond + 0.5)) + " tokens/s (" + in.throughputNote +
                  ")");
    else
        printLine("  prefill                unknown: " + in.throughputNote);
    printLine("  prefix reuse           " + r.prefixCache);
}

void printCheckedAnswer(const app::AnswerRecord& r)
{
    const auto& out = r.outcome;
    const auto& map = *r.map;
    if (!out.check.citations.empty()) {
        printLine("Citations:");
        for (const auto& c : out.check.citations) {
            std::string line = "  " + out.text.substr(c.citation.offset, c.citation.length) + "  ";
            switch (c.status) {
            case app::CitationStatus::Verified:
                line += "verified";
                break;
            case app::CitationStatus::Supported:
                line += "supported (no quote)";
                break;
            case app::CitationStatus::QuoteNotFound:
                line += "UNVERIFIED: quote not found";
                break;
            case app::CitationStatus::Unsupported:
                line += "UNVERIFIED";
                break;
            case app::CitationStatus::Unresolved:
                line += "UNRESOLVED";
                break;
            }
            if (c.matchSegment)
                line += "  " + placeOf(map, *c.matchSegment);
            if (c.status == app::CitationStatus::Verified && c.matchSegment)
                line += "  \"" +
                        excerpt(map.segments[*c.matchSegment].text.substr(c.matchBegin,
                                                                          c.matchEnd - c.matchBegin)) +
                        "\"";
            if (!c.note.empty())
                line += "  (" + c.note + ")";
            printLine(line);
        }
    } else {
        printLine("Citations: none in the answer.");
    }
    if (!out.check.attributions.empty()) {
        printLine("Attributed by word overlap (not cited by the model):");
        std::size_t last = SIZE_MAX;
        for (const auto& a : out.check.attributions) {
            if (a.sentenceBegin != last)
                printLine("  \"" +
                          excerpt(out.text.substr(a.sentenceBegin, a.sentenceEnd - a.sentenceBegin), 70) +
                          "\"");
            last = a.sentenceBegin;
            printLine("      -> " + map.markFor(a.segment) + " " + placeOf(map, a.segment) + "  (" +
                      std::to_string(int(a.coverage * 100 + 0.5)) + "% of its words): \"" +
                      excerpt(map.segments[a.segment].text, 70) + "\"");
        }
    } else if (out.check.usableCitations() == 0) {
        printLine("No passage of the context matches the answer's words.");
    }
    const auto& t = out.timings;
    printLine("Turn " + std::to_string(r.turn) + " of session " + std::to_string(r.session) + ". Context " +
              withThousands(t.contextTokens) + " tokens (" + withThousands(t.reusedTokens) +
              " reused), question " + std::to_string(t.questionTokens) + ", answer " +
              std::to_string(t.answerTokens) + " tokens; prefill " + seconds(t.prefillMs) + ", first token " +
              seconds(t.firstTokenMs) + ", total " + seconds(t.totalMs) + ".");
}

void finishOnFailure(app::AnswerService& service, const quint64& id, Wait& wait, const char* command)
{
    QObject::connect(&service, &app::AnswerService::failed,
                     [&id, &wait, command](quint64 rid, const QString& m, int kind) {
                         if (rid == id)
                             wait.finish(fail(command, m.toStdString(),
                                              kind == app::AnswerService::Cancelled ? Cancelled : Failure));
                     });
}

void connectPrefillProgress(app::AnswerService& service, const quint64& id)
{
    auto line = std::make_shared<ProgressLine>("prefill");
    QObject::connect(&service, &app::AnswerService::prefillProgress,
                     [&id, line](quint64 rid, qint64 done, qint64 total) {
                         if (rid == id)
                             line->update(done, total);
                     });
}

} // namespace quire::cli
