#include "commands.h"

namespace quire::cli {

int cmdExtract(const QStringList& args); // cmd_extract.cpp
int cmdInfo(const QStringList& args);     // cmd_info.cpp
int cmdSnapshot(const QStringList& args); // cmd_snapshot.cpp

const std::vector<Command>& commands()
{
    static const std::vector<Command> all = {
        {"info", "version, data folders, compute devices; --model: the GPU memory plan", cmdInfo},
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
