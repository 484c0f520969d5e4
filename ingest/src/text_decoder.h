// Streaming conversion of a text file's bytes to UTF-8: the encoding is chosen from the first
// chunk (BOM, else UTF-8 when it decodes as UTF-8 or mostly does, else Latin-1), then chunks of
// any size are decoded with sequences split across chunk boundaries carried over. Invalid UTF-8
// is replaced by U+FFFD (one per maximal invalid subpart) and counted. One object per file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "quire/ingest/text_file.h"

namespace quire::ingest {

class TextDecoder {
public:
    // Picks the encoding from the first bytes of the file; `wholeFile` when nothing follows.
    void start(std::string_view firstChunk, bool wholeFile);
    // Uses `encoding` without looking at the bytes (BOM-less UTF-16 found by the caller).
    void force(TextEncoding encoding)
    {
        m_encoding = encoding;
        m_skip = 0;
        m_preValidated = 0;
    }
    TextEncoding encoding() const { return m_encoding; }

    // Appends the UTF-8 for `bytes` (the next bytes of the file) to `out`.
    void decode(std::string_view bytes, std::string& out);
    // Flushes what is carried over (an incomplete sequence becomes U+FFFD).
    void finish(std::string& out);

    std::int64_t invalidSequences() const { return m_invalid; }
    std::int64_t firstInvalidOffset() const { return m_firstInvalid; } // byte offset, -1 if none

private:
    void decodeUtf8(std::string_view in, std::string& out, bool final);
    std::size_t decodeUtf8Run(const unsigned char* p, std::size_t n, std::string& out, bool final,
                              std::int64_t baseOffset);
    void decodeUtf16(std::string_view in, std::string& out, bool final);
    void invalid(std::int64_t offset, std::string& out);

    TextEncoding m_encoding = TextEncoding::Utf8;
    std::size_t m_skip = 0;         // BOM bytes still to drop
    std::size_t m_preValidated = 0; // start() found this many first bytes valid UTF-8 (a whole file)
    std::string m_carry;            // bytes of an unfinished sequence
    std::int64_t m_offset = 0;      // file offset of the next byte passed to decode()
    std::int64_t m_invalid = 0;
    std::int64_t m_firstInvalid = -1;
};

// Appends code point `cp` as UTF-8.
void appendUtf8(std::string& out, char32_t cp);

} // namespace quire::ingest
