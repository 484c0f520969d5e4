// `quire-cli prefill NAME`: assembles the workspace context and prefills it, with progress, ETA
// and cancel (Ctrl-C); reports the speed, which later budgets use.
#include "answer_output.h"
#include "cli_support.h"
#include "quire/app/answer_service.h"

namespace quire::cli {

int cmdPrefill(const QStringList& args)
{
    constexpr const char* cmd = "prefill";
    constexpr const char* kUsage =
        "Usage: quire-cli prefill WORKSPACE [engine options]\n"
        "Prefills the workspace's context and reports the speed. The KV cache is saved block by block\n"
        "in the library (snapshot \"latest\"): a later prefill or ask restores the longest stored\n"
        "prefix, and a killed prefill resumes from its last block. See `quire-cli "
        "snapshot`.\n" QUIRE_CLI_ENGINE_HELP;
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    const ParsedArgs a = parseArgs(args, kEngineOptions, {});
    if (!a.error.isEmpty() || a.positional.size() != 1)
        return usage(cmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    auto config = serviceConfig(cmd, a);
    if (!config)
        return Failure;
    app::AnswerService service(*config);
    quint64 id = 0;
    Wait wait([&] { service.cancel(id); });
    connectPrefillProgress(service, id);
    finishOnFailure(service, id, wait, cmd);
    QObject::connect(&service, &app::AnswerService::prefilled, [&](quint64 rid, const app::PrefillResult& r) {
        if (rid != id)
            return;
        const auto& s = r.stats;
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "prefilled %s tokens of \"%s\": %s computed in %.1f s (%.1f tokens/s), %s reused",
                      withThousands(s.contextTokens).c_str(), r.workspace.name.c_str(),
                      withThousands(s.computedTokens).c_str(), s.seconds, s.tokensPerSecond,
                      withThousands(s.reusedTokens).c_str());
        printLine(buf);
        for (const auto& n : s.notes)
            printLine("note: " + n);
        wait.finish(Ok);
    });
    id = service.prefill(a.positional.first());
    return wait.run();
}

} // namespace quire::cli
