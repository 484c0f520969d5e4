// `quire-cli sample`: sets up the sample workspace on first start (and brings it up to date
// after): the sample files compiled into the binary (resources/samples: a contract PDF, a small
// code tree, a short meeting recording) are written to <data>/samples, a workspace "Sample"
// is created and they are ingested. `./quire.sh run` without a display follows with `budget` and
// `ask` on it.
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include "cli_support.h"
#include "ingest_output.h"
#include "quire/app/paths.h"
#include "quire/app/workspace_service.h"

namespace quire::cli {

namespace {

// Writes every file under the resource folder to `dest`, leaving files with the same bytes
// untouched (so ingest sees them unchanged). Returns how many were written, or -1.
int extractSamples(const QString& dest, std::string* error)
{
    int written = 0;
    QDirIterator it(":/quire/samples", QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString src = it.next();
        const QString rel = src.mid(QStringLiteral(":/quire/samples/").size());
        const QString out = dest + "/" + rel;
        QFile in(src);
        if (!in.open(QIODevice::ReadOnly)) {
            *error = "cannot read the sample " + rel.toStdString();
            return -1;
        }
        const QByteArray bytes = in.readAll();
        QFile existing(out);
        if (existing.open(QIODevice::ReadOnly) && existing.readAll() == bytes)
            continue;
        if (!QDir().mkpath(QFileInfo(out).absolutePath())) {
            *error = "cannot create " + QFileInfo(out).absolutePath().toStdString();
            return -1;
        }
        QSaveFile f(out);
        if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit()) {
            *error = "cannot write " + out.toStdString() + ": " + f.errorString().toStdString();
            return -1;
        }
        ++written;
    }
    if (written == 0 && !QDir(dest).exists()) {
        *error = "this build carries no sample files";
        return -1;
    }
    return written;
}

} // namespace

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
    const QString name = a.value("--name").value_or("Sample");
    auto config = serviceConfig(cmd, a);
    if (!config)
        return Failure;
    const QString dest = config->dataDir + "/samples";
    std::string error;
    const int written = extractSamples(dest, &error);
    if (written < 0)
        return fail(cmd, error);
    if (written > 0)
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
