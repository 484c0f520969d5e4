#include "quire/ingest/source_scanner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <expected>
#include <fstream>
#include <set>
#include <variant>

#include "log.h"
#include "quire/ingest/file_kind.h"
#include "quire/ingest/ignore_rules.h"

namespace fs = std::filesystem;

namespace quire::ingest {

namespace {

std::string readSmallFile(const fs::path& path, std::size_t limit = 1 << 20)
{
    std::ifstream in(path, std::ios::binary);
    std::string text;
    if (!in)
        return text;
    text.resize(limit);
    in.read(text.data(), static_cast<std::streamsize>(limit));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return text;
}

// Reads up to kSniffBytes from the start of the open file.
std::expected<std::string, Error> readHead(int fd, const fs::path& path)
{
    std::string head(kSniffBytes, '\0');
    std::size_t got = 0;
    while (got < head.size()) {
        const ssize_t n = ::read(fd, head.data() + got, head.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::unexpected(
                Error{ErrorCode::Io, "cannot read " + path.string() + ": " + std::strerror(errno)});
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    head.resize(got);
    return head;
}

struct DirKey {
    dev_t dev;
    ino_t ino;
    auto operator<=>(const DirKey&) const = default;
};

class Walker {
public:
    Walker(const ScanOptions& options, const std::atomic<bool>* cancel, ScanResult& result)
        : m_options(options), m_cancel(cancel), m_result(result)
    {
    }

    void walkRoot(const fs::path& root)
    {
        IgnoreStack stack;
        if (!m_options.extraIgnorePatterns.empty()) {
            IgnoreRules extra;
            for (const auto& p : m_options.extraIgnorePatterns)
                extra.addRules(p);
            stack.push("", std::move(extra));
        }
        m_ancestors.clear();
        walkDirectory(root, "", stack);
    }

private:
    bool cancelled() const { return m_cancel && m_cancel->load(std::memory_order_relaxed); }

    void issue(const fs::path& path, SourceStatus status, ErrorCode code, std::string message)
    {
        m_result.issues.push_back({path, status, Error{code, std::move(message)}});
    }

    void walkDirectory(const fs::path& dir, const std::string& rel, IgnoreStack& stack)
    {
        if (cancelled()) {
            m_result.cancelled = true;
            return;
        }
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) {
            issue(dir, SourceStatus::Quarantined, ErrorCode::Io,
                  "cannot read folder " + dir.string() + ": " + std::strerror(errno));
            return;
        }
        const DirKey key{st.st_dev, st.st_ino};
        if (std::ranges::find(m_ancestors, key) != m_ancestors.end()) {
            issue(dir, SourceStatus::Skipped, ErrorCode::Format,
                  "symbolic link loop: " + dir.string() + " leads back to a folder above it");
            return;
        }
        if (!m_visited.insert(key).second)
            return; // reached twice through links; walked once already
        m_ancestors.push_back(key);

        const std::size_t depthBefore = stack.depth();
        if (m_options.honourIgnoreFiles) {
            IgnoreRules rules;
            for (const char* name : {".gitignore", ".ignore"}) {
                std::error_code ec;
                if (fs::is_regular_file(dir / name, ec))
                    rules.addRules(readSmallFile(dir / name));
            }
            if (!rules.empty())
                stack.push(rel, std::move(rules));
        }

        std::vector<fs::directory_entry> entries;
        std::error_code ec;
        for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
            entries.push_back(*it);
        if (ec)
            issue(dir, SourceStatus::Quarantined, ErrorCode::Io,
                  "cannot list " + dir.string() + ": " + ec.message());
        std::ranges::sort(entries, {}, [](const fs::directory_entry& e) { return e.path().filename(); });

        for (const auto& entry : entries) {
            if (cancelled()) {
                m_result.cancelled = true;
                break;
            }
            visitEntry(entry, rel, stack);
        }
        while (stack.depth() > depthBefore)
            stack.pop();
        m_ancestors.pop_back();
    }

    void visitEntry(const fs::directory_entry& entry, const std::string& rel, IgnoreStack& stack)
    {
        const std::string name = entry.path().filename().string();
        if (name == ".git" || name == ".hg" || name == ".svn" || name == ".bzr")
            return;
        if (m_options.skipHidden && name.starts_with('.'))
            return;
        const std::string childRel = rel.empty() ? name : rel + "/" + name;
        std::error_code ec;
        const bool isLink = entry.is_symlink(ec);
        if (isLink && !m_options.followSymlinks)
            return;
        // The type read with the directory listing serves plain entries; links need a stat.
        fs::file_status status = isLink ? entry.status(ec) : fs::file_status(entry.symlink_status(ec).type());
        if (ec || !fs::exists(status)) {
            if (isLink)
                issue(entry.path(), SourceStatus::Skipped, ErrorCode::Io,
                      "broken symbolic link " + entry.path().string());
            else
                issue(entry.path(), SourceStatus::Quarantined, ErrorCode::Io,
                      entry.path().string() + " disappeared during the scan");
            return;
        }
        const bool isDir = fs::is_directory(status);
        if (stack.ignored(childRel, isDir))
            return;
        if (isDir) {
            walkDirectory(entry.path(), childRel, stack);
            return;
        }
        if (!fs::is_regular_file(status))
            return; // sockets, fifos, devices
        addFile(entry.path());
    }

public:
    void addFile(const fs::path& path)
    {
        auto classified = classifyFile(path, m_options);
        if (auto* file = std::get_if<ScannedFile>(&classified))
            m_result.files.push_back(std::move(*file));
        else
            m_result.issues.push_back(std::move(std::get<ScanIssue>(classified)));
    }

private:
    const ScanOptions& m_options;
    const std::atomic<bool>* m_cancel;
    ScanResult& m_result;
    std::vector<DirKey> m_ancestors;
    std::set<DirKey> m_visited;
};

} // namespace

std::variant<ScannedFile, ScanIssue> classifyFile(const fs::path& path, const ScanOptions& options)
{
    // One open serves both the metadata (fstat) and the sniff of the first bytes.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0) {
        const int err = errno;
        if (fd >= 0)
            ::close(fd);
        if (err == ENOENT)
            return ScanIssue{path, SourceStatus::Quarantined,
                             Error{ErrorCode::Io, path.string() + " does not exist (deleted?)"}};
        return ScanIssue{path, SourceStatus::Quarantined,
                         Error{ErrorCode::Io, "cannot read " + path.string() + ": " + std::strerror(err)}};
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (!S_ISREG(st.st_mode))
        return ScanIssue{path, SourceStatus::Skipped,
                         Error{ErrorCode::Format, path.string() + " is not a regular file"}};
    ScannedFile file;
    file.path = path;
    file.size = st.st_size;
    file.mtimeNs = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (file.size > options.maxFileBytes)
        return ScanIssue{path, SourceStatus::Skipped,
                         Error{ErrorCode::TooLarge, path.string() + " is " + std::to_string(file.size) +
                                                        " bytes, over the per-file limit of " +
                                                        std::to_string(options.maxFileBytes)}};
    auto head = readHead(fd, path);
    if (!head)
        return ScanIssue{path, SourceStatus::Quarantined, head.error()};
    file.kind = detectKind(path, *head);
    if (file.kind == SourceKind::Unknown)
        return ScanIssue{path, SourceStatus::Skipped,
                         Error{ErrorCode::Unsupported, path.string() + " looks binary; skipped"}};
    if (file.kind == SourceKind::Code)
        file.language = languageForPath(path, *head);
    return file;
}

std::expected<std::vector<fs::path>, Error> readPathList(const fs::path& listFile)
{
    std::ifstream in(listFile);
    if (!in)
        return std::unexpected(Error{ErrorCode::Io, "cannot read the path list " + listFile.string()});
    std::vector<fs::path> paths;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
            line.pop_back();
        if (line.empty() || line.front() == '#')
            continue;
        fs::path p(line);
        paths.push_back(p.is_absolute() ? p : listFile.parent_path() / p);
    }
    return paths;
}

ScanResult scanSources(const std::vector<fs::path>& inputs, const ScanOptions& options,
                       const std::atomic<bool>* cancel)
{
    ScanResult result;
    Walker walker(options, cancel, result);
    for (const auto& input : inputs) {
        if (cancel && cancel->load()) {
            result.cancelled = true;
            break;
        }
        std::error_code ec;
        const auto status = fs::status(input, ec);
        if (fs::is_directory(status))
            walker.walkRoot(input);
        else
            walker.addFile(input);
    }
    log()->debug("scan: {} files, {} issues", result.files.size(), result.issues.size());
    return result;
}

} // namespace quire::ingest
