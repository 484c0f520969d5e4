// `quire-cli budget NAME`: the token budget of the workspace's context before any prefill.
#include "answer_output.h"
#include "cli_support.h"
#include "quire/app/answer_service.h"
#include "quire/app/workspace_service.h"

namespace quire::cli {

int cmdBudget(const QStringList& args)
{
    constexpr const char* cmd = "budget";
    constexpr const char* kUsage =
        "Usage: quire-cli budget WORKSPACE [--exclude N,...] [--include N,...] [--no-measure] [engine "
        "options]\n"
        "Per-source token counts, the total against the model's window, the KV memory and the\n"
        "estimated prefill time. --exclude/--include change which documents the context leaves out\n"
        "(remembered). Without a measured speed, the first 256 tokens are prefilled to measure it\n"
        "(--no-measure skips that).\n" QUIRE_CLI_ENGINE_HELP;
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    QStringList valueOptions = kEngineOptions;
    valueOptions << "--exclude"
                 << "--include";
    const ParsedArgs a = parseArgs(args, valueOptions, {"--no-measure"});
    if (!a.error.isEmpty() || a.positional.size() != 1)
        return usage(cmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    std::set<int> exclude, include;
    for (auto [opt, set] : {std::pair{"--exclude", &exclude}, std::pair{"--include", &include}}) {
        if (auto v = a.value(opt)) {
            auto n = parseNumbers(*v);
            if (!n)
                return usage(cmd, (std::string(opt) + " takes document numbers, e.g. 3,5\n").c_str());
            *set = *n;
        }
    }
    auto config = serviceConfig(cmd, a);
    if (!config)
        return Failure;
    const QString ws = a.positional.first();

    if (!exclude.empty() || !include.empty()) {
        app::WorkspaceService workspaces(*config);
        Wait wait;
        QObject::connect(&workspaces, &app::WorkspaceService::failed,
                         [&](quint64, const QString& m) { wait.finish(fail(cmd, m.toStdString())); });
        QObject::connect(&workspaces, &app::WorkspaceService::configured,
                         [&](quint64, const app::WorkspaceSummary&) { wait.finish(Ok); });
        workspaces.configure(ws, std::nullopt, exclude, include);
        if (const int rc = wait.run(); rc != Ok)
            return rc;
    }

    app::AnswerService service(*config);
    quint64 id = 0;
    Wait wait([&] { service.cancel(id); });
    finishOnFailure(service, id, wait, cmd);
    QObject::connect(&service, &app::AnswerService::budgetReady,
                     [&](quint64 rid, const app::BudgetResult& r) {
                         if (rid != id)
                             return;
                         printBudget(r);
                         wait.finish(Ok);
                     });
    id = service.budget(ws, !a.has("--no-measure"));
    return wait.run();
}

} // namespace quire::cli
