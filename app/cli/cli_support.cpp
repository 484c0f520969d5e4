#include "cli_support.h"

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>

#include <csignal>
#include <unistd.h>

#include "quire/app/paths.h"
#include "quire/storage/writer_thread.h"

namespace quire::cli {

namespace {

std::atomic<int> g_interrupts{0};

extern "C" void onSigint(int)
{
    g_interrupts.fetch_add(1);
}

std::atomic<bool> g_interruptFlag{false};

extern "C" void onSigintFlag(int)
{
    g_interruptFlag.store(true);
}

} // namespace

std::optional<QString> ParsedArgs::value(const QString& name) const
{
    auto it = values.find(name);
    if (it == values.end())
        return std::nullopt;
    return it->second;
}

ParsedArgs parseArgs(const QStringList& args, const QStringList& valueOptions, const QStringList& flagOptions)
{
    ParsedArgs p;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        if (a == "--") {
            p.positional += args.mid(i + 1);
            break;
        }
        if (a.startsWith("--") && a.size() > 2) {
            if (valueOptions.contains(a)) {
                if (i + 1 >= args.size()) {
                    p.error = a + " needs a value";
                    return p;
                }
                p.values[a] = args[++i];
            } else if (flagOptions.contains(a)) {
                p.flags.insert(a);
            } else {
                p.error = "unknown option " + a;
                return p;
            }
            continue;
        }
        p.positional << a;
    }
    return p;
}

std::optional<std::set<int>> parseNumbers(const QString& text)
{
    std::set<int> out;
    for (const QString& part : text.split(QRegularExpression("[,\\s]+"), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int n = part.toInt(&ok);
        if (!ok || n <= 0)
            return std::nullopt;
        out.insert(n);
    }
    if (out.empty())
        return std::nullopt;
    return out;
}

int fail(const char* command, const std::string& message, int code)
{
    std::fprintf(stderr, "quire-cli %s: %s\n", command, message.c_str());
    return code;
}

int usage(const char* command, const char* text)
{
    std::fprintf(stderr, "quire-cli %s: %s", command, text);
    return Usage;
}

const QStringList kEngineOptions = {"--model", "--backend", "--threads", "--ctx", "--kv-dtype", "--gpu-memory"};

QString defaultModelPath()
{
    const QString env = qEnvironmentVariable("QUIRE_DEFAULT_MODEL");
    if (!env.isEmpty())
        return env;
    return app::Paths::standard().modelDir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

app::EngineOptions engineOptions(const ParsedArgs& a)
{
    app::EngineOptions o;
    o.modelPath = a.value("--model").value_or(defaultModelPath()).toStdString();
    o.backend = a.value("--backend").value_or("cpu").toStdString();
    o.threads = a.value("--threads").value_or("0").toInt();
    // A default window of 8192 tokens keeps the CPU KV cache modest; --ctx raises it up to the
    // model's own length.
    o.maxContext = a.value("--ctx").value_or("8192").toInt();
    o.kvDtype = a.value("--kv-dtype").value_or("auto").toStdString();
    // MiB, like the desktop app's setting.
    o.gpuMemoryBytes = a.value("--gpu-memory").value_or("0").toULongLong() << 20;
    return o;
}

std::optional<app::ServiceConfig> serviceConfig(const char* command, const ParsedArgs& a)
{
    const auto paths = app::Paths::standard();
    QString error;
    if (!paths.ensureExists(&error)) {
        fail(command, error.toStdString());
        return std::nullopt;
    }
    auto writer = storage::WriterThread::start(paths.libraryDb.toStdString());
    if (!writer) {
        fail(command,
             "cannot open the library " + paths.libraryDb.toStdString() + ": " + writer.error().message);
        return std::nullopt;
    }
    app::ServiceConfig c;
    c.dataDir = paths.dataDir;
    c.libraryPath = paths.libraryDb;
    c.writer = std::shared_ptr<storage::WriterThread>(std::move(*writer));
    c.engine = engineOptions(a);
    return c;
}

Wait::Wait(std::function<void()> onInterrupt) : m_onInterrupt(std::move(onInterrupt))
{
    g_interrupts.store(0);
    std::signal(SIGINT, onSigint);
    m_poll.setInterval(100);
    QObject::connect(&m_poll, &QTimer::timeout, [this] {
        if (g_interrupts.exchange(0) > 0 && m_onInterrupt) {
            std::fputs("\n(cancelling...)\n", stderr);
            m_onInterrupt();
        }
    });
    m_poll.start();
}

InterruptFlag::InterruptFlag()
{
    g_interruptFlag.store(false);
    std::signal(SIGINT, onSigintFlag);
}

InterruptFlag::~InterruptFlag()
{
    std::signal(SIGINT, SIG_DFL);
}

const std::atomic<bool>* InterruptFlag::flag() const
{
    return &g_interruptFlag;
}

ProgressLine::ProgressLine(std::string what)
    : m_what(std::move(what)), m_tty(isatty(STDERR_FILENO) != 0), m_start(std::chrono::steady_clock::now())
{
}

void ProgressLine::update(std::int64_t done, std::int64_t total)
{
    if (!m_tty || total <= 0)
        return;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    const double rate = secs > 0 ? double(done) / secs : 0;
    std::fprintf(stderr, "\r\033[K%s: %lld/%lld tokens (%.0f%%)", m_what.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), 100.0 * double(done) / double(total));
    if (rate > 0 && done < total)
        std::fprintf(stderr, ", ETA %s", app::formatDuration(double(total - done) / rate).c_str());
    if (done >= total)
        std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
}

void ProgressLine::clear()
{
    if (m_tty)
        std::fputs("\r\033[K", stderr);
}

Wait::~Wait()
{
    std::signal(SIGINT, SIG_DFL);
}

int Wait::run()
{
    if (!m_finished)
        m_loop.exec();
    return m_code;
}

void Wait::finish(int code)
{
    m_code = code;
    m_finished = true;
    m_loop.quit();
}

std::string withThousands(std::int64_t n)
{
    const std::string digits = std::to_string(n < 0 ? -n : n);
    std::string out;
    if (n < 0)
        out.push_back('-');
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out.push_back(',');
        out.push_back(digits[i]);
    }
    return out;
}

void print(const std::string& s)
{
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

void printLine(const std::string& s)
{
    print(s + "\n");
}

} // namespace quire::cli
