// Reading a text or source file into UTF-8 with normalised newlines. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>

#include "quire/ingest/error.h"

namespace quire::ingest {

enum class TextEncoding : int { Utf8 = 0, Utf8Bom = 1, Utf16LE = 2, Utf16BE = 3, Latin1 = 4 };

struct TextFile {
    std::string text;  // UTF-8, "\n" line ends
    TextEncoding encoding = TextEncoding::Utf8;
    int lineCount = 0;
};

// Reads `path` whole (up to `maxBytes`), detects the encoding (UTF-8, UTF-16 with a BOM, else
// Latin-1 as the legacy 8-bit fallback) and normalises CRLF and CR to LF.
std::expected<TextFile, Error> readTextFile(const std::filesystem::path& path,
                                            std::int64_t maxBytes = 64ll << 20);

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool isValidUtf8(std::string_view bytes);

}  // namespace quire::ingest
