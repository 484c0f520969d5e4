// `quire-cli snapshot list|save|restore|branch|delete WORKSPACE ...`: the workspace's KV
// snapshots in the library's block store (app/kv_snapshots.h). `prefill` and `ask` save blocks
// as they go and move the snapshot "latest"; `save` names the current one.
#include <chrono>

#include "cli_support.h"
#include "quire/app/kv_snapshots.h"
#include "quire/app/workspace_content.h"

namespace quire::cli {

namespace {

constexpr const char* kCmd = "snapshot";
constexpr const char* kUsage =
    "Usage: quire-cli snapshot list WORKSPACE\n"
    "       quire-cli snapshot save WORKSPACE NAME        name the workspace's latest prefill\n"
    "       quire-cli snapshot restore WORKSPACE NAME     load it into a session (checks the model)\n"
    "       quire-cli snapshot branch WORKSPACE FROM NEW  a second name for the same blocks\n"
    "       quire-cli snapshot delete WORKSPACE NAME      delete it, then blocks no snapshot "
    "uses\n" QUIRE_CLI_ENGINE_HELP;

std::string mib(std::int64_t bytes)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1 << 20));
    return buf;
}

void printRow(const storage::SnapshotRow& s, const app::KvSnapshots& k)
{
    char buf[512];
    std::snprintf(buf, sizeof buf, "%-16s %10s tokens  %4lld blocks  %10s  %s%s", s.name.c_str(),
                  withThousands(s.tokenCount).c_str(), static_cast<long long>(s.blockCount),
                  mib(s.bytes).c_str(),
                  s.modelFingerprint == k.fingerprintKey() ? "this model" : "another model",
                  s.complete ? "" : ", incomplete");
    printLine(buf);
}

} // namespace

int cmdSnapshot(const QStringList& args)
{
    if (args.contains("--help") || args.isEmpty()) {
        std::fputs(kUsage, stdout);
        return args.isEmpty() ? Usage : Ok;
    }
    const ParsedArgs a = parseArgs(args, kEngineOptions, {});
    const QStringList& p = a.positional;
    const QString verb = p.value(0);
    const int want = verb == "list" ? 2 : verb == "branch" ? 4 : 3;
    if (!a.error.isEmpty() || p.size() != want ||
        !QStringList{"list", "save", "restore", "branch", "delete"}.contains(verb))
        return usage(kCmd, (a.error.toStdString() + "\n" + kUsage).c_str());
    auto config = serviceConfig(kCmd, a);
    if (!config)
        return Failure;
    storage::OpenOptions ro;
    ro.mode = storage::OpenMode::ReadOnly;
    auto db = storage::Database::open(config->libraryPath.toStdString(), ro);
    if (!db)
        return fail(kCmd, db.error().message);
    auto ws = app::findWorkspace(*db, p[1].toStdString());
    if (!ws)
        return fail(kCmd, ws.error());

    // The model decides the fingerprint (which snapshots fit) and receives a restore.
    const app::EngineOptions eo = config->engine;
    auto model = inference::Model::load(eo.modelPath);
    if (!model)
        return fail(kCmd, model.error().message);
    inference::SessionOptions so;
    so.backend = eo.backend;
    so.threads = eo.threads;
    so.maxContext = eo.maxContext > 0 ? std::min(eo.maxContext, (*model)->config().contextLength) : 0;
    so.prefillBlock = eo.prefillBlock;
    auto session = inference::Session::create(*model, so);
    if (!session)
        return fail(kCmd, session.error().message);
    app::SnapshotOptions opt;
    opt.denseBlockTokens = eo.prefillBlock;
    auto k = app::KvSnapshots::open(config->libraryPath.toStdString(), config->writer, **session, opt);
    if (!k)
        return fail(kCmd, k.error().message);
    auto& snaps = **k;

    if (verb == "list") {
        auto rows = snaps.list(ws->id);
        if (!rows)
            return fail(kCmd, rows.error().message);
        if (rows->empty())
            printLine("no snapshots in \"" + ws->name + "\" (quire-cli prefill saves one named latest)");
        for (const auto& r : *rows)
            printRow(r, snaps);
        return Ok;
    }
    if (verb == "save" || verb == "branch") {
        const std::string from = verb == "save" ? app::kLatestSnapshot : p[2].toStdString();
        const std::string to = p[want - 1].toStdString();
        auto row = snaps.copy(ws->id, from, to);
        if (!row)
            return fail(kCmd, row.error().message);
        printRow(*row, snaps);
        return Ok;
    }
    if (verb == "delete") {
        auto gc = snaps.remove(ws->id, p[2].toStdString());
        if (!gc)
            return fail(kCmd, gc.error().message);
        printLine("deleted \"" + p[2].toStdString() + "\"; freed " + std::to_string(gc->blocks) +
                  " unused blocks (" + mib(gc->bytes) + ")");
        return Ok;
    }
    const InterruptFlag interrupt;
    ProgressLine line("restore");
    auto r = snaps.restoreNamed(
        ws->id, p[2].toStdString(), **session,
        [&](std::int64_t done, std::int64_t total) { line.update(done, total); }, interrupt.flag());
    if (!r || r->cancelled)
        line.clear();
    if (!r)
        return fail(kCmd, r.error().message);
    for (const auto& n : r->notes)
        printLine("note: " + n);
    char buf[256];
    std::snprintf(buf, sizeof buf, "restored %s tokens (%d blocks, %s) in %.2f s (%.0f MB/s)",
                  withThousands(std::int64_t(r->tokens)).c_str(), r->blocks, mib(r->bytes).c_str(),
                  r->seconds, r->seconds > 0 ? double(r->bytes) / 1e6 / r->seconds : 0.0);
    printLine(buf);
    return r->cancelled ? Cancelled : r->notes.empty() ? Ok : Failure;
}

} // namespace quire::cli
