// `quire-cli sample`: sets up the sample workspace on first start (and brings it up to date
// after): the sample files compiled into the binary (resources/samples: a contract PDF, a small
// code tree, a short meeting recording) are written to <data>/samples, a workspace "Sample"
// is created and they are ingested. `./quire.sh run` without a display follows with `budget` and
// `ask` on it.
#include "cli_support.h"
#include "ingest_output.h"
#include "quire/app/paths.h"
#include "quire/app/samples.h"
#include "quire/app/workspace_service.h"

namespace quire::cli {

int cmdSample(const QStringList& args)
{
    constexpr const char* cmd = "sample";
    constexpr const char* kUsage =
        "Usage: quire-cli sample [--name NAME]\n"
        "Writes the sample files (a contract PDF, a small code tree, a meeting recording) to the\n"
        "data folder's samples/ and ingests them into the workspace NAME (default \"Sample\"),\n"
        "creating it on first use. Then try: quire-cli budget Sample; quire-cli ask Sample \"...\"\n";
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    const ParsedArgs a = parseArgs(args, {"--name"}, {});
    if (!a.error.isEmpty() || !a.positional.isEmpty())
        return usage(cmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    const QString name = a.value("--name").value_or(app::kSampleWorkspace);
    auto config = serviceConfig(cmd, a);
    if (!config)
        return Failure;
    const QString dest = app::samplesFolder(config->dataDir);
    const auto written = app::installSamples(config->dataDir);
    if (!written)
        return fail(cmd, written.error());
    if (*written > 0)
        printLine("sample files written to " + dest.toStdString());

    app::WorkspaceService service(*config);
    quint64 id = 0;
    Wait wait([&] { service.cancel(id); });
    QObject::connect(&service, &app::WorkspaceService::failed, [&](quint64 rid, const QString& m) {
        if (rid == id)
            wait.finish(fail(cmd, m.toStdString()));
    });
    bool exists = false;
    QObject::connect(&service, &app::WorkspaceService::workspacesListed,
                     [&](quint64, const std::vector<app::WorkspaceSummary>& all) {
                         for (const auto& w : all)
                             exists = exists || w.name == name.toStdString();
                         wait.finish(Ok);
                     });
    id = service.listWorkspaces();
    if (int rc = wait.run(); rc != Ok)
        return rc;
    if (!exists) {
        Wait created;
        QObject::connect(&service, &app::WorkspaceService::workspaceCreated,
                         [&](quint64, const app::WorkspaceSummary& w) {
                             printLine("created workspace " + w.name);
                             created.finish(Ok);
                         });
        QObject::connect(&service, &app::WorkspaceService::failed,
                         [&](quint64, const QString& m) { created.finish(fail(cmd, m.toStdString())); });
        id = service.createWorkspace(name, "general");
        if (int rc = created.run(); rc != Ok)
            return rc;
    }
    Wait ingested([&] { service.cancel(id); });
    QObject::connect(&service, &app::WorkspaceService::failed, [&](quint64 rid, const QString& m) {
        if (rid == id)
            ingested.finish(fail(cmd, m.toStdString()));
    });
    connectIngestOutput(service, ingested, id);
    id = service.addSources(name, {dest});
    return ingested.run();
}

} // namespace quire::cli
