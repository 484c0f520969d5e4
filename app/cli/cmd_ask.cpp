// `quire-cli ask NAME "question"`: streams the answer, then lists its citations with their
// verification (and attributions where the model cited nothing usable); the turn is stored.
#include <QJsonDocument>
#include <QJsonObject>

#include "answer_output.h"
#include "cli_support.h"
#include "quire/app/answer_service.h"

namespace quire::cli {

int cmdAsk(const QStringList& args)
{
    constexpr const char* cmd = "ask";
    constexpr const char* kUsage =
        "Usage: quire-cli ask WORKSPACE \"QUESTION\" [--session ID | --new-session] [--max-tokens N] "
        "[--json]\n"
        "                     [engine options]\n"
        "Prefills the workspace context (restoring the longest prefix stored in the library's KV\n"
        "snapshots and saving new blocks), streams the answer, then\n"
        "lists each citation with its verification. The turn joins the workspace's latest session\n"
        "for this model unless --session or --new-session says otherwise.\n"
        "--json prints one JSON object (answer, citations, attributions, timings) "
        "instead.\n" QUIRE_CLI_ENGINE_HELP;
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    QStringList valueOptions = kEngineOptions;
    valueOptions << "--session"
                 << "--max-tokens";
    const ParsedArgs a = parseArgs(args, valueOptions, {"--new-session", "--json"});
    if (!a.error.isEmpty() || a.positional.size() != 2)
        return usage(cmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    app::AskRequest req;
    req.workspace = a.positional[0];
    req.question = a.positional[1];
    req.newSession = a.has("--new-session");
    bool ok = true;
    if (auto s = a.value("--session"))
        req.session = s->toLongLong(&ok);
    if (!ok || req.session < 0)
        return usage(cmd, "--session takes a session id\n");
    if (auto m = a.value("--max-tokens"))
        req.maxTokens = m->toInt(&ok);
    if (!ok || req.maxTokens <= 0)
        return usage(cmd, "--max-tokens takes a positive number\n");
    if (req.question.trimmed().isEmpty())
        return usage(cmd, "the question is empty\n");
    const bool json = a.has("--json");

    auto config = serviceConfig(cmd, a);
    if (!config)
        return Failure;
    app::AnswerService service(*config);
    quint64 id = 0;
    Wait wait([&] { service.cancel(id); });
    connectPrefillProgress(service, id);
    finishOnFailure(service, id, wait, cmd);
    QObject::connect(&service, &app::AnswerService::answerText, [&](quint64 rid, const QString& text) {
        if (rid == id && !json)
            print(text.toStdString());
    });
    QObject::connect(&service, &app::AnswerService::answered, [&](quint64 rid, const app::AnswerRecord& r) {
        if (rid != id)
            return;
        if (json) {
            QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(r.citationsJson)).object();
            o["question"] = QString::fromStdString(r.outcome.question);
            o["answer"] = QString::fromStdString(r.outcome.text);
            o["session"] = qint64(r.session);
            o["turn"] = qint64(r.turn);
            const auto& t = r.outcome.timings;
            o["timings"] = QJsonObject{{"contextTokens", qint64(t.contextTokens)},
                                       {"reusedTokens", qint64(t.reusedTokens)},
                                       {"questionTokens", qint64(t.questionTokens)},
                                       {"answerTokens", qint64(t.answerTokens)},
                                       {"prefillMs", qint64(t.prefillMs)},
                                       {"firstTokenMs", qint64(t.firstTokenMs)},
                                       {"totalMs", qint64(t.totalMs)}};
            print(QJsonDocument(o).toJson(QJsonDocument::Indented).toStdString());
        } else {
            printLine("\n");
            printCheckedAnswer(r);
            for (const auto& n : r.outcome.notes)
                printLine("note: " + n);
        }
        wait.finish(Ok);
    });
    id = service.ask(req);
    return wait.run();
}

} // namespace quire::cli
