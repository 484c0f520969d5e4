// `quire-cli ingest NAME`: rescans a workspace's inputs; unchanged files cost nothing, changed
// ones are extracted again, new ones appended to the context, vanished ones removed.
#include "cli_support.h"
#include "ingest_output.h"
#include "quire/app/workspace_service.h"

namespace quire::cli {

int cmdIngest(const QStringList& args)
{
    constexpr const char* cmd = "ingest";
    constexpr const char* kUsage = "Usage: quire-cli ingest WORKSPACE\n"
                                   "Rescans the workspace's files and folders and ingests what changed.\n";
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    const ParsedArgs a = parseArgs(args, {}, {});
    if (!a.error.isEmpty() || a.positional.size() != 1)
        return usage(cmd, kUsage);
    auto config = serviceConfig(cmd, a);
    if (!config)
        return Failure;
    app::WorkspaceService service(*config);
    quint64 id = 0;
    Wait wait([&] { service.cancel(id); });
    QObject::connect(&service, &app::WorkspaceService::failed, [&](quint64 rid, const QString& message) {
        if (rid == id)
            wait.finish(fail(cmd, message.toStdString()));
    });
    connectIngestOutput(service, wait, id);
    id = service.ingest(a.positional.first());
    return wait.run();
}

} // namespace quire::cli
