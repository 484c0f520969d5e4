#include "quire/ingest/isolation.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "log.h"
#include "quire/ingest/document_codec.h"
#include "worker_protocol.h"

extern char** environ;

namespace fs = std::filesystem;

namespace quire::ingest {

namespace {

constexpr const char* kWorkerName = "quire-ingest-worker";

struct Pipe {
    int fd[2] = {-1, -1};
    ~Pipe()
    {
        closeEnd(0);
        closeEnd(1);
    }
    void closeEnd(int i)
    {
        if (fd[i] >= 0)
            ::close(fd[i]);
        fd[i] = -1;
    }
};

// Reaps the child however the parent leaves: a killed group, then waitpid.
class Child {
public:
    explicit Child(pid_t pid) : m_pid(pid) {}
    ~Child()
    {
        if (m_pid > 0) {
            kill();
            wait();
        }
    }
    void kill() const
    {
        ::kill(-m_pid, SIGKILL);  // the group, in case a parser started helpers
        ::kill(m_pid, SIGKILL);
    }
    int wait()
    {
        int status = 0;
        while (::waitpid(m_pid, &status, 0) < 0 && errno == EINTR) {
        }
        m_pid = -1;
        return status;
    }

private:
    pid_t m_pid;
};

std::string describeSignal(int sig)
{
    const char* name = ::sigdescr_np(sig);
    return "signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : std::string());
}

std::string lastLines(const std::string& text, std::size_t maxChars = 600)
{
    std::string t = text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' '))
        t.pop_back();
    if (t.size() > maxChars)
        t = "..." + t.substr(t.size() - maxChars);
    for (char& c : t)
        if (c == '\n')
            c = ' ';
    return t;
}

double seconds(std::chrono::milliseconds ms)
{
    return static_cast<double>(ms.count()) / 1000.0;
}

std::string fmtSeconds(std::chrono::milliseconds ms)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, seconds(ms) < 10 ? "%.1f s" : "%.0f s", seconds(ms));
    return buf;
}

}  // namespace

fs::path findWorker()
{
    if (const char* env = std::getenv("QUIRE_INGEST_WORKER"); env && *env)
        return fs::exists(env) ? fs::path(env) : fs::path();
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec)
        return {};
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate : {dir / kWorkerName, dir / "../libexec/quire" / kWorkerName, dir / "../lib/quire" / kWorkerName})
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.lexically_normal();
    return {};
}

std::expected<Document, Error> extractIsolated(const fs::path& worker, const fs::path& path, SourceKind kind,
                                               const ExtractOptions& options, const IsolationLimits& limits,
                                               const std::atomic<bool>* cancel, const FractionProgress& progress)
{
    const std::string name = path.filename().string();
    if (worker.empty() || ::access(worker.c_str(), X_OK) != 0)
        return std::unexpected(Error{ErrorCode::Unsupported, std::string("the extraction helper ") + kWorkerName +
                                                                 " was not found next to the program; reinstall Quire"});

    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
    std::vector<std::string> args = worker::toArguments({kind, path, options});
    args.insert(args.begin(), worker.string());
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> envStrings;
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, "MALLOC_ARENA_MAX=", 17) != 0)
            envStrings.emplace_back(*e);
    envStrings.emplace_back("MALLOC_ARENA_MAX=2");  // many threads x 64 MiB arenas would eat the cap
    std::vector<char*> envp;
    for (auto& e : envStrings)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    const rlimit memory{static_cast<rlim_t>(limits.memoryBytes), static_cast<rlim_t>(limits.memoryBytes)};
    const rlimit noCore{0, 0};

    Pipe out, err;
    if (::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0)
        return std::unexpected(Error{ErrorCode::Io, std::string("cannot create a pipe: ") + std::strerror(errno)});
    const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

    const pid_t pid = ::fork();
    if (pid < 0) {
        if (devNull >= 0)
            ::close(devNull);
        return std::unexpected(Error{ErrorCode::Io, std::string("cannot start the extraction helper: ") + std::strerror(errno)});
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        if (devNull >= 0)
            ::dup2(devNull, 0);
        ::dup2(out.fd[1], 1);
        ::dup2(err.fd[1], 2);
        ::setrlimit(RLIMIT_AS, &memory);
        ::setrlimit(RLIMIT_CORE, &noCore);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before any kill
    if (devNull >= 0)
        ::close(devNull);
    Child child(pid);
    out.closeEnd(1);
    err.closeEnd(1);

    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto lastReport = start;
    std::string inbox, diagnostics;
    std::optional<Document> document;
    std::optional<Error> reported;
    std::optional<Error> stopped;
    bool outOpen = true, errOpen = true;
    char buffer[65536];

    while (outOpen || errOpen) {
        pollfd fds[2];
        nfds_t n = 0;
        if (outOpen)
            fds[n++] = {out.fd[0], POLLIN, 0};
        if (errOpen)
            fds[n++] = {err.fd[0], POLLIN, 0};
        const int ready = ::poll(fds, n, 100);
        if (ready < 0 && errno != EINTR)
            break;
        for (nfds_t i = 0; i < n && ready > 0; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
            if (got < 0 && errno == EINTR)
                continue;
            const bool isOut = fds[i].fd == out.fd[0];
            if (got <= 0) {
                (isOut ? outOpen : errOpen) = false;
                continue;
            }
            if (isOut) {
                inbox.append(buffer, static_cast<std::size_t>(got));
            } else {
                diagnostics.append(buffer, static_cast<std::size_t>(got));
                if (diagnostics.size() > 16384)
                    diagnostics.erase(0, diagnostics.size() - 8192);
            }
        }
        // Complete frames.
        while (inbox.size() >= 9) {
            std::uint64_t len = 0;
            std::memcpy(&len, inbox.data() + 1, 8);
            if (inbox.size() - 9 < len)
                break;
            const auto type = static_cast<worker::Frame>(inbox[0]);
            const std::string_view payload(inbox.data() + 9, len);
            lastReport = Clock::now();
            if (type == worker::Frame::Progress && len == sizeof(double)) {
                double f = 0;
                std::memcpy(&f, payload.data(), sizeof f);
                if (progress)
                    progress(f);
            } else if (type == worker::Frame::Document) {
                auto decoded = decodeDocument(payload);
                if (decoded)
                    document = std::move(*decoded);
                else
                    reported = decoded.error();
            } else if (type == worker::Frame::Error) {
                reported = worker::errorFromPayload(payload);
            }
            inbox.erase(0, 9 + len);
        }
        const auto now = Clock::now();
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            stopped = Error{ErrorCode::Cancelled, "cancelled while extracting " + name};
        } else if (now - start > limits.timeLimit) {
            stopped = Error{ErrorCode::Timeout, name + " took longer than the limit of " + fmtSeconds(limits.timeLimit) + "; stopped"};
        } else if (now - lastReport > limits.stallLimit && !document && !reported) {
            stopped = Error{ErrorCode::Timeout, name + " made no progress for " + fmtSeconds(limits.stallLimit) +
                                                    " (the parser seems stuck); stopped"};
        }
        if (stopped) {
            child.kill();
            break;
        }
    }
    const int status = child.wait();
    if (stopped)
        return std::unexpected(*stopped);

    const std::string tail = lastLines(diagnostics);
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        std::string message = "the extractor crashed on " + name + " (" + describeSignal(sig) + ")";
        const bool outOfMemory = tail.find("bad_alloc") != std::string::npos || tail.find("out of memory") != std::string::npos ||
                                 tail.find("Cannot allocate memory") != std::string::npos;
        if (outOfMemory || sig == SIGKILL)
            message += outOfMemory ? "; it ran out of memory under the limit of " + std::to_string(limits.memoryBytes >> 20) + " MiB"
                                   : "; killed from outside, perhaps by the system's out-of-memory killer";
        if (!tail.empty())
            message += ": " + tail;
        return std::unexpected(Error{ErrorCode::Crashed, message});
    }
    if (reported)
        return std::unexpected(*reported);
    if (document && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return std::move(*document);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::string message = code == 127 ? std::string("the extraction helper could not be started (") + worker.string() + ")"
                                      : "the extractor exited without a result (status " + std::to_string(code) + ") on " + name;
    if (!tail.empty())
        message += ": " + tail;
    return std::unexpected(Error{ErrorCode::Crashed, message});
}

}  // namespace quire::ingest
