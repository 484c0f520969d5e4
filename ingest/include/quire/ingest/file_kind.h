// What a file is, decided from its name and its first bytes: the SourceKind that picks an
// extractor, whether the content looks binary (skipped), and the programming language for code.
// Pure functions, thread-safe.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "quire/ingest/model/types.h"

namespace quire::ingest {

// How many leading bytes the sniffing functions look at; callers pass at most this many.
inline constexpr std::size_t kSniffBytes = 8192;

// True when `head` (the first bytes of a file) looks like binary data: NUL bytes that do not
// follow a UTF-16 pattern, or a high share of control characters.
bool looksBinary(std::string_view head);

// True when `head` looks like UTF-16 text without a byte-order mark (ASCII-range text with
// every other byte NUL). `bigEndian` receives the byte order.
bool looksLikeBomlessUtf16(std::string_view head, bool* bigEndian = nullptr);

// The programming language for a code file ("cpp", "python", "shell", ...) from its name or,
// for extension-less scripts, the shebang line in `head`; empty for prose and unknown text.
std::string languageForPath(const std::filesystem::path& path, std::string_view head = {});

// The kind of source: Pdf, Docx, Audio, Video by magic bytes or extension; Code when a
// language is known; Text for other text; Unknown when `head` looks binary.
SourceKind detectKind(const std::filesystem::path& path, std::string_view head);

} // namespace quire::ingest
