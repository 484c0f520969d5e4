// The text path from an already open file: the Ingestor reads a file's first chunk once, sniffs
// it (binary? PDF? which encoding?) and goes on from that chunk instead of opening the file a
// second time. streamTextSegments() and extractTextDocument() are built on the same functions.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <span>
#include <string_view>

#include "quire/ingest/error.h"
#include "quire/ingest/text_extractor.h"

namespace quire::ingest {

// An open file descriptor, closed on destruction.
class OpenFile {
public:
    OpenFile() = default;
    explicit OpenFile(int fd) : m_fd(fd) {}
    ~OpenFile() { close(); }
    OpenFile(const OpenFile&) = delete;
    OpenFile& operator=(const OpenFile&) = delete;
    void reset(int fd)
    {
        close();
        m_fd = fd;
    }
    int fd() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }
    void close();

private:
    int m_fd = -1;
};

// Fills `buffer` from `fd` until it is full or the file ends (short reads are retried);
// returns the number of bytes read. With `expected` (the size a stat reported) it also stops
// once that many bytes are in, which spares the read that would only report the end.
std::expected<std::size_t, Error> readFull(int fd, std::span<char> buffer, const std::filesystem::path& path,
                                           std::size_t expected = std::size_t(-1));

// The error for a file that cannot be opened (`err` is errno).
Error openError(const std::filesystem::path& path, int err);

// A file being read for the text path: `buffer` holds its first `firstBytes` bytes (already read
// from `fd`, which is positioned after them) and is reused for the rest. A first chunk shorter
// than the buffer means the file ended there.
struct TextInput {
    int fd = -1;
    std::span<char> buffer;
    std::size_t firstBytes = 0;
    std::int64_t mtimeNs = 0;
};

std::expected<TextStats, Error> streamTextInput(const std::filesystem::path& path, const TextInput& input,
                                                SourceKind kind, const TextOptions& options,
                                                const SegmentSink& sink, const std::atomic<bool>* cancel,
                                                const ByteProgress& progress);

std::expected<Document, Error> extractTextInput(const std::filesystem::path& path, const TextInput& input,
                                                SourceKind kind, const TextOptions& options,
                                                const std::atomic<bool>* cancel,
                                                const ByteProgress& progress);

} // namespace quire::ingest
