// GPT-2's byte-level alphabet: each byte is written as a printable character in vocabulary
// files. Printable Latin-1 bytes stand for themselves; the other 68 bytes map, in order, to
// U+0100 onwards (so a space is U+0120 'Ġ' and a newline U+010A 'Ċ').
#include <array>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

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
    DecodedText d;
    d.decode(text);
    std::string out;
    out.reserve(d.size());
    for (std::size_t i = 0; i < d.size(); ++i) {
        const bool valid = d.offsets[i + 1] - d.offsets[i] > 1 || d.cps[i] < 0x80;
        const int b = valid ? byteOfChar(d.cps[i]) : -1;
        if (b < 0)
            return std::nullopt;
        out += static_cast<char>(b);
    }
    return out;
}

} // namespace quire::inference::tok
