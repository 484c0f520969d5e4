// `quire-cli export NAME`: a session of questions with answers, citations (and their
// verification) and timings, as Markdown or JSON.
#include <QFile>
#include <QSaveFile>

#include "cli_support.h"
#include "quire/app/answer_json.h"
#include "quire/app/paths.h"
#include "quire/app/workspace_content.h"
#include "quire/storage/conversations.h"

namespace quire::cli {

int cmdExport(const QStringList& args)
{
    constexpr const char* cmd = "export";
    constexpr const char* kUsage =
        "Usage: quire-cli export WORKSPACE [--session ID] [--format md|json] [--output FILE]\n"
        "Writes a session (default: the latest) with its questions, answers, citations and\n"
        "timings to FILE or stdout. `--session list` lists the sessions.\n";
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    const ParsedArgs a = parseArgs(args, {"--session", "--format", "--output"}, {});
    if (!a.error.isEmpty() || a.positional.size() != 1)
        return usage(cmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    const QString format = a.value("--format").value_or("md");
    if (format != "md" && format != "json")
        return usage(cmd, "--format is md or json\n");
    const auto paths = app::Paths::standard();
    if (!QFile::exists(paths.libraryDb))
        return fail(cmd, "no library yet at " + paths.libraryDb.toStdString());
    storage::OpenOptions o;
    o.mode = storage::OpenMode::ReadOnly;
    auto db = storage::Database::open(paths.libraryDb.toStdString(), o);
    if (!db)
        return fail(cmd, db.error().message);
    auto ws = app::findWorkspace(*db, a.positional.first().toStdString());
    if (!ws)
        return fail(cmd, ws.error());
    storage::Conversations conv(*db);
    auto sessions = conv.sessions(ws->id);
    if (!sessions)
        return fail(cmd, sessions.error().message);
    if (a.value("--session") == QString("list")) {
        for (const auto& s : *sessions)
            printLine(std::to_string(s.id) + "\t" + s.name + "\t" + std::to_string(s.turnCount) + " turn(s)");
        return Ok;
    }
    if (sessions->empty())
        return fail(cmd, "workspace \"" + ws->name + "\" has no session yet (ask a question first)");
    std::int64_t sessionId = 0;
    if (auto s = a.value("--session")) {
        bool ok = false;
        sessionId = s->toLongLong(&ok);
        if (!ok)
            return usage(cmd, "--session takes a session id (or 'list')\n");
    } else {
        for (const auto& s : *sessions)
            sessionId = std::max(sessionId, s.id);
    }
    app::SessionExport e;
    e.workspace = ws->name;
    bool found = false;
    for (const auto& s : *sessions) {
        if (s.id == sessionId) {
            e.session = s;
            found = true;
        }
    }
    if (!found)
        return fail(cmd, "workspace \"" + ws->name + "\" has no session " + std::to_string(sessionId));
    auto turns = conv.turns(sessionId);
    if (!turns)
        return fail(cmd, turns.error().message);
    e.turns = std::move(*turns);
    const std::string text = format == "md" ? app::exportMarkdown(e) : app::exportJson(e);
    if (auto out = a.value("--output")) {
        QSaveFile f(*out);
        if (!f.open(QIODevice::WriteOnly))
            return fail(cmd, "cannot write " + out->toStdString() + ": " + f.errorString().toStdString());
        f.write(text.data(), qint64(text.size()));
        if (!f.commit())
            return fail(cmd, "cannot write " + out->toStdString() + ": " + f.errorString().toStdString());
        printLine("wrote session " + std::to_string(sessionId) + " (" + std::to_string(e.turns.size()) +
                  " turn(s)) to " + out->toStdString());
    } else {
        print(text);
    }
    return Ok;
}

} // namespace quire::cli
