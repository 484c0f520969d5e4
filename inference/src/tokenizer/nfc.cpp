#include "tokenizer/nfc.h"

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "tokenizer/unicode.h"

namespace quire::inference::tok {

namespace {

struct CombiningRun {
    std::uint32_t first;
    std::uint8_t ccc;
};
struct Decomposition {
    std::uint32_t cp, first, second;
    std::uint8_t composes;
};

#include "tokenizer/unicode_normalization.inc"

constexpr std::uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr std::uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr std::uint32_t kSCount = kLCount * kNCount;

struct Tables {
    std::unordered_map<std::uint32_t, std::pair<std::uint32_t, std::uint32_t>> decompose;
    std::unordered_map<std::uint64_t, std::uint32_t> compose;
    std::vector<bool> unsafe; // NFC_Quick_Check not Yes, or a non-zero combining class

    Tables() : unsafe(0x110000, false)
    {
        for (const auto& d : kDecompositions) {
            decompose.emplace(d.cp, std::make_pair(d.first, d.second));
            if (d.composes) {
                compose.emplace((std::uint64_t(d.first) << 32) | d.second, d.cp);
                unsafe[d.second] = true; // may combine with what precedes it
            } else {
                unsafe[d.cp] = true; // never appears in NFC
            }
        }
        for (std::size_t i = 0; i < std::size(kCombiningRuns); ++i) {
            if (kCombiningRuns[i].ccc == 0)
                continue;
            const std::uint32_t end =
                i + 1 < std::size(kCombiningRuns) ? kCombiningRuns[i + 1].first : 0x110000;
            for (std::uint32_t cp = kCombiningRuns[i].first; cp < end; ++cp)
                unsafe[cp] = true;
        }
        for (std::uint32_t cp = kVBase; cp < kVBase + kVCount; ++cp)
            unsafe[cp] = true;
        for (std::uint32_t cp = kTBase + 1; cp < kTBase + kTCount; ++cp)
            unsafe[cp] = true;
    }
};

const Tables& tables()
{
    static const Tables t;
    return t;
}

std::uint8_t combiningClass(std::uint32_t cp)
{
    const auto* it = std::upper_bound(std::begin(kCombiningRuns), std::end(kCombiningRuns), cp,
                                      [](std::uint32_t v, const CombiningRun& r) { return v < r.first; });
    return (it - 1)->ccc;
}

void decomposeInto(std::uint32_t cp, std::vector<std::uint32_t>& out)
{
    if (cp >= kSBase && cp < kSBase + kSCount) {
        const std::uint32_t s = cp - kSBase;
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount)
            out.push_back(kTBase + s % kTCount);
        return;
    }
    const auto& t = tables();
    const auto it = t.decompose.find(cp);
    if (it == t.decompose.end()) {
        out.push_back(cp);
        return;
    }
    decomposeInto(it->second.first, out);
    if (it->second.second)
        decomposeInto(it->second.second, out);
}

std::uint32_t composePair(std::uint32_t a, std::uint32_t b)
{
    if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
        return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
        b < kTBase + kTCount)
        return a + (b - kTBase);
    const auto& t = tables();
    const auto it = t.compose.find((std::uint64_t(a) << 32) | b);
    return it == t.compose.end() ? 0 : it->second;
}

// NFC of a run of code points, appended to out as UTF-8.
void normalizeRun(const std::vector<std::uint32_t>& cps, std::string& out)
{
    std::vector<std::uint32_t> d;
    d.reserve(cps.size() + 8);
    for (const auto cp : cps)
        decomposeInto(cp, d);
    std::vector<std::uint8_t> cc(d.size());
    for (std::size_t i = 0; i < d.size(); ++i)
        cc[i] = combiningClass(d[i]);
    // Canonical ordering: stable sort of each run of non-starters by class.
    for (std::size_t i = 0; i < d.size();) {
        if (cc[i] == 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < d.size() && cc[j] != 0)
            ++j;
        for (std::size_t a = i + 1; a < j; ++a)
            for (std::size_t b = a; b > i && cc[b - 1] > cc[b]; --b) {
                std::swap(cc[b - 1], cc[b]);
                std::swap(d[b - 1], d[b]);
            }
        i = j;
    }
    // Canonical composition.
    std::vector<std::uint32_t> r;
    r.reserve(d.size());
    std::ptrdiff_t starter = -1;
    std::uint8_t lastClass = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
        const bool adjacent = starter >= 0 && static_cast<std::size_t>(starter) + 1 == r.size();
        if (starter >= 0 && (adjacent || (lastClass != 0 && lastClass < cc[i])))
            if (const auto c = composePair(r[static_cast<std::size_t>(starter)], d[i])) {
                r[static_cast<std::size_t>(starter)] = c;
                continue;
            }
        if (cc[i] == 0)
            starter = static_cast<std::ptrdiff_t>(r.size());
        lastClass = cc[i];
        r.push_back(d[i]);
    }
    for (const auto cp : r)
        appendUtf8(out, cp);
}

} // namespace

bool isNfcQuick(std::string_view text)
{
    std::size_t i = 0;
    while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80)
        ++i;
    if (i == text.size())
        return true;
    DecodedText d;
    d.decode(text.substr(i));
    const auto& t = tables();
    for (const auto cp : d.cps)
        if (t.unsafe[cp])
            return false;
    return true;
}

std::string toNfc(std::string_view text)
{
    DecodedText d;
    d.decode(text);
    std::string out;
    out.reserve(text.size());
    std::vector<std::uint32_t> run;
    for (std::size_t i = 0; i < d.size(); ++i) {
        const std::uint32_t len = d.offsets[i + 1] - d.offsets[i];
        const bool invalid = len == 1 && d.cps[i] >= 0x80;
        if (invalid) {
            normalizeRun(run, out);
            run.clear();
            out += text[d.offsets[i]];
            continue;
        }
        run.push_back(d.cps[i]);
    }
    normalizeRun(run, out);
    return out;
}

} // namespace quire::inference::tok
