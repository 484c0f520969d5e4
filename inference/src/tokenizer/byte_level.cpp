// GPT-2's byte-level alphabet: each byte is written as a printable character in vocabulary
// files. Printable Latin-1 bytes stand for themselves; the other 68 bytes map, in order, to
// U+0100 onwards (so a space is U+0120 'Ġ' and a newline U+010A 'Ċ').
#include <array>

#include "tokenizer/tokenizer_impl.h"

namespace quire::inference::tok {

namespace {

struct ByteMap {
    std::array<std::uint32_t, 256> toChar{};
    std::array<std::int16_t, 512> toByte{}; // every mapped character is below U+0200
    ByteMap()
    {
        toByte.fill(-1);
        std::uint32_t extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            toChar[static_cast<std::size_t>(b)] = printable ? static_cast<std::uint32_t>(b) : 0x100 + extra++;
            toByte[toChar[static_cast<std::size_t>(b)]] = static_cast<std::int16_t>(b);
        }
    }
};

const ByteMap& byteMap()
{
    static const ByteMap m;
    return m;
}

} // namespace

int byteOfChar(std::uint32_t cp)
{
    return cp < 512 ? byteMap().toByte[cp] : -1;
}

std::uint32_t charOfByte(unsigned char b)
{
    return byteMap().toChar[b];
}

std::optional<std::string> byteLevelDecode(std::string_view text)
{
    // Every character of the alphabet is below U+0200: one or two UTF-8 bytes.
    const auto& map = byteMap();
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        std::uint32_t cp;
        if (b0 < 0x80) {
            cp = b0;
            i += 1;
        } else if ((b0 & 0xE0) == 0xC0 && i + 1 < text.size() &&
                   (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
            cp = ((b0 & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
            i += 2;
        } else {
            return std::nullopt;
        }
        const int b = cp < 512 ? map.toByte[cp] : -1;
        if (b < 0)
            return std::nullopt;
        out += static_cast<char>(b);
    }
    return out;
}

} // namespace quire::inference::tok
