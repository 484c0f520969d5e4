// Helpers shared by the storage tests: a fresh library in a temporary directory and small
// documents built in code.
#pragma once

#include <QTemporaryDir>
#include <QTest>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "quire/ingest/model/types.h"
#include "quire/storage/database.h"

namespace quire::storage::test {

inline std::filesystem::path libraryIn(const QTemporaryDir& dir)
{
    return std::filesystem::path(dir.path().toStdString()) / "library.sqlite";
}

inline OpenOptions readOnly()
{
    OpenOptions options;
    options.mode = OpenMode::ReadOnly;
    return options;
}

inline ingest::Source source(const std::string& path, const std::string& hash, std::int64_t size = 100)
{
    ingest::Source s;
    s.path = path;
    s.kind = ingest::SourceKind::Text;
    s.contentHash = hash;
    s.size = size;
    s.mtimeNs = 1'700'000'000'000'000'000;
    return s;
}

inline ingest::Segment lineSegment(const std::string& text, int begin, int end)
{
    ingest::Segment seg;
    seg.text = text;
    seg.anchor.where = ingest::LineAnchor{begin, end};
    return seg;
}

inline ingest::Document document(const std::string& path, const std::string& hash,
                                 const std::vector<std::string>& lines)
{
    ingest::Document doc;
    doc.source = source(path, hash);
    doc.title = std::filesystem::path(path).filename().string();
    doc.language = "en";
    doc.status = ingest::SourceStatus::Ingested;
    int n = 1;
    for (const auto& line : lines) {
        doc.segments.push_back(lineSegment(line, n, n));
        ++n;
    }
    return doc;
}

// Deterministic bytes for a KV block: depends on the seed and the position only.
inline void fillPattern(std::byte* out, std::size_t size, std::uint64_t seed, std::size_t offset = 0)
{
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (std::size_t i = 0; i < size; ++i) {
        const std::uint64_t p = offset + i;
        std::uint64_t v = x ^ (p / 8) * 0xD6E8FEB86659FD93ull;
        v ^= v >> 29;
        out[i] = static_cast<std::byte>(v >> ((p % 8) * 8));
    }
}

inline std::vector<std::byte> pattern(std::size_t size, std::uint64_t seed)
{
    std::vector<std::byte> bytes(size);
    fillPattern(bytes.data(), size, seed);
    return bytes;
}

} // namespace quire::storage::test

#define QUIRE_VERIFY_OK(expr)                                                                                \
    do {                                                                                                     \
        const auto& quire_r_ = (expr);                                                                       \
        QVERIFY2(quire_r_.has_value(), quire_r_ ? "" : quire_r_.error().message.c_str());                    \
    } while (false)
