#include "quire/ingest/ingestor.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <thread>

#include "log.h"
#include "quire/ingest/content_hash.h"
#include "quire/ingest/file_kind.h"
#include "quire/ingest/text_extractor.h"
#include "text_stream.h"

namespace fs = std::filesystem;

namespace quire::ingest {

namespace {

Document fromIssue(const ScanIssue& issue)
{
    Document d;
    d.source.path = issue.path.string();
    d.title = issue.path.filename().string();
    d.status = issue.status;
    d.error = issue.error.message;
    return d;
}

Document failed(const ScannedFile& file, const Error& error)
{
    Document d;
    d.source.path = file.path.string();
    d.source.kind = file.kind;
    d.source.size = file.size;
    d.source.mtimeNs = file.mtimeNs;
    d.title = file.path.filename().string();
    d.status = SourceStatus::Quarantined;
    d.error = error.message;
    return d;
}

void count(IngestSummary& s, SourceStatus status)
{
    switch (status) {
    case SourceStatus::Ingested:
        ++s.ingested;
        break;
    case SourceStatus::Partial:
        ++s.partial;
        break;
    case SourceStatus::Quarantined:
        ++s.quarantined;
        break;
    case SourceStatus::Skipped:
        ++s.skipped;
        break;
    case SourceStatus::Pending:
        break;
    }
}

bool isolatedKind(SourceKind kind)
{
    return kind == SourceKind::Pdf || kind == SourceKind::Docx || kind == SourceKind::Audio ||
           kind == SourceKind::Video;
}

// The start of a file the scan did not sniff.
struct FirstChunk {
    OpenFile file;
    std::unique_ptr<char[]> storage;
    std::span<char> buffer; // sized to the file (at most a text chunk, at least a sniff window)
    std::size_t bytes = 0;  // read so far, from the start of the buffer
};

std::size_t expectedBytes(const ScannedFile& file)
{
    return file.size > 0 ? static_cast<std::size_t>(file.size) : std::size_t(-1);
}

// Opens `file` (`name` in the open folder `folder`, or AT_FDCWD and the whole path) and reads
// its head: all of a small file (one read), else only the sniff window, so that a large binary
// or PDF costs a few KiB here, not a whole text chunk.
std::expected<void, Error> readFirstChunk(const ScannedFile& file, int folder, const char* name,
                                          std::size_t chunkBytes, FirstChunk& out)
{
    out.file.reset(::openat(folder, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!out.file)
        return std::unexpected(openError(file.path, errno));
    const std::size_t fileBytes = static_cast<std::size_t>(std::max<std::int64_t>(0, file.size)) + 1;
    const std::size_t size =
        std::max({std::min(chunkBytes, fileBytes), std::min(kSniffBytes, fileBytes), std::size_t{16}});
    out.storage.reset(new char[size]);
    out.buffer = std::span<char>(out.storage.get(), size);
    const std::size_t first = fileBytes <= kSniffBytes ? size : std::min(size, kSniffBytes);
    auto got = readFull(out.file.fd(), out.buffer.first(first), file.path, expectedBytes(file));
    if (!got)
        return std::unexpected(got.error());
    out.bytes = *got;
    return {};
}

// Reads the rest of the first text chunk after a sniff-window read.
std::expected<void, Error> fillFirstChunk(const ScannedFile& file, FirstChunk& chunk)
{
    const std::size_t expected = expectedBytes(file);
    if (chunk.bytes < kSniffBytes || chunk.bytes >= chunk.buffer.size() || chunk.bytes >= expected)
        return {}; // the file ended within the first read, or the buffer is full
    if (chunk.buffer.size() > (1 << 16))
        ::posix_fadvise(chunk.file.fd(), 0, 0, POSIX_FADV_SEQUENTIAL); // a big file: read ahead
    auto more =
        readFull(chunk.file.fd(), chunk.buffer.subspan(chunk.bytes), file.path, expected - chunk.bytes);
    if (!more)
        return std::unexpected(more.error());
    chunk.bytes += *more;
    return {};
}

} // namespace

// The folder of the last file a worker thread opened, kept open, so that the next file in the
// same folder is opened by its name: the kernel looks up one name instead of the whole path.
// Files come folder by folder in the order of the scan (small text files; see run()).
class Ingestor::FolderCache {
public:
    // The open folder of `path` and the file's name in it; AT_FDCWD and the whole path when the
    // folder cannot be opened. The name points into `path`.
    std::pair<int, const char*> locate(const fs::path& path)
    {
        const std::string& native = path.native();
        const std::size_t slash = native.rfind('/');
        if (slash == std::string::npos || slash + 1 == native.size())
            return {AT_FDCWD, native.c_str()};
        const std::string_view folder(native.data(), slash == 0 ? 1 : slash);
        if (!m_folder || folder != m_path) {
            m_path.assign(folder);
            m_folder.reset(::open(m_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!m_folder)
                return {AT_FDCWD, native.c_str()};
        }
        return {m_folder.fd(), native.c_str() + slash + 1};
    }

private:
    std::string m_path;
    OpenFile m_folder;
};

Ingestor::Ingestor(IngestOptions options) : m_options(std::move(options))
{
    m_worker = m_options.workerPath.empty() ? findWorker() : m_options.workerPath;
    if (m_options.isolate && m_worker.empty())
        log()->warn("quire-ingest-worker not found: PDF, DOCX and media files will be quarantined");
}

std::optional<Document> Ingestor::extract(const ScannedFile& file, const std::atomic<bool>* cancel,
                                          const FractionProgress& progress) const
{
    ExtractionWorker helper(m_worker, m_options.limits);
    return extractWith(file, helper, nullptr, cancel, progress);
}

std::optional<Document> Ingestor::extractWith(const ScannedFile& file, ExtractionWorker& helper,
                                              FolderCache* folders, const std::atomic<bool>* cancel,
                                              const FractionProgress& progress) const
{
    auto textProgress = [&](std::int64_t done) {
        if (progress && file.size > 0)
            progress(static_cast<double>(done) / static_cast<double>(file.size));
    };
    SourceKind kind = file.kind;
    std::expected<Document, Error> result = std::unexpected(Error{});
    bool extracted = false;
    if (!file.contentChecked) {
        // Not sniffed by the scan: the first bytes read here decide the kind (binary, a PDF by
        // its magic bytes, the text encoding), and text goes on from them, so the file is opened
        // and read once.
        FirstChunk first;
        const auto [folder, name] =
            folders ? folders->locate(file.path) : std::pair<int, const char*>{AT_FDCWD, file.path.c_str()};
        if (auto opened = readFirstChunk(file, folder, name, m_options.extract.text.chunkBytes, first);
            !opened)
            return failed(file, opened.error());
        kind =
            detectKind(file.path, std::string_view(first.buffer.data(), std::min(first.bytes, kSniffBytes)));
        if (kind == SourceKind::Unknown)
            return fromIssue({file.path, SourceStatus::Skipped,
                              Error{ErrorCode::Unsupported, file.path.string() + " looks binary; skipped"}});
        if (!isolatedKind(kind)) {
            if (auto filled = fillFirstChunk(file, first); !filled)
                return failed(file, filled.error());
            const TextInput input{first.file.fd(), first.buffer, first.bytes, file.mtimeNs};
            result = extractTextInput(file.path, input, kind, m_options.extract.text, cancel, textProgress);
            extracted = true;
        }
    }
    const bool isolated = isolatedKind(kind);
    if (isolated && file.size == 0)
        return failed(file, {ErrorCode::Format, file.path.filename().string() + " is empty (0 bytes)"});

    if (!extracted && !isolated) {
        result = extractTextDocument(file.path, kind, m_options.extract.text, cancel, textProgress);
    } else if (!extracted) {
        auto hash = hashFile(file.path);
        if (!hash) {
            Error e = hash.error();
            if (!fs::exists(file.path))
                e.message = file.path.string() + " no longer exists (deleted during the scan?)";
            return failed(file, e);
        }
        result = m_options.isolate ? helper.extract(file.path, kind, m_options.extract, cancel, progress)
                                   : extractFile(file.path, kind, m_options.extract, cancel, progress);
        if (result) {
            result->source.contentHash = *hash;
            result->source.size = file.size;
            result->source.mtimeNs = file.mtimeNs;
        }
    }
    if (!result) {
        if (result.error().code == ErrorCode::Cancelled)
            return std::nullopt;
        log()->info("quarantined {}: {}", file.path.string(), result.error().message);
        Document d = failed(file, result.error());
        d.source.kind = kind;
        return d;
    }
    if (result->source.kind == SourceKind::Unknown)
        result->source.kind = kind;
    if (result->language.empty() && kind == file.kind)
        result->language = file.language;
    return std::move(*result);
}

IngestSummary Ingestor::run(const std::vector<fs::path>& inputs, const DocumentSink& onDocument,
                            const ProgressSink& onProgress, const std::atomic<bool>* cancel) const
{
    IngestSummary summary;
    // The scan only stats files; extraction sniffs the first chunk it reads (extractWith).
    ScanOptions scanOptions = m_options.scan;
    scanOptions.sniffContent = false;
    ScanResult scan = scanSources(inputs, scanOptions, cancel);

    std::mutex mutex; // guards the callbacks and the progress state
    IngestProgress progress;
    progress.filesTotal = scan.files.size() + scan.issues.size();
    for (const auto& f : scan.files)
        progress.bytesTotal += f.size;
    std::int64_t bytesFinished = 0;
    double bytesInFlight = 0; // the done parts of files still being extracted
    std::vector<double> inFlight(scan.files.size(), 0.0);

    auto report = [&](const std::string& path) { // mutex held
        progress.bytesDone = std::min(
            progress.bytesTotal, bytesFinished + static_cast<std::int64_t>(std::max(0.0, bytesInFlight)));
        progress.currentPath = path;
        if (onProgress)
            onProgress(progress);
    };

    {
        std::lock_guard lock(mutex);
        for (const ScanIssue& issue : scan.issues) {
            Document d = fromIssue(issue);
            count(summary, d.status);
            ++progress.filesDone;
            if (onDocument)
                onDocument(std::move(d));
        }
        report({});
    }

    // Long extractions first (PDF, DOCX and media by name, anything over 1 MiB), the largest
    // first, so that a long PDF or recording does not start last and run alone. The many small
    // text files follow in the order of the scan, folder by folder: each is opened from its open
    // folder (FolderCache), and their order does not matter for the balance between threads.
    std::vector<std::size_t> order(scan.files.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    const auto isLong = [&](std::size_t i) {
        return isolatedKind(scan.files[i].kind) || scan.files[i].size > (std::int64_t{1} << 20);
    };
    const auto longEnd = std::stable_partition(order.begin(), order.end(), isLong);
    std::stable_sort(order.begin(), longEnd,
                     [&](std::size_t a, std::size_t b) { return scan.files[a].size > scan.files[b].size; });

    std::atomic<std::size_t> next{0};
    std::atomic<bool> cancelled{scan.cancelled};
    auto work = [&] {
        ExtractionWorker helper(m_worker,
                                m_options.limits); // this thread's helper process, kept between files
        FolderCache folders;
        for (;;) {
            if (cancel && cancel->load(std::memory_order_relaxed)) {
                cancelled = true;
                return;
            }
            const std::size_t k = next.fetch_add(1);
            if (k >= order.size())
                return;
            const std::size_t i = order[k];
            const ScannedFile& file = scan.files[i];
            // A partial-progress report at most every 1% of a file, or per chunk for text.
            auto fraction = [&, i](double f) {
                std::lock_guard lock(mutex);
                f = std::clamp(f, 0.0, 1.0);
                if (f - inFlight[i] < 0.01 && f < 1.0)
                    return;
                bytesInFlight += (f - inFlight[i]) * static_cast<double>(file.size);
                inFlight[i] = f;
                report(file.path.string());
            };
            std::optional<Document> doc = extractWith(file, helper, &folders, cancel, fraction);
            std::lock_guard lock(mutex);
            bytesInFlight -= inFlight[i] * static_cast<double>(file.size);
            inFlight[i] = 0;
            if (!doc) {
                cancelled = true;
                return;
            }
            bytesFinished += file.size;
            ++progress.filesDone;
            count(summary, doc->status);
            if (onDocument)
                onDocument(std::move(*doc));
            report(file.path.string());
        }
    };

    int threads = m_options.threads > 0 ? m_options.threads
                                        : std::min(4, static_cast<int>(std::thread::hardware_concurrency()));
    threads = std::max(1, std::min<int>(threads, static_cast<int>(std::max<std::size_t>(1, order.size()))));
    if (threads == 1) {
        work();
    } else {
        std::vector<std::jthread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back(work);
    }
    summary.cancelled = cancelled.load();
    return summary;
}

std::vector<Document> Ingestor::ingest(const std::vector<fs::path>& inputs, const ProgressSink& onProgress,
                                       const std::atomic<bool>* cancel, IngestSummary* summary) const
{
    std::vector<Document> docs;
    IngestSummary s = run(
        inputs, [&docs](Document&& d) { docs.push_back(std::move(d)); }, onProgress, cancel);
    if (summary)
        *summary = s;
    return docs;
}

} // namespace quire::ingest
