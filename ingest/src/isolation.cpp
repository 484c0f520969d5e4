#include "quire/ingest/isolation.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "log.h"
#include "quire/ingest/document_codec.h"
#include "worker_protocol.h"

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace quire::ingest {

namespace {

constexpr const char* kWorkerName = "quire-ingest-worker";

void closeFd(int& fd)
{
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

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

std::string fmtSeconds(std::chrono::milliseconds ms)
{
    const double s = static_cast<double>(ms.count()) / 1000.0;
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f s" : "%.0f s", s);
    return buf;
}

} // namespace

// One running helper: its pid, the request socket, its stdout and stderr.
struct ExtractionWorker::Process {
    pid_t pid = -1;
    int requests = -1; // our end of a socketpair: send() with MSG_NOSIGNAL, no SIGPIPE
    int results = -1;
    int diagnostics = -1;
    int served = 0;
    std::string inbox;
    std::string stderrTail;

    ~Process()
    {
        closeFd(requests); // end of input: an idle helper exits by itself
        if (pid > 0) {
            // Give an idle helper a moment to leave on its own, then make sure.
            for (int i = 0; i < 20 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i)
                ::usleep(1000);
            kill();
            reap();
        }
        closeFd(results);
        closeFd(diagnostics);
    }
    void kill() const
    {
        if (pid > 0) {
            ::kill(-pid, SIGKILL); // the group, in case a parser started helpers
            ::kill(pid, SIGKILL);
        }
    }
    // The exit status once the helper has ended by itself within `ms`; nullopt while it runs.
    std::optional<int> waitFor(int ms)
    {
        for (int i = 0; pid > 0 && i <= ms; ++i) {
            int status = 0;
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid) {
                pid = -1;
                return status;
            }
            if (r < 0 && errno != EINTR)
                break;
            ::usleep(1000);
        }
        return std::nullopt;
    }
    int reap()
    {
        int status = 0;
        if (pid > 0) {
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
        pid = -1;
        return status;
    }
};

fs::path findWorker()
{
    if (const char* env = std::getenv("QUIRE_INGEST_WORKER"); env && *env)
        return fs::exists(env) ? fs::path(env) : fs::path();
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec)
        return {};
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate :
         {dir / kWorkerName, dir / "../libexec/quire" / kWorkerName, dir / "../lib/quire" / kWorkerName})
        if (::access(candidate.c_str(), X_OK) == 0)
            return candidate.lexically_normal();
    return {};
}

ExtractionWorker::ExtractionWorker(fs::path worker, IsolationLimits limits)
    : m_worker(std::move(worker)), m_limits(limits)
{
}

ExtractionWorker::~ExtractionWorker() = default;

namespace {

// Starts the helper in serve mode; everything the child needs is prepared before fork, and
// after it the child makes only async-signal-safe calls.
std::expected<void, Error> spawn(const fs::path& worker, const IsolationLimits& limits, pid_t& pid,
                                 int& requests, int& results, int& diagnostics)
{
    std::string program = worker.string();
    std::string serve = "--serve";
    char* argv[] = {program.data(), serve.data(), nullptr};
    std::vector<std::string> envStrings;
    for (char** e = environ; e && *e; ++e)
        if (std::strncmp(*e, "MALLOC_ARENA_MAX=", 17) != 0)
            envStrings.emplace_back(*e);
    envStrings.emplace_back("MALLOC_ARENA_MAX=2"); // many threads x 64 MiB arenas would eat the cap
    // Poppler's text layout allocates and frees millions of small objects; a deeper per-thread
    // cache of freed chunks saves about a tenth of its instructions. Unless the user tunes glibc.
    if (!std::getenv("GLIBC_TUNABLES"))
        envStrings.emplace_back("GLIBC_TUNABLES=glibc.malloc.tcache_count=1000");
    std::vector<char*> envp;
    for (auto& e : envStrings)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    const rlimit memory{static_cast<rlim_t>(limits.memoryBytes), static_cast<rlim_t>(limits.memoryBytes)};
    const rlimit noCore{0, 0};

    int req[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    auto closeAll = [&] {
        for (int* fds : {req, out, err})
            for (int i = 0; i < 2; ++i)
                closeFd(fds[i]);
    };
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, req) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
        const int e = errno;
        closeAll();
        return std::unexpected(
            Error{ErrorCode::Io,
                  std::string("cannot create pipes for the extraction helper: ") + std::strerror(e)});
    }
    pid = ::fork();
    if (pid < 0) {
        const int e = errno;
        closeAll();
        return std::unexpected(
            Error{ErrorCode::Io, std::string("cannot start the extraction helper: ") + std::strerror(e)});
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(req[1], 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::setrlimit(RLIMIT_AS, &memory);
        ::setrlimit(RLIMIT_CORE, &noCore);
        ::execve(argv[0], argv, envp.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid); // also here: whichever runs first, the group exists before any kill
    closeFd(req[1]);
    closeFd(out[1]);
    closeFd(err[1]);
    requests = req[0];
    results = out[0];
    diagnostics = err[0];
    return {};
}

bool sendAll(int fd, const std::string& bytes)
{
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

std::expected<Document, Error> ExtractionWorker::extract(const fs::path& path, SourceKind kind,
                                                         const ExtractOptions& options,
                                                         const std::atomic<bool>* cancel,
                                                         const FractionProgress& progress)
{
    const std::string name = path.filename().string();
    if (m_worker.empty() || ::access(m_worker.c_str(), X_OK) != 0)
        return std::unexpected(
            Error{ErrorCode::Unsupported, std::string("the extraction helper ") + kWorkerName +
                                              " was not found next to the program; reinstall Quire"});
    if (m_process && m_process->served >= m_limits.maxFilesPerProcess)
        m_process.reset();
    if (!m_process) {
        auto p = std::make_unique<Process>();
        if (auto started = spawn(m_worker, m_limits, p->pid, p->requests, p->results, p->diagnostics);
            !started)
            return std::unexpected(started.error());
        m_process = std::move(p);
    }
    Process& proc = *m_process;
    proc.stderrTail.clear();
    ++proc.served;

    const auto start = Clock::now();
    auto lastReport = start;
    std::optional<Document> document;
    std::optional<Error> reported;
    std::optional<Error> stopped;
    bool outOpen = true, errOpen = proc.diagnostics >= 0;
    char buffer[65536];

    if (!sendAll(proc.requests,
                 worker::frame(worker::Frame::Request,
                               worker::requestPayload(worker::toArguments({kind, path, options})))))
        outOpen = false; // the helper is gone; the exit status below says why

    while (outOpen && !document && !reported) {
        pollfd fds[2];
        nfds_t n = 0;
        fds[n++] = {proc.results, POLLIN, 0};
        if (errOpen)
            fds[n++] = {proc.diagnostics, POLLIN, 0};
        const int ready = ::poll(fds, n, 100);
        if (ready < 0 && errno != EINTR)
            break;
        for (nfds_t i = 0; i < n && ready > 0; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
            if (got < 0 && errno == EINTR)
                continue;
            const bool isOut = fds[i].fd == proc.results;
            if (got <= 0) {
                (isOut ? outOpen : errOpen) = false;
                continue;
            }
            if (isOut) {
                proc.inbox.append(buffer, static_cast<std::size_t>(got));
            } else {
                proc.stderrTail.append(buffer, static_cast<std::size_t>(got));
                if (proc.stderrTail.size() > 16384)
                    proc.stderrTail.erase(0, proc.stderrTail.size() - 8192);
            }
        }
        while (proc.inbox.size() >= 9 && !document && !reported) {
            std::uint64_t len = 0;
            std::memcpy(&len, proc.inbox.data() + 1, 8);
            if (proc.inbox.size() - 9 < len)
                break;
            const auto type = static_cast<worker::Frame>(proc.inbox[0]);
            const std::string_view payload(proc.inbox.data() + 9, len);
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
            proc.inbox.erase(0, 9 + len);
        }
        if (document || reported)
            break;
        const auto now = Clock::now();
        if (cancel && cancel->load(std::memory_order_relaxed))
            stopped = Error{ErrorCode::Cancelled, "cancelled while extracting " + name};
        else if (now - start > m_limits.timeLimit)
            stopped = Error{ErrorCode::Timeout, name + " took longer than the limit of " +
                                                    fmtSeconds(m_limits.timeLimit) + "; stopped"};
        else if (now - lastReport > m_limits.stallLimit)
            stopped =
                Error{ErrorCode::Timeout, name + " made no progress for " + fmtSeconds(m_limits.stallLimit) +
                                              " (the parser seems stuck); stopped"};
        if (stopped)
            break;
    }

    if (document || reported) {
        if (reported && reported->code == ErrorCode::TooComplex)
            m_process.reset(); // it ran into its memory cap: start clean for the next file
        if (document)
            return std::move(*document);
        return std::unexpected(*reported);
    }

    // The helper died, hung or was cancelled: it goes, the next file gets a fresh one.
    if (stopped)
        proc.kill();
    // Collect what it still said on stderr (a crash message) before reaping it.
    if (!stopped && errOpen) {
        pollfd fd{proc.diagnostics, POLLIN, 0};
        while (::poll(&fd, 1, 200) > 0) {
            const ssize_t got = ::read(proc.diagnostics, buffer, sizeof buffer);
            if (got <= 0)
                break;
            proc.stderrTail.append(buffer, static_cast<std::size_t>(got));
        }
    }
    std::optional<int> exited = stopped ? std::nullopt : proc.waitFor(1000);
    if (!exited) {
        proc.kill();
        exited = proc.reap();
    }
    const int status = *exited;
    const std::string tail = lastLines(proc.stderrTail);
    m_process.reset();
    if (stopped)
        return std::unexpected(*stopped);

    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        std::string message = sig == SIGKILL
                                  ? "the extractor was killed on " + name +
                                        " (from outside: the system's out-of-memory killer?)"
                                  : "the extractor crashed on " + name + " (" + describeSignal(sig) + ")";
        if (tail.find("bad_alloc") != std::string::npos || tail.find("out of memory") != std::string::npos ||
            tail.find("Cannot allocate memory") != std::string::npos)
            message += "; it ran out of memory under the limit of " +
                       std::to_string(m_limits.memoryBytes >> 20) + " MiB";
        if (!tail.empty())
            message += ": " + tail;
        return std::unexpected(Error{ErrorCode::Crashed, message});
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::string message =
        code == 127
            ? std::string("the extraction helper could not be started (") + m_worker.string() + ")"
            : "the extractor exited without a result (status " + std::to_string(code) + ") on " + name;
    if (!tail.empty())
        message += ": " + tail;
    return std::unexpected(Error{ErrorCode::Crashed, message});
}

std::expected<Document, Error> extractIsolated(const fs::path& worker, const fs::path& path, SourceKind kind,
                                               const ExtractOptions& options, const IsolationLimits& limits,
                                               const std::atomic<bool>* cancel,
                                               const FractionProgress& progress)
{
    ExtractionWorker helper(worker, limits);
    return helper.extract(path, kind, options, cancel, progress);
}

} // namespace quire::ingest
