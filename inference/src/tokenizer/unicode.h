// Unicode facts the pre-tokenizers need: the general category of a code point (from a generated
// table, Unicode version in unicode_tables.inc), the White_Space property, and UTF-8 decoding
// into code points with per-character class flags. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "quire/inference/utf8.h"

namespace quire::inference::tok {

enum class UnicodeCategory : std::uint8_t {
    Cn,
    Lu,
    Ll,
    Lt,
    Lm,
    Lo,
    Mn,
    Mc,
    Me,
    Nd,
    Nl,
    No,
    Pc,
    Pd,
    Ps,
    Pe,
    Pi,
    Pf,
    Po,
    Sm,
    Sc,
    Sk,
    So,
    Zs,
    Zl,
    Zp,
    Cc,
    Cf,
    Cs,
    Co,
};

UnicodeCategory category(std::uint32_t cp);
bool isWhitespace(std::uint32_t cp); // the White_Space property (what \s matches)

// Per-character class bits used by the hand-written splitters.
enum CharClass : std::uint8_t {
    kLetter = 1 << 0,   // \p{L}
    kNumber = 1 << 1,   // \p{N}
    kSpace = 1 << 2,    // \s
    kPunct = 1 << 3,    // \p{P}
    kUpperish = 1 << 4, // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
    kLowerish = 1 << 5, // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
    kNewline = 1 << 6,  // [\r\n]
};

std::uint8_t charClass(std::uint32_t cp);

// Text decoded for splitting. Bytes that are not valid UTF-8 become one "character" each with
// code point 0xFFFD-like class 0 (a symbol), so nothing is lost: pieces are byte ranges.
struct DecodedText {
    std::vector<std::uint32_t> cps;
    std::vector<std::uint8_t> cls;
    std::vector<std::uint32_t> offsets; // byte offset of each character, plus the end
    void decode(std::string_view text);
    std::size_t size() const { return cps.size(); }
};

// Length of the UTF-8 sequence starting with this byte (1 for a stray continuation byte).
inline int utf8SequenceLength(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if (b < 0xC0)
        return 1;
    if (b < 0xE0)
        return 2;
    if (b < 0xF0)
        return 3;
    return 4;
}

// Appends the UTF-8 encoding of cp (quire/inference/utf8.h).
using quire::inference::appendUtf8;

// Length of the longest prefix of `bytes` that is valid UTF-8 and ends on a character boundary,
// given that more bytes may follow (an incomplete final sequence is excluded, not an error).
// Returns {validPrefix, invalidAt}: invalidAt is true when bytes[validPrefix] starts a sequence
// that can never become valid.
struct Utf8Scan {
    std::size_t complete = 0;
    bool invalid = false;
};
Utf8Scan scanUtf8(std::string_view bytes);

} // namespace quire::inference::tok
