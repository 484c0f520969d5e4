#include "quire/ingest/source_scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <expected>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <variant>

#include "log.h"
#include "quire/ingest/file_kind.h"
#include "quire/ingest/ignore_rules.h"

namespace fs = std::filesystem;

namespace quire::ingest {

namespace {

// Reads an ignore file named `name` in the open folder `dir` (nothing when it is absent or not a
// regular file).
std::string readSmallFileAt(int dir, const char* name, std::size_t limit = 1 << 20)
{
    std::string text;
    const int fd = ::openat(dir, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return text;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        text.resize(std::min<std::size_t>(limit, static_cast<std::size_t>(st.st_size)));
        std::size_t got = 0;
        while (got < text.size()) {
            const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        text.resize(got);
    }
    ::close(fd);
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

ScanIssue missingFile(const fs::path& path, int err)
{
    if (err == ENOENT)
        return ScanIssue{path, SourceStatus::Quarantined,
                         Error{ErrorCode::Io, path.string() + " does not exist (deleted?)"}};
    return ScanIssue{path, SourceStatus::Quarantined,
                     Error{ErrorCode::Io, "cannot read " + path.string() + ": " + std::strerror(err)}};
}

// Size, time and the checks that need only the metadata; nullopt when the file is usable.
std::optional<ScanIssue> fromStat(const fs::path& path, const struct stat& st, const ScanOptions& options,
                                  ScannedFile& file)
{
    if (!S_ISREG(st.st_mode))
        return ScanIssue{path, SourceStatus::Skipped,
                         Error{ErrorCode::Format, path.string() + " is not a regular file"}};
    file.size = st.st_size;
    file.mtimeNs = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (file.size > options.maxFileBytes)
        return ScanIssue{path, SourceStatus::Skipped,
                         Error{ErrorCode::TooLarge, path.string() + " is " + std::to_string(file.size) +
                                                        " bytes, over the per-file limit of " +
                                                        std::to_string(options.maxFileBytes)}};
    return std::nullopt;
}

// classifyFile() for `name` in the open folder `dir` (AT_FDCWD and the whole path for a file
// named by the user): with sniffing, one open serves both the metadata (fstat) and the first
// bytes; without, one stat.
std::variant<ScannedFile, ScanIssue> classifyAt(int dir, const char* name, fs::path path,
                                                const ScanOptions& options)
{
    ScannedFile file;
    struct stat st {};
    if (!options.sniffContent) {
        if (::fstatat(dir, name, &st, 0) != 0)
            return missingFile(path, errno);
        if (auto issue = fromStat(path, st, options, file))
            return std::move(*issue);
        file.kind = detectKind(path, {}); // by name; the reader of the first chunk decides
        if (file.kind == SourceKind::Code)
            file.language = languageForPath(path);
        file.contentChecked = false;
        file.path = std::move(path);
        return file;
    }
    const int fd = ::openat(dir, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || ::fstat(fd, &st) != 0) {
        const int err = errno;
        if (fd >= 0)
            ::close(fd);
        return missingFile(path, err);
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    if (auto issue = fromStat(path, st, options, file))
        return std::move(*issue);
    auto head = readHead(fd, path);
    if (!head)
        return ScanIssue{path, SourceStatus::Quarantined, head.error()};
    file.kind = detectKind(path, *head);
    if (file.kind == SourceKind::Unknown)
        return ScanIssue{path, SourceStatus::Skipped,
                         Error{ErrorCode::Unsupported, path.string() + " looks binary; skipped"}};
    if (file.kind == SourceKind::Code)
        file.language = languageForPath(path, *head);
    file.path = std::move(path);
    return file;
}

struct DirKey {
    dev_t dev;
    ino_t ino;
    auto operator<=>(const DirKey&) const = default;
};

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

struct Entry {
    std::string name;
    unsigned char type; // DT_* from the listing; DT_UNKNOWN where the file system does not say
};

// Walks folders with the POSIX calls relative to the open folder: the listing's entry types
// spare a stat per entry, and names are looked up from their folder, not from the root.
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

    void addFile(int dir, const char* name, fs::path path)
    {
        auto classified = classifyAt(dir, name, std::move(path), m_options);
        if (auto* file = std::get_if<ScannedFile>(&classified))
            m_result.files.push_back(std::move(*file));
        else
            m_result.issues.push_back(std::move(std::get<ScanIssue>(classified)));
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
        const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0) {
            const int err = errno;
            if (fd >= 0)
                ::close(fd);
            issue(dir, SourceStatus::Quarantined, ErrorCode::Io,
                  "cannot read folder " + dir.string() + ": " + std::strerror(err));
            return;
        }
        std::unique_ptr<DIR, DirCloser> listing(::fdopendir(fd)); // owns fd from here
        if (!listing) {
            const int err = errno;
            ::close(fd);
            issue(dir, SourceStatus::Quarantined, ErrorCode::Io,
                  "cannot list " + dir.string() + ": " + std::strerror(err));
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
            for (const char* name : {".gitignore", ".ignore"})
                rules.addRules(readSmallFileAt(fd, name));
            if (!rules.empty())
                stack.push(rel, std::move(rules));
        }

        std::vector<Entry> entries;
        errno = 0;
        while (const dirent* e = ::readdir(listing.get())) {
            const std::string_view name = e->d_name;
            if (name != "." && name != "..")
                entries.push_back({std::string(name), e->d_type});
            errno = 0;
        }
        if (errno != 0)
            issue(dir, SourceStatus::Quarantined, ErrorCode::Io,
                  "cannot list " + dir.string() + ": " + std::strerror(errno));
        std::ranges::sort(entries, {}, &Entry::name);

        for (const auto& entry : entries) {
            if (cancelled()) {
                m_result.cancelled = true;
                break;
            }
            visitEntry(fd, dir, entry, rel, stack);
        }
        while (stack.depth() > depthBefore)
            stack.pop();
        m_ancestors.pop_back();
    }

    void visitEntry(int dirFd, const fs::path& dir, const Entry& entry, const std::string& rel,
                    IgnoreStack& stack)
    {
        const std::string& name = entry.name;
        if (name == ".git" || name == ".hg" || name == ".svn" || name == ".bzr")
            return;
        if (m_options.skipHidden && name.starts_with('.'))
            return;
        const std::string childRel = rel.empty() ? name : rel + "/" + name;
        fs::path path = dir / name;
        unsigned char type = entry.type;
        if (type == DT_UNKNOWN) {
            struct stat st {};
            if (::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                issue(path, SourceStatus::Quarantined, ErrorCode::Io,
                      path.string() + " disappeared during the scan");
                return;
            }
            type = S_ISLNK(st.st_mode)   ? DT_LNK
                   : S_ISDIR(st.st_mode) ? DT_DIR
                   : S_ISREG(st.st_mode) ? DT_REG
                                         : DT_UNKNOWN;
        }
        if (type == DT_LNK) {
            if (!m_options.followSymlinks)
                return;
            // A link is judged by what it points to.
            struct stat st {};
            if (::fstatat(dirFd, name.c_str(), &st, 0) != 0) {
                issue(path, SourceStatus::Skipped, ErrorCode::Io, "broken symbolic link " + path.string());
                return;
            }
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        const bool isDir = type == DT_DIR;
        if (stack.ignored(childRel, isDir))
            return;
        if (isDir) {
            walkDirectory(path, childRel, stack);
            return;
        }
        if (type != DT_REG)
            return; // sockets, fifos, devices
        addFile(dirFd, name.c_str(), std::move(path));
    }

    const ScanOptions& m_options;
    const std::atomic<bool>* m_cancel;
    ScanResult& m_result;
    std::vector<DirKey> m_ancestors;
    std::set<DirKey> m_visited;
};

} // namespace

std::variant<ScannedFile, ScanIssue> classifyFile(const fs::path& path, const ScanOptions& options)
{
    return classifyAt(AT_FDCWD, path.c_str(), path, options);
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
            walker.addFile(AT_FDCWD, input.c_str(), input);
    }
    log()->debug("scan: {} files, {} issues", result.files.size(), result.issues.size());
    return result;
}

} // namespace quire::ingest
