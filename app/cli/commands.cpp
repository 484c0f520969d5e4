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

} // namespace

int cmdExtract(const QStringList& args);  // cmd_extract.cpp
int cmdSnapshot(const QStringList& args); // cmd_snapshot.cpp

const std::vector<Command>& commands()
{
    static const std::vector<Command> all = {
        {"info", "version, data folders and compute devices", cmdInfo},
        {"workspace", "create, list, show, add to, remove and set up workspaces", cmdWorkspace},
        {"ingest", "rescan a workspace's files and ingest what changed", cmdIngest},
        {"budget", "token budget of a workspace's context: counts, window, KV memory, time", cmdBudget},
        {"prefill", "prefill a workspace's context and measure the speed", cmdPrefill},
        {"snapshot", "KV snapshots of a workspace: list, save, restore, branch, delete", cmdSnapshot},
        {"ask", "ask a question; the answer streams, then its checked citations", cmdAsk},
        {"search", "full-text search over a workspace", cmdSearch},
        {"export", "a session's questions, answers and citations as Markdown or JSON", cmdExport},
        {"sample", "set up the sample workspace (contract, code, meeting) and ingest it", cmdSample},
        {"tokenize", "token ids of text or of tokenizer test vectors", cmdTokenize},
        {"generate", "one chat turn with a model, the reply on stdout", cmdGenerate},
        {"extract", "extract files into anchored segments (--json for scripts)", cmdExtract},
        {"logits", "f32 logits of every position of a token sequence", cmdLogits},
    };
    return all;
}

} // namespace quire::cli
