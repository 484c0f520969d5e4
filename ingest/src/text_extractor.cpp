#include "quire/ingest/text_extractor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "quire/ingest/content_hash.h"
#include "quire/ingest/file_kind.h"
#include "text_decoder.h"
#include "text_stream.h"

namespace quire::ingest {

namespace {

bool isBlank(std::string_view line)
{
    // Runs of eight spaces at a time first: this runs over the indentation of every line.
    std::size_t i = 0;
    for (std::uint64_t word; i + 8 <= line.size(); i += 8) {
        std::memcpy(&word, line.data() + i, 8);
        if (word != 0x2020202020202020ull)
            break;
    }
    for (; i < line.size(); ++i) {
        const char c = line[i];
        if (c != ' ' && c != '\t' && c != '\f' && c != '\v')
            return false;
    }
    return true;
}

// Cuts `text` at or before `limit` bytes without splitting a UTF-8 sequence.
std::size_t utf8Cut(std::string_view text, std::size_t limit)
{
    if (text.size() <= limit)
        return text.size();
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
        --cut;
    return cut == 0 ? limit : cut;
}

// Gathers lines into segments. A segment's text usually is one stretch of the decoded chunk
// (lines that follow each other, split at "\n" only, with only empty lines between): then it is
// kept as a view into the chunk and copied once when the segment ends, instead of line by line.
// Anything else (CR line ends, blank lines with spaces, a line joined across chunks) is built in
// m_text. The caller calls detach() before the chunk the views point into changes.
class LineSegmenter {
public:
    LineSegmenter(const TextOptions& options, SourceKind kind, const SegmentSink& sink)
        : m_maxLines(std::max(1, options.maxLinesPerSegment)),
          m_minBreak(options.minLinesBeforeBreak > 0 ? options.minLinesBeforeBreak
                                                     : (kind == SourceKind::Code ? 20 : 1)),
          m_maxBytes(std::max<std::size_t>(64, options.maxSegmentBytes)), m_sink(sink)
    {
    }

    // `inChunk`: `line` lies in the current chunk, after the previous line and "\n" line ends.
    void addLine(int number, std::string_view line, bool inChunk)
    {
        if (isBlank(line)) {
            // Blank lines inside a segment come back as newlines if a non-blank line follows.
            if (m_first != 0 && m_last - m_first + 1 >= m_minBreak)
                flush();
            return;
        }
        if (line.size() > m_maxBytes) {
            flush();
            while (!line.empty()) {
                const std::size_t cut = utf8Cut(line, m_maxBytes);
                emit(std::string(line.substr(0, cut)), number, number);
                line.remove_prefix(cut);
            }
            return;
        }
        if (m_first != 0 && (length() + 1 + line.size() > m_maxBytes || number - m_first + 1 > m_maxLines))
            flush();
        if (m_first == 0) {
            m_first = number;
            m_sliced = inChunk;
            if (m_sliced)
                m_slice = line;
            else
                m_text.assign(line);
        } else {
            const auto gap = static_cast<std::size_t>(number - m_last); // newlines between the two
            // Exactly `gap` bytes between them means the lines between were empty: the bytes are
            // the newlines the segment needs.
            if (m_sliced && inChunk && line.data() == m_slice.data() + m_slice.size() + gap) {
                m_slice = std::string_view(m_slice.data(), m_slice.size() + gap + line.size());
            } else {
                detach();
                m_text.append(gap, '\n');
                m_text.append(line);
            }
        }
        m_last = number;
        if (m_last - m_first + 1 >= m_maxLines)
            flush();
    }

    // Copies a segment that is a view into the chunk into m_text.
    void detach()
    {
        if (m_first != 0 && m_sliced) {
            m_text.assign(m_slice);
            m_sliced = false;
        }
    }

    void flush()
    {
        if (m_first == 0)
            return;
        // An exact-size copy: m_text keeps its capacity for the next segment.
        emit(m_sliced ? std::string(m_slice) : std::string(m_text), m_first, m_last);
        m_text.clear();
        m_sliced = false;
        m_first = m_last = 0;
    }

private:
    std::size_t length() const { return m_sliced ? m_slice.size() : m_text.size(); }

    void emit(std::string text, int first, int last)
    {
        Segment s;
        s.text = std::move(text);
        s.anchor.where = LineAnchor{first, last};
        m_sink(std::move(s));
    }

    const int m_maxLines;
    const int m_minBreak;
    const std::size_t m_maxBytes;
    const SegmentSink& m_sink;
    bool m_sliced = false;    // the open segment is m_slice, else m_text
    std::string_view m_slice; // into the current chunk
    std::string m_text;       // without trailing blank lines
    int m_first = 0;
    int m_last = 0;
};

// Splits decoded UTF-8 into lines at "\n", "\r\n" and "\r".
class LineSplitter {
public:
    explicit LineSplitter(LineSegmenter& segmenter) : m_segmenter(segmenter) {}

    void feed(std::string_view text)
    {
        if (text.empty())
            return;
        // Most chunks have no CR at all: then lines end at LF only and memchr finds them fast.
        m_lfOnly = !m_pendingCR && !std::memchr(text.data(), '\r', text.size());
        if (m_lfOnly) {
            std::size_t start = 0;
            while (const void* hit = std::memchr(text.data() + start, '\n', text.size() - start)) {
                const std::size_t i = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data());
                line(text.substr(start, i - start));
                start = i + 1;
            }
            if (start < text.size())
                m_partial.append(text.substr(start));
            m_segmenter.detach(); // `text` goes away after this call
            return;
        }
        std::size_t start = 0;
        for (std::size_t i = 0; i < text.size(); ++i) {
            const char c = text[i];
            if (c != '\n' && c != '\r')
                continue;
            if (m_pendingCR) {
                m_pendingCR = false;
                if (c == '\n' && i == start) {
                    start = i + 1; // the LF of a CRLF split across chunks
                    continue;
                }
            }
            line(text.substr(start, i - start));
            if (c == '\r') {
                if (i + 1 < text.size()) {
                    if (text[i + 1] == '\n')
                        ++i;
                } else {
                    m_pendingCR = true;
                }
            }
            start = i + 1;
        }
        if (start < text.size()) {
            m_pendingCR = false;
            m_partial.append(text.substr(start));
        }
        m_segmenter.detach();
    }

    void finish()
    {
        if (!m_partial.empty())
            line({});
    }

    int lines() const { return m_number; }

private:
    void line(std::string_view tail)
    {
        ++m_number;
        if (m_partial.empty()) {
            m_segmenter.addLine(m_number, tail, m_lfOnly);
        } else {
            m_partial.append(tail);
            m_segmenter.addLine(m_number, m_partial, false);
            m_partial.clear();
        }
    }

    LineSegmenter& m_segmenter;
    std::string m_partial;
    bool m_pendingCR = false;
    bool m_lfOnly = false; // the chunk being split has no CR: lines are views into it, "\n" between
    int m_number = 0;
};

} // namespace

void OpenFile::close()
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

Error openError(const std::filesystem::path& path, int err)
{
    return Error{ErrorCode::Io, err == ENOENT ? path.string() + " no longer exists (deleted during the scan?)"
                                              : "cannot open " + path.string() + ": " + std::strerror(err)};
}

std::expected<std::size_t, Error> readFull(int fd, std::span<char> buffer, const std::filesystem::path& path,
                                           std::size_t expected)
{
    std::size_t got = 0;
    while (got < buffer.size() && got < expected) {
        const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return std::unexpected(
                Error{ErrorCode::Io, "cannot read " + path.string() + ": " + std::strerror(errno)});
        if (n == 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    return got;
}

std::expected<TextStats, Error> streamTextInput(const std::filesystem::path& path, const TextInput& input,
                                                SourceKind kind, const TextOptions& options,
                                                const SegmentSink& sink, const std::atomic<bool>* cancel,
                                                const ByteProgress& progress)
{
    TextStats stats;
    stats.mtimeNs = input.mtimeNs;
    std::optional<ContentHasher> hasher; // a streaming state only for files of several chunks
    TextDecoder decoder;
    LineSegmenter segmenter(options, kind, sink);
    LineSplitter splitter(segmenter);
    const std::span<char> buffer = input.buffer;
    std::string decoded;
    std::size_t got = input.firstBytes;
    for (bool first = true;; first = false) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return std::unexpected(Error{ErrorCode::Cancelled, "cancelled while reading " + path.string()});
        if (!first) {
            auto n = readFull(input.fd, buffer, path);
            if (!n)
                return std::unexpected(n.error());
            got = *n;
        }
        const std::string_view chunk(buffer.data(), got);
        if (first) {
            decoder.start(chunk, got < buffer.size());
            if (decoder.encoding() == TextEncoding::Utf8 && chunk.find('\0') != std::string_view::npos) {
                bool bigEndian = false;
                if (looksLikeBomlessUtf16(chunk.substr(0, std::min<std::size_t>(chunk.size(), kSniffBytes)),
                                          &bigEndian))
                    decoder.force(bigEndian ? TextEncoding::Utf16BE : TextEncoding::Utf16LE);
            }
        }
        if (got == 0)
            break;
        if (first && got < buffer.size()) {
            stats.contentHash = ContentHasher::hexOf(chunk); // the whole file
        } else {
            if (!hasher)
                hasher.emplace();
            hasher->update(chunk);
        }
        stats.bytes += static_cast<std::int64_t>(got);
        decoded.clear();
        decoder.decode(chunk, decoded);
        splitter.feed(decoded);
        if (progress)
            progress(stats.bytes);
        if (got < buffer.size())
            break;
    }
    decoded.clear();
    decoder.finish(decoded);
    splitter.feed(decoded);
    splitter.finish();
    segmenter.flush();

    stats.encoding = decoder.encoding();
    stats.lines = splitter.lines();
    stats.invalidSequences = decoder.invalidSequences();
    stats.firstInvalidOffset = decoder.firstInvalidOffset();
    if (hasher)
        stats.contentHash = hasher->hex();
    else if (stats.contentHash.empty())
        stats.contentHash = ContentHasher::hexOf({}); // an empty file
    return stats;
}

namespace {

// Opens `path` and reads its first chunk into `storage` (sized to the file, at most chunkBytes).
std::expected<TextInput, Error> openText(const std::filesystem::path& path, const TextOptions& options,
                                         OpenFile& file, std::unique_ptr<char[]>& storage)
{
    file.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file)
        return std::unexpected(openError(path, errno));
    TextInput input;
    input.fd = file.fd();
    // A buffer no larger than the file (plus one byte to see its end in one read): most source
    // files are a few KiB, and a 1 MiB buffer per file would cost more than reading them.
    struct stat st {};
    std::size_t bufferSize = std::max<std::size_t>(16, options.chunkBytes);
    std::size_t expected = std::size_t(-1);
    if (::fstat(file.fd(), &st) == 0 && st.st_size >= 0) {
        if (st.st_size > 0) // 0: empty, or generated when read (/proc): read to the end
            expected = static_cast<std::size_t>(st.st_size);
        input.mtimeNs = std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
        bufferSize =
            std::min(bufferSize, std::max<std::size_t>(16, static_cast<std::size_t>(st.st_size) + 1));
        if (static_cast<std::size_t>(st.st_size) > bufferSize)
            ::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    storage.reset(new char[bufferSize]);
    input.buffer = std::span<char>(storage.get(), bufferSize);
    auto got = readFull(file.fd(), input.buffer, path, expected);
    if (!got)
        return std::unexpected(got.error());
    input.firstBytes = *got;
    return input;
}

} // namespace

std::expected<TextStats, Error> streamTextSegments(const std::filesystem::path& path, SourceKind kind,
                                                   const TextOptions& options, const SegmentSink& sink,
                                                   const std::atomic<bool>* cancel,
                                                   const ByteProgress& progress)
{
    OpenFile file;
    std::unique_ptr<char[]> storage;
    auto input = openText(path, options, file, storage);
    if (!input)
        return std::unexpected(input.error());
    return streamTextInput(path, *input, kind, options, sink, cancel, progress);
}

std::expected<Document, Error> extractTextInput(const std::filesystem::path& path, const TextInput& input,
                                                SourceKind kind, const TextOptions& options,
                                                const std::atomic<bool>* cancel, const ByteProgress& progress)
{
    Document doc;
    doc.source.path = path.string();
    doc.source.kind = kind == SourceKind::Code ? SourceKind::Code : SourceKind::Text;
    const std::string_view native = path.native(); // the name without building path objects
    doc.title = native.substr(native.rfind('/') + 1);
    auto stats = streamTextInput(
        path, input, doc.source.kind, options, [&doc](Segment&& s) { doc.segments.push_back(std::move(s)); },
        cancel, progress);
    if (!stats)
        return std::unexpected(stats.error());
    doc.source.mtimeNs = stats->mtimeNs;
    doc.source.size = stats->bytes;
    doc.source.contentHash = std::move(stats->contentHash);
    if (doc.source.kind == SourceKind::Code) {
        std::string_view head;
        if (!doc.segments.empty() && std::get<LineAnchor>(doc.segments.front().anchor.where).lineBegin == 1)
            head = doc.segments.front().text;
        doc.language = languageForPath(path, head);
    }
    if (stats->bytes == 0) {
        doc.status = SourceStatus::Skipped;
        doc.error = "empty file";
    } else if (stats->invalidSequences > 0) {
        doc.status = SourceStatus::Partial;
        doc.error = std::to_string(stats->invalidSequences) +
                    " invalid UTF-8 sequence(s) replaced with U+FFFD, the first at byte " +
                    std::to_string(stats->firstInvalidOffset);
    } else {
        doc.status = SourceStatus::Ingested;
    }
    return doc;
}

std::expected<Document, Error> extractTextDocument(const std::filesystem::path& path, SourceKind kind,
                                                   const TextOptions& options,
                                                   const std::atomic<bool>* cancel,
                                                   const ByteProgress& progress)
{
    OpenFile file;
    std::unique_ptr<char[]> storage;
    auto input = openText(path, options, file, storage);
    if (!input)
        return std::unexpected(input.error());
    return extractTextInput(path, *input, kind, options, cancel, progress);
}

} // namespace quire::ingest
