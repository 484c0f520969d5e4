#include "commands.h"

#include <QTextStream>

#include <cstdio>

#include "quire/app/paths.h"
#include "quire/app/version.h"
#include "quire/storage/database.h"
#ifdef QUIRE_WITH_CUDA
#include "quire/inference/cuda/device.h"
#endif

namespace quire::cli {

namespace {

QTextStream& out()
{
    static QTextStream s(stdout);
    return s;
}

int fail(const std::string& message)
{
    std::fprintf(stderr, "quire-cli: %s\n", message.c_str());
    return Failure;
}

int cmdInfo(const QStringList& args)
{
    if (args.contains("--help")) {
        out() << "Usage: quire-cli info\nPrints the version, data folders and compute devices.\n";
        return Ok;
    }
    const auto paths = app::Paths::standard();
    out() << "Quire " QUIRE_VERSION "\n"
          << "data:    " << paths.dataDir << "\n"
          << "library: " << paths.libraryDb << "\n"
          << "models:  " << paths.modelDir << "\n"
          << "logs:    " << paths.logDir << "\n";
#ifdef QUIRE_WITH_CUDA
    const int n = inference::cuda::deviceCount();
    out() << "cuda:    " << n << " device(s)\n";
    for (int i = 0; i < n; ++i) {
        if (auto d = inference::cuda::deviceInfo(i))
            out() << "  [" << i << "] " << QString::fromStdString(d->name) << ", sm_" << d->computeMajor
                  << d->computeMinor << ", " << (d->totalBytes >> 20) << " MiB\n";
    }
#else
    out() << "cuda:    not built\n";
#endif
    out().flush();
    return Ok;
}

int cmdWorkspace(const QStringList& args)
{
    if (args.isEmpty() || args.contains("--help")) {
        out() << "Usage: quire-cli workspace create NAME | list\n";
        out().flush();
        return args.isEmpty() ? Usage : Ok;
    }
    auto db = storage::Database::open(app::Paths::standard().libraryDb.toStdString());
    if (!db)
        return fail(db.error().message);
    const QString verb = args.first();
    if (verb == "create" && args.size() == 2) {
        auto id = db->createWorkspace(args[1].toStdString());
        if (!id)
            return fail(id.error().message);
        out() << "created workspace " << *id << " " << args[1] << "\n";
        return Ok;
    }
    if (verb == "list") {
        auto rows = db->workspaces();
        if (!rows)
            return fail(rows.error().message);
        for (const auto& w : *rows)
            out() << w.id << "\t" << QString::fromStdString(w.name) << "\n";
        return Ok;
    }
    std::fprintf(stderr, "quire-cli workspace: expected 'create NAME' or 'list'\n");
    return Usage;
}

}  // namespace

int cmdExtract(const QStringList& args);  // cmd_extract.cpp

const std::vector<Command>& commands()
{
    static const std::vector<Command> all = {
        {"info", "version, data folders and compute devices", cmdInfo},
        {"workspace", "create and list workspaces", cmdWorkspace},
        {"tokenize", "token ids of text or of tokenizer test vectors", cmdTokenize},
        {"generate", "one chat turn with a model, the reply on stdout", cmdGenerate},
        {"extract", "extract files into anchored segments (--json for scripts)", cmdExtract},
        {"logits", "f32 logits of every position of a token sequence", cmdLogits},
    };
    return all;
}

}  // namespace quire::cli
