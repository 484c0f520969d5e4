#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>

namespace quire::inference::tok {

namespace {

struct CategoryRun {
    std::uint32_t first;
    std::uint8_t category;
};

#include "tokenizer/unicode_tables.inc"

constexpr std::uint32_t kMaxCp = 0x10FFFF;
constexpr int kBlockBits = 7; // 128 code points per block in the two-stage class table

std::uint8_t classOfCategory(UnicodeCategory c)
{
    using C = UnicodeCategory;
    switch (c) {
    case C::Lu:
    case C::Lt:
        return kLetter | kUpperish;
    case C::Ll:
        return kLetter | kLowerish;
    case C::Lm:
    case C::Lo:
        return kLetter | kUpperish | kLowerish;
    case C::Mn:
    case C::Mc:
    case C::Me:
        return kUpperish | kLowerish;
    case C::Nd:
    case C::Nl:
    case C::No:
        return kNumber;
    case C::Pc:
    case C::Pd:
    case C::Ps:
    case C::Pe:
    case C::Pi:
    case C::Pf:
    case C::Po:
        return kPunct;
    default:
        return 0;
    }
}

// Two-stage table: stage1[cp >> 7] names a 128-entry block of class bytes in stage2. Built once
// from the run table (a few hundred distinct blocks).
struct ClassTable {
    std::vector<std::uint16_t> stage1;
    std::vector<std::uint8_t> stage2;

    ClassTable()
    {
        const std::size_t blocks = (kMaxCp + 1) >> kBlockBits;
        stage1.resize(blocks);
        std::vector<std::uint8_t> block(1 << kBlockBits);
        std::map<std::string, std::size_t> seen;
        std::size_t run = 0;
        const std::size_t runs = std::size(kCategoryRuns);
        for (std::size_t b = 0; b < blocks; ++b) {
            for (std::uint32_t k = 0; k < block.size(); ++k) {
                const std::uint32_t cp = static_cast<std::uint32_t>(b << kBlockBits) + k;
                while (run + 1 < runs && kCategoryRuns[run + 1].first <= cp)
                    ++run;
                std::uint8_t cls = classOfCategory(static_cast<UnicodeCategory>(kCategoryRuns[run].category));
                if (isWhitespace(cp))
                    cls |= kSpace;
                if (cp == '\r' || cp == '\n')
                    cls |= kNewline;
                block[k] = cls;
            }
            // Reuse an identical earlier block: most of the code space repeats a few blocks.
            const std::string key(block.begin(), block.end());
            auto [it, fresh] = seen.try_emplace(key, stage2.size());
            if (fresh)
                stage2.insert(stage2.end(), block.begin(), block.end());
            const std::size_t found = it->second;
            stage1[b] = static_cast<std::uint16_t>(found >> kBlockBits);
        }
    }
};

const ClassTable& classTable()
{
    static const ClassTable table;
    return table;
}

} // namespace

UnicodeCategory category(std::uint32_t cp)
{
    if (cp > kMaxCp)
        return UnicodeCategory::Cn;
    const auto* end = std::end(kCategoryRuns);
    const auto* it = std::upper_bound(std::begin(kCategoryRuns), end, cp,
                                      [](std::uint32_t v, const CategoryRun& r) { return v < r.first; });
    return static_cast<UnicodeCategory>((it - 1)->category);
}

bool isWhitespace(std::uint32_t cp)
{
    // White_Space (PropList.txt); unchanged since Unicode 6.3.
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

std::uint8_t charClass(std::uint32_t cp)
{
    if (cp > kMaxCp)
        return 0;
    const auto& t = classTable();
    return t
        .stage2[(std::size_t(t.stage1[cp >> kBlockBits]) << kBlockBits) | (cp & ((1u << kBlockBits) - 1))];
}

void DecodedText::decode(std::string_view text)
{
    const auto& t = classTable();
    cps.clear();
    cls.clear();
    offsets.clear();
    cps.reserve(text.size());
    cls.reserve(text.size());
    offsets.reserve(text.size() + 1);
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        std::uint32_t cp = s[i];
        std::size_t len = 1;
        if (cp >= 0x80) {
            const int want = utf8SequenceLength(s[i]);
            bool ok = want > 1 && i + want <= n;
            if (ok) {
                cp = want == 2 ? (s[i] & 0x1F) : want == 3 ? (s[i] & 0x0F) : (s[i] & 0x07);
                for (int k = 1; k < want && ok; ++k) {
                    ok = (s[i + k] & 0xC0) == 0x80;
                    cp = (cp << 6) | (s[i + k] & 0x3F);
                }
                static constexpr std::uint32_t minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
                ok = ok && cp >= minimum[want] && cp <= kMaxCp && !(cp >= 0xD800 && cp <= 0xDFFF);
            }
            if (ok) {
                len = static_cast<std::size_t>(want);
            } else {
                cp = 0xFFFD; // one invalid byte: a symbol-class character of its own
            }
        }
        cps.push_back(cp);
        cls.push_back(len == 1 && cp == 0xFFFD
                          ? std::uint8_t(0)
                          : t.stage2[(std::size_t(t.stage1[cp >> kBlockBits]) << kBlockBits) |
                                     (cp & ((1u << kBlockBits) - 1))]);
        offsets.push_back(static_cast<std::uint32_t>(i));
        i += len;
    }
    offsets.push_back(static_cast<std::uint32_t>(n));
}

Utf8Scan scanUtf8(std::string_view bytes)
{
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char b = s[i];
        if (b < 0x80) {
            ++i;
            continue;
        }
        int want = 0;
        std::uint32_t lo = 0x80, hi = 0xBF; // allowed range of the second byte
        if (b >= 0xC2 && b <= 0xDF) {
            want = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            want = 3;
            if (b == 0xE0)
                lo = 0xA0;
            if (b == 0xED)
                hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            want = 4;
            if (b == 0xF0)
                lo = 0x90;
            if (b == 0xF4)
                hi = 0x8F;
        } else {
            return {i, true};
        }
        for (int k = 1; k < want; ++k) {
            if (i + k >= n)
                return {i, false}; // incomplete so far, may still complete
            const unsigned char c = s[i + k];
            const bool ok = k == 1 ? (c >= lo && c <= hi) : (c & 0xC0) == 0x80;
            if (!ok)
                return {i, true};
        }
        i += static_cast<std::size_t>(want);
    }
    return {n, false};
}

} // namespace quire::inference::tok
