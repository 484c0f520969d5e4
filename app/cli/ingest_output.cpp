#include "ingest_output.h"

#include <unistd.h>

namespace quire::cli {

std::string describeIngest(const app::IngestReport& r)
{
    std::string s = std::to_string(r.scanned) + " file(s) found: " + std::to_string(r.ingested) +
                    " ingested, " + std::to_string(r.unchanged) + " unchanged, " + std::to_string(r.partial) +
                    " partial, " + std::to_string(r.quarantined) + " quarantined, " +
                    std::to_string(r.skipped) + " skipped";
    if (r.removed > 0)
        s += ", " + std::to_string(r.removed) + " removed (gone from disk)";
    if (r.numbered > 0)
        s += "; " + std::to_string(r.numbered) + " new document(s) appended to the context";
    if (r.cancelled)
        s += " (cancelled)";
    return s;
}

void connectIngestOutput(app::WorkspaceService& service, Wait& wait, const quint64& id)
{
    const bool tty = isatty(STDERR_FILENO) != 0;
    QObject::connect(&service, &app::WorkspaceService::ingestProgress,
                     [&id, tty](quint64 rid, const ingest::IngestProgress& p) {
                         if (rid != id || !tty)
                             return;
                         std::fprintf(stderr, "\r\033[Kingest: %zu/%zu files  %s", p.filesDone, p.filesTotal,
                                      p.currentPath.c_str());
                         std::fflush(stderr);
                     });
    QObject::connect(&service, &app::WorkspaceService::ingestFinished,
                     [&id, &wait, tty](quint64 rid, const app::IngestReport& r) {
                         if (rid != id)
                             return;
                         if (tty)
                             std::fputs("\r\033[K", stderr);
                         printLine(describeIngest(r));
                         for (const auto& p : r.problems)
                             printLine("  " + p);
                         wait.finish(r.cancelled ? Cancelled : Ok);
                     });
}

} // namespace quire::cli
