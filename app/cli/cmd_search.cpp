// `quire-cli search NAME "words"`: full-text search (FTS5) with the anchor of every hit.
#include "cli_support.h"
#include "quire/app/search_service.h"

namespace quire::cli {

int cmdSearch(const QStringList& args)
{
    constexpr const char* cmd = "search";
    constexpr const char* kUsage = "Usage: quire-cli search WORKSPACE \"WORDS\" [--limit N] [--fts]\n"
                                   "Segments holding every word, best first, with their marks. --fts takes\n"
                                   "FTS5 syntax instead (OR, NEAR, \"phrases\", prefix*).\n";
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    const ParsedArgs a = parseArgs(args, {"--limit"}, {"--fts"});
    if (!a.error.isEmpty() || a.positional.size() != 2)
        return usage(cmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    bool ok = true;
    const int limit = a.value("--limit").value_or("20").toInt(&ok);
    if (!ok || limit <= 0)
        return usage(cmd, "--limit takes a positive number\n");
    auto config = serviceConfig(cmd, a);
    if (!config)
        return Failure;
    app::SearchService service(*config);
    Wait wait;
    QObject::connect(&service, &app::SearchService::failed,
                     [&](quint64, const QString& m) { wait.finish(fail(cmd, m.toStdString())); });
    QObject::connect(&service, &app::SearchService::results,
                     [&](quint64, const std::vector<app::SearchResultLine>& hits) {
                         if (hits.empty())
                             printLine("no matches");
                         for (const auto& h : hits) {
                             printLine(h.mark + "  " + h.hit.path);
                             printLine("    " + h.hit.snippet);
                         }
                         wait.finish(Ok);
                     });
    service.search(a.positional[0], a.positional[1], limit, a.has("--fts"));
    return wait.run();
}

} // namespace quire::cli
