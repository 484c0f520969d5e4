// The headless command line: `quire-cli <command> [options]`. Each command is one function
// registered in commands.cpp; it returns the process exit code (0 success, 1 failure, 2 usage).
#pragma once

#include <QStringList>
#include <functional>
#include <vector>

namespace quire::cli {

enum ExitCode : int { Ok = 0, Failure = 1, Usage = 2, Cancelled = 130 };

struct Command {
    const char* name;
    const char* summary;
    std::function<int(const QStringList& args)> run; // args after the command name
};

const std::vector<Command>& commands();

int cmdTokenize(const QStringList& args);  // cmd_tokenize.cpp
int cmdWorkspace(const QStringList& args); // cmd_workspace.cpp
int cmdIngest(const QStringList& args);    // cmd_ingest.cpp
int cmdBudget(const QStringList& args);    // cmd_budget.cpp
int cmdPrefill(const QStringList& args);   // cmd_prefill.cpp
int cmdAsk(const QStringList& args);       // cmd_ask.cpp
int cmdSearch(const QStringList& args);    // cmd_search.cpp
int cmdExport(const QStringList& args);    // cmd_export.cpp
int cmdSample(const QStringList& args);    // cmd_sample.cpp
int cmdGenerate(const QStringList& args);  // cmd_generate.cpp
int cmdLogits(const QStringList& args);    // cmd_logits.cpp

} // namespace quire::cli
