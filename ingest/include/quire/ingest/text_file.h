// Text encodings the ingest reader detects (text_decoder.h streams and converts them to UTF-8),
// and a UTF-8 validity check. Thread-safe (no shared state).
#pragma once

#include <string_view>

namespace quire::ingest {

enum class TextEncoding : int { Utf8 = 0, Utf8Bom = 1, Utf16LE = 2, Utf16BE = 3, Latin1 = 4 };

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF).
bool isValidUtf8(std::string_view bytes);

}  // namespace quire::ingest
