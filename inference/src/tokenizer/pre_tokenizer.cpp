#include "tokenizer/pre_tokenizer.h"

#include <array>

namespace quire::inference::tok {

namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// The regular expressions the matchers below implement, as published with each tokenizer.
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kO200kRegex =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek-Coder: isolating splits by [\r\n], \s?\p{L}+, \s?\p{P}+, [一-龥ࠀ-一가-퟿]+ in turn,
// then single digits.
constexpr std::string_view kDeepseekCoderRegex =
    R"([\r\n] | \s?\p{L}+ | \s?\p{P}+ | [一-龥ࠀ-一가-퟿]+ | \p{N})";

class Matcher {
public:
    Matcher(const DecodedText& t, std::size_t end) : m_cps(t.cps.data()), m_cls(t.cls.data()), m_end(end) {}

    bool has(std::size_t i, std::uint8_t bits) const { return i < m_end && (m_cls[i] & bits); }
    bool isOther(std::size_t i) const { return i < m_end && !(m_cls[i] & (kLetter | kNumber | kSpace)); }
    bool isSpaceChar(std::size_t i) const { return i < m_end && m_cps[i] == ' '; }

    std::size_t run(std::size_t i, std::uint8_t bits) const
    {
        while (i < m_end && (m_cls[i] & bits))
            ++i;
        return i;
    }
    std::size_t runOther(std::size_t i) const
    {
        while (isOther(i))
            ++i;
        return i;
    }

    // 's|'t|'re|'ve|'m|'ll|'d at i; returns its length in characters, 0 if none. Caseless
    // matching follows Unicode simple case folding (so U+017F LONG S matches s).
    std::size_t contraction(std::size_t i, bool caseless) const
    {
        if (i + 1 >= m_end || m_cps[i] != '\'')
            return 0;
        auto fold = [&](std::size_t k) -> std::uint32_t {
            std::uint32_t c = m_cps[k];
            if (!caseless)
                return c;
            if (c >= 'A' && c <= 'Z')
                return c + 32;
            return c == 0x17F ? 's' : c;
        };
        const auto c1 = fold(i + 1);
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
            return 2;
        if (i + 2 < m_end) {
            const auto c2 = fold(i + 2);
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                return 3;
        }
        return 0;
    }

    // \s+(?!\S)|\s+ at a whitespace character i.
    std::size_t trailingSpace(std::size_t i) const
    {
        const std::size_t w = run(i, kSpace);
        return (w == m_end || w - i == 1) ? w : w - 1;
    }

    // \s*[\r\n]+ at i: through the last newline of the whitespace run, or kNone.
    std::size_t spaceThroughNewline(std::size_t i) const
    {
        const std::size_t w = run(i, kSpace);
        for (std::size_t q = w; q > i; --q)
            if (m_cls[q - 1] & kNewline)
                return q;
        return kNone;
    }

    std::size_t gpt2(std::size_t i) const
    {
        if (const auto k = contraction(i, false))
            return i + k;
        const bool sp = isSpaceChar(i);
        for (const std::uint8_t bits : {std::uint8_t(kLetter), std::uint8_t(kNumber)}) {
            if (sp && has(i + 1, bits))
                return run(i + 1, bits);
            if (has(i, bits))
                return run(i, bits);
        }
        if (sp && isOther(i + 1))
            return runOther(i + 1);
        if (isOther(i))
            return runOther(i);
        return trailingSpace(i);
    }

    // Llama 3 (maxDigits 3) and Qwen2 (maxDigits 1).
    std::size_t llama3(std::size_t i, std::size_t maxDigits) const
    {
        if (const auto k = contraction(i, true))
            return i + k;
        if (!(m_cls[i] & (kNewline | kLetter | kNumber)) && has(i + 1, kLetter))
            return run(i + 1, kLetter);
        if (m_cls[i] & kLetter)
            return run(i, kLetter);
        if (m_cls[i] & kNumber) {
            std::size_t j = i;
            while (j < m_end && j - i < maxDigits && (m_cls[j] & kNumber))
                ++j;
            return j;
        }
        const std::size_t start = (isSpaceChar(i) && isOther(i + 1)) ? i + 1 : isOther(i) ? i : kNone;
        if (start != kNone)
            return run(runOther(start), kNewline);
        if (const auto q = spaceThroughNewline(i); q != kNone)
            return q;
        return trailingSpace(i);
    }

    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ from s, with the backtracking of
    // the greedy first star: the lowest-case run may start inside the upper-case run.
    std::size_t o200kLowerTail(std::size_t s) const
    {
        const std::size_t u = run(s, kUpperish);
        for (std::size_t p = u + 1; p-- > s;) {
            if (has(p, kLowerish)) {
                const std::size_t e = run(p, kLowerish);
                return e + contraction(e, true);
            }
        }
        return kNone;
    }
    // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* from s.
    std::size_t o200kUpperHead(std::size_t s) const
    {
        if (!has(s, kUpperish))
            return kNone;
        const std::size_t e = run(run(s, kUpperish), kLowerish);
        return e + contraction(e, true);
    }

    std::size_t o200k(std::size_t i) const
    {
        const bool prefix = !(m_cls[i] & (kNewline | kLetter | kNumber)) && i + 1 < m_end;
        std::size_t e = kNone;
        if (prefix && (e = o200kLowerTail(i + 1)) != kNone)
            return e;
        if ((e = o200kLowerTail(i)) != kNone)
            return e;
        if (prefix && (e = o200kUpperHead(i + 1)) != kNone)
            return e;
        if ((e = o200kUpperHead(i)) != kNone)
            return e;
        if (m_cls[i] & kNumber) {
            std::size_t j = i;
            while (j < m_end && j - i < 3 && (m_cls[j] & kNumber))
                ++j;
            return j;
        }
        const std::size_t start = (isSpaceChar(i) && isOther(i + 1)) ? i + 1 : isOther(i) ? i : kNone;
        if (start != kNone) {
            std::size_t j = runOther(start);
            while (j < m_end && ((m_cls[j] & kNewline) || m_cps[j] == '/'))
                ++j;
            return j;
        }
        if (const auto q = spaceThroughNewline(i); q != kNone)
            return q;
        return trailingSpace(i);
    }

    // DeepSeek-Coder's isolating splits, each anchored at i; kNone when it does not match.
    std::size_t deepseekStage(int stage, std::size_t i) const
    {
        switch (stage) {
        case 0:
            return (m_cls[i] & kNewline) ? i + 1 : kNone;
        case 1:
        case 2: {
            const std::uint8_t bits = stage == 1 ? kLetter : kPunct;
            if ((m_cls[i] & kSpace) && has(i + 1, bits))
                return run(i + 1, bits);
            return (m_cls[i] & bits) ? run(i, bits) : kNone;
        }
        case 3: {
            auto cjk = [&](std::size_t k) {
                const auto c = m_cps[k];
                return (c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF);
            };
            std::size_t j = i;
            while (j < m_end && cjk(j))
                ++j;
            return j > i ? j : kNone;
        }
        default:
            return (m_cls[i] & kNumber) ? i + 1 : kNone;
        }
    }

private:
    const std::uint32_t* m_cps;
    const std::uint8_t* m_cls;
    std::size_t m_end;
};

// Splits [begin, end) into consecutive matches of `match` (a total matcher: always advances).
template <typename F>
void splitTotal(const DecodedText& t, std::size_t begin, std::size_t end, F match, std::vector<Piece>& out)
{
    std::size_t i = begin;
    while (i < end) {
        const std::size_t e = match(i);
        out.emplace_back(t.offsets[i], t.offsets[e]);
        i = e;
    }
}

// One "isolated" split stage over character ranges: matches and the gaps between them both
// become ranges.
template <typename F>
void isolate(const std::vector<std::pair<std::size_t, std::size_t>>& in, F match,
             std::vector<std::pair<std::size_t, std::size_t>>& out)
{
    out.clear();
    for (const auto& [b, e] : in) {
        std::size_t gap = b;
        std::size_t i = b;
        while (i < e) {
            const std::size_t m = match(i, e);
            if (m == kNone) {
                ++i;
                continue;
            }
            if (gap < i)
                out.emplace_back(gap, i);
            out.emplace_back(i, m);
            i = gap = m;
        }
        if (gap < e)
            out.emplace_back(gap, e);
    }
}

} // namespace

const char* toString(SplitPattern p)
{
    switch (p) {
    case SplitPattern::Gpt2:
        return "gpt-2";
    case SplitPattern::Llama3:
        return "llama3";
    case SplitPattern::Qwen2:
        return "qwen2";
    case SplitPattern::O200k:
        return "o200k (llama4)";
    case SplitPattern::DeepseekCoder:
        return "deepseek-coder";
    case SplitPattern::DigitsThenGpt2:
        return "digits + gpt-2";
    case SplitPattern::None:
        return "none";
    }
    return "?";
}

std::string_view regexOf(SplitPattern p)
{
    switch (p) {
    case SplitPattern::Gpt2:
        return kGpt2Regex;
    case SplitPattern::Llama3:
        return kLlama3Regex;
    case SplitPattern::Qwen2:
        return kQwen2Regex;
    case SplitPattern::O200k:
        return kO200kRegex;
    case SplitPattern::DeepseekCoder:
        return kDeepseekCoderRegex;
    case SplitPattern::DigitsThenGpt2:
        return kGpt2Regex;
    case SplitPattern::None:
        return {};
    }
    return {};
}

std::optional<SplitPattern> splitPatternFromGgufPre(std::string_view pre)
{
    static constexpr std::array<std::pair<std::string_view, SplitPattern>, 27> names = {{
        {"llama-bpe", SplitPattern::Llama3},
        {"llama3", SplitPattern::Llama3},
        {"llama-v3", SplitPattern::Llama3},
        {"dbrx", SplitPattern::Llama3},
        {"smaug-bpe", SplitPattern::Llama3},
        {"gpt-2", SplitPattern::Gpt2},
        {"phi-2", SplitPattern::Gpt2},
        {"mpt", SplitPattern::Gpt2},
        {"olmo", SplitPattern::Gpt2},
        {"jais", SplitPattern::Gpt2},
        {"roberta-bpe", SplitPattern::Gpt2},
        {"jina-es", SplitPattern::Gpt2},
        {"jina-de", SplitPattern::Gpt2},
        {"jina-v2-es", SplitPattern::Gpt2},
        {"jina-v2-de", SplitPattern::Gpt2},
        {"jina-v2-code", SplitPattern::Gpt2},
        {"qwen2", SplitPattern::Qwen2},
        {"stablelm2", SplitPattern::Qwen2},
        {"deepseek-r1-qwen", SplitPattern::Qwen2},
        {"deepseek-coder", SplitPattern::DeepseekCoder},
        {"smollm", SplitPattern::DigitsThenGpt2},
        {"starcoder", SplitPattern::DigitsThenGpt2},
        {"refact", SplitPattern::DigitsThenGpt2},
        {"command-r", SplitPattern::DigitsThenGpt2},
        {"codeshell", SplitPattern::DigitsThenGpt2},
        {"exaone", SplitPattern::DigitsThenGpt2},
        {"llama4", SplitPattern::O200k},
    }};
    for (const auto& [name, p] : names)
        if (name == pre)
            return p;
    return std::nullopt;
}

void preTokenize(SplitPattern pattern, const DecodedText& t, std::vector<Piece>& out)
{
    const std::size_t n = t.size();
    if (n == 0)
        return;
    const Matcher m(t, n);
    switch (pattern) {
    case SplitPattern::Gpt2:
        splitTotal(
            t, 0, n, [&](std::size_t i) { return m.gpt2(i); }, out);
        return;
    case SplitPattern::Llama3:
        splitTotal(
            t, 0, n, [&](std::size_t i) { return m.llama3(i, 3); }, out);
        return;
    case SplitPattern::Qwen2:
        splitTotal(
            t, 0, n, [&](std::size_t i) { return m.llama3(i, 1); }, out);
        return;
    case SplitPattern::O200k:
        splitTotal(
            t, 0, n, [&](std::size_t i) { return m.o200k(i); }, out);
        return;
    case SplitPattern::None:
        out.emplace_back(0, t.offsets[n]);
        return;
    case SplitPattern::DigitsThenGpt2: {
        // Each digit is a piece; GPT-2's expression runs on the text between digits (so its
        // look-ahead sees a digit boundary as the end of the text).
        std::size_t i = 0;
        while (i < n) {
            if (t.cls[i] & kNumber) {
                out.emplace_back(t.offsets[i], t.offsets[i + 1]);
                ++i;
                continue;
            }
            std::size_t j = i;
            while (j < n && !(t.cls[j] & kNumber))
                ++j;
            const Matcher sub(t, j);
            splitTotal(
                t, i, j, [&](std::size_t k) { return sub.gpt2(k); }, out);
            i = j;
        }
        return;
    }
    case SplitPattern::DeepseekCoder: {
        std::vector<std::pair<std::size_t, std::size_t>> a{{0, n}}, b;
        for (int stage = 0; stage < 5; ++stage) {
            isolate(
                a,
                [&](std::size_t i, std::size_t end) {
                    const Matcher sub(t, end);
                    return sub.deepseekStage(stage, i);
                },
                b);
            a.swap(b);
        }
        for (const auto& [b0, e0] : a)
            out.emplace_back(t.offsets[b0], t.offsets[e0]);
        return;
    }
    }
}

} // namespace quire::inference::tok
