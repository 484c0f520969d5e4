// Shared plumbing of the workspace, ingest, budget, prefill, ask, search, export and sample
// commands: option parsing, the service configuration (data folder, the library's writer thread,
// engine options), waiting on a service request with Ctrl-C wired to cancel, and printing.
#pragma once

#include <atomic>
#include <chrono>

#include <QCoreApplication>
#include <QEventLoop>
#include <QStringList>
#include <QTimer>

#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "commands.h"
#include "quire/app/service_types.h"

namespace quire::cli {

// Options of the form --name VALUE or --flag, and positional arguments, checked against what a
// command accepts.
struct ParsedArgs {
    QStringList positional;
    std::map<QString, QString> values;
    std::set<QString> flags;
    QString error; // non-empty: a usage error

    bool has(const QString& flag) const { return flags.count(flag) > 0; }
    std::optional<QString> value(const QString& name) const;
};
ParsedArgs parseArgs(const QStringList& args, const QStringList& valueOptions,
                     const QStringList& flagOptions);

// "3,5,7" or "3 5" -> {3, 5, 7}; nullopt on anything else.
std::optional<std::set<int>> parseNumbers(const QString& text);

int fail(const char* command, const std::string& message, int code = Failure);
int usage(const char* command, const char* text);

// The engine options' help: the last lines of every engine command's usage (a literal, so that it joins
// the command's own usage literal).
#define QUIRE_CLI_ENGINE_HELP                                                                                \
    "Engine options: --model PATH, --backend NAME, --threads N, --ctx N (default 8192),\n"                   \
    "  --kv-dtype auto|f32|f16|bf16|fp8, --gpu-memory MIB (device backends; default: all free)\n"

// Engine options from --model, --backend, --threads, --ctx (and QUIRE_DEFAULT_MODEL).
extern const QStringList kEngineOptions;
app::EngineOptions engineOptions(const ParsedArgs& a);
QString defaultModelPath();

// The data folder, the library (migrated) and its writer thread; nullopt after printing why.
std::optional<app::ServiceConfig> serviceConfig(const char* command, const ParsedArgs& a);

// Runs an event loop until finish() is called; Ctrl-C calls onInterrupt (once per press).
class Wait {
public:
    explicit Wait(std::function<void()> onInterrupt = {});
    ~Wait();
    int run(); // returns the code given to finish()
    void finish(int code);

private:
    QEventLoop m_loop;
    QTimer m_poll;
    std::function<void()> m_onInterrupt;
    int m_code = Ok;
    bool m_finished = false;
};

// While alive, Ctrl-C sets flag() instead of ending the process (for work on this thread).
class InterruptFlag {
public:
    InterruptFlag();
    ~InterruptFlag();
    InterruptFlag(const InterruptFlag&) = delete;
    InterruptFlag& operator=(const InterruptFlag&) = delete;
    const std::atomic<bool>* flag() const;
};

// "<what>: done/total tokens (p%), ETA …" on one rewritten stderr line when it is a terminal;
// cleared when done reaches total.
class ProgressLine {
public:
    explicit ProgressLine(std::string what);
    void update(std::int64_t done, std::int64_t total);
    void clear(); // ends the line early (cancelled, failed)

private:
    std::string m_what;
    bool m_tty;
    std::chrono::steady_clock::time_point m_start;
};

std::string withThousands(std::int64_t n);
void print(const std::string& s);
void printLine(const std::string& s);

} // namespace quire::cli
