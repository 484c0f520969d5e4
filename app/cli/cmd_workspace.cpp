// `quire-cli workspace create|list|show|add|remove|set`: workspaces and their sources, through
// WorkspaceService. `add` ingests what it adds; `ingest` (cmd_ingest.cpp) rescans.
#include <QDateTime>

#include "cli_support.h"
#include "ingest_output.h"
#include "quire/app/preset.h"
#include "quire/app/workspace_service.h"

namespace quire::cli {

namespace {

constexpr const char* kUsage =
    "Usage:\n"
    "  quire-cli workspace create NAME [--preset general|legal|code|meeting]\n"
    "  quire-cli workspace list\n"
    "  quire-cli workspace show NAME           sources in context order, with doc numbers\n"
    "  quire-cli workspace add NAME PATH...    add files or folders and ingest them\n"
    "  quire-cli workspace remove NAME [PATH...]  remove sources, or (no PATH) the workspace\n"
    "  quire-cli workspace set NAME [--preset P] [--exclude N,...] [--include N,...]\n"
    "NAME may also be a workspace id.\n";

std::string statusLabel(const app::SourceBudget& b)
{
    if (b.excluded)
        return "excluded";
    return ingest::toString(b.status);
}

int printListing(const app::WorkspaceListing& l)
{
    const auto& s = l.summary;
    printLine("workspace " + std::to_string(s.id) + " \"" + s.name + "\", preset " + s.preset + ", " +
              std::to_string(s.sources) + " source(s), " + std::to_string(s.documents) +
              " in the context, ~" + withThousands(s.estimatedTokens) + " tokens (estimate)");
    for (const auto& in : s.inputs)
        printLine("  input: " + in);
    if (!l.sources.empty())
        printLine("   doc  segments  ~tokens  kind   status       path");
    for (const auto& line : l.sources) {
        const auto& b = line.budget;
        char buf[128];
        std::snprintf(buf, sizeof buf, "  %4d  %8d  %7s  %-5s  %-11s  ", b.number, line.segments,
                      withThousands(b.estimatedTokens).c_str(), ingest::toString(b.kind),
                      statusLabel(b).c_str());
        std::string out = buf + line.displayPath;
        if (!b.note.empty() && b.status != ingest::SourceStatus::Ingested)
            out += "  (" + b.note + ")";
        printLine(out);
    }
    return Ok;
}

} // namespace

int cmdWorkspace(const QStringList& args)
{
    constexpr const char* cmd = "workspace";
    if (args.isEmpty() || args.contains("--help")) {
        std::fputs(kUsage, args.isEmpty() ? stderr : stdout);
        return args.isEmpty() ? Usage : Ok;
    }
    const ParsedArgs a = parseArgs(args, {"--preset", "--exclude", "--include"}, {});
    if (!a.error.isEmpty())
        return usage(cmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    const QString verb = a.positional.value(0);
    const QString name = a.positional.value(1);
    const QStringList rest = a.positional.mid(2);
    const bool known = verb == "create" || verb == "list" || verb == "show" || verb == "add" ||
                       verb == "remove" || verb == "set";
    if (!known)
        return usage(cmd, ("unknown action '" + verb.toStdString() + "'\n" + kUsage).c_str());
    if (verb != "list" && name.isEmpty())
        return usage(cmd,
                     (verb.toStdString().insert(0, 1, '\'') + "' needs a workspace name\n" + kUsage).c_str());
    if (verb == "add" && rest.isEmpty())
        return usage(cmd, "'add' needs at least one file or folder\n");
    if ((verb == "create" || verb == "list" || verb == "show" || verb == "set") && !rest.isEmpty())
        return usage(cmd, ("unexpected argument " + rest.first().toStdString() + "\n").c_str());

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

    if (verb == "create") {
        QObject::connect(&service, &app::WorkspaceService::workspaceCreated,
                         [&](quint64, const app::WorkspaceSummary& w) {
                             printLine("created workspace " + std::to_string(w.id) + " " + w.name +
                                       " (preset " + w.preset + ")");
                             wait.finish(Ok);
                         });
        id = service.createWorkspace(name, a.value("--preset").value_or("general"));
    } else if (verb == "list") {
        QObject::connect(&service, &app::WorkspaceService::workspacesListed,
                         [&](quint64, const std::vector<app::WorkspaceSummary>& all) {
                             for (const auto& w : all)
                                 printLine(std::to_string(w.id) + "\t" + w.name + "\t" + w.preset + "\t" +
                                           std::to_string(w.documents) + " document(s)\t~" +
                                           withThousands(w.estimatedTokens) + " tokens");
                             wait.finish(Ok);
                         });
        id = service.listWorkspaces();
    } else if (verb == "show") {
        QObject::connect(&service, &app::WorkspaceService::sourcesListed,
                         [&](quint64, const app::WorkspaceListing& l) { wait.finish(printListing(l)); });
        id = service.listSources(name);
    } else if (verb == "add") {
        connectIngestOutput(service, wait, id);
        id = service.addSources(name, rest);
    } else if (verb == "remove") {
        if (rest.isEmpty()) {
            QObject::connect(&service, &app::WorkspaceService::workspaceRemoved, [&](quint64) {
                printLine("removed workspace " + name.toStdString());
                wait.finish(Ok);
            });
            id = service.removeWorkspace(name);
        } else {
            QObject::connect(&service, &app::WorkspaceService::sourcesRemoved, [&](quint64, int n) {
                printLine("removed " + std::to_string(n) + " source(s) from " + name.toStdString());
                wait.finish(Ok);
            });
            id = service.removeSources(name, rest);
        }
    } else { // set
        std::set<int> exclude, include;
        if (auto v = a.value("--exclude")) {
            auto n = parseNumbers(*v);
            if (!n)
                return usage(cmd, "--exclude takes document numbers, e.g. 3,5\n");
            exclude = *n;
        }
        if (auto v = a.value("--include")) {
            auto n = parseNumbers(*v);
            if (!n)
                return usage(cmd, "--include takes document numbers, e.g. 3,5\n");
            include = *n;
        }
        std::optional<QString> preset = a.value("--preset");
        if (!preset && exclude.empty() && include.empty())
            return usage(cmd, "'set' needs --preset, --exclude or --include\n");
        QObject::connect(&service, &app::WorkspaceService::configured,
                         [&](quint64, const app::WorkspaceSummary& w) {
                             printLine("workspace " + w.name + ": preset " + w.preset + ", " +
                                       std::to_string(w.documents) + " document(s) in the context, " +
                                       std::to_string(w.excluded) + " left out");
                             wait.finish(Ok);
                         });
        id = service.configure(name, preset, exclude, include);
    }
    return wait.run();
}

} // namespace quire::cli
