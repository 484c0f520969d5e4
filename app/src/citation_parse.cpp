// Parsing citation marks and sentences out of an answer (citation.h).
#include <algorithm>
#include <cctype>
#include <optional>

#include "quire/app/citation.h"
#include "quire/app/text_match.h"

namespace quire::app {

namespace {

constexpr std::size_t kMaxMarkBytes = 1200;  // a bracket longer than this is not a mark
constexpr std::size_t kMaxQuoteBytes = 1500; // an outside quote longer than this is not taken

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool startsWithNoCase(std::string_view s, std::size_t at, std::string_view word)
{
    if (s.size() - std::min(at, s.size()) < word.size())
        return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[at + i])) != static_cast<unsigned char>(word[i]))
            return false;
    }
    return true;
}

bool isDigit(std::string_view s, std::size_t at)
{
    return at < s.size() && s[at] >= '0' && s[at] <= '9';
}

// Quote characters: the opening text and the closing texts that may end it.
struct QuotePair {
    std::string_view open;
    std::string_view close1;
    std::string_view close2;
};
constexpr QuotePair kQuotes[] = {
    {"\"", "\"", "\""},
    {"\xE2\x80\x9C", "\xE2\x80\x9D", "\""},           // “ ” (or a stray straight close)
    {"\xE2\x80\x9E", "\xE2\x80\x9C", "\xE2\x80\x9D"}, // „ “ / „ ”
    {"\xC2\xAB", "\xC2\xBB", "\xC2\xBB"},             // « »
};

// A quote opening at `at`: its inner text range [innerBegin, innerEnd) and the end of the
// closing character.
struct QuoteSpan {
    std::size_t innerBegin = 0, innerEnd = 0, end = 0;
};

std::optional<QuoteSpan> quoteAt(std::string_view s, std::size_t at, std::size_t limit)
{
    for (const auto& q : kQuotes) {
        if (s.substr(at, q.open.size()) != q.open)
            continue;
        const std::size_t inner = at + q.open.size();
        const std::size_t stop = std::min(s.size(), inner + limit);
        for (std::size_t i = inner; i < stop; ++i) {
            for (std::string_view close : {q.close1, q.close2}) {
                if (s.substr(i, close.size()) == close)
                    return QuoteSpan{inner, i, i + close.size()};
            }
        }
        return std::nullopt;
    }
    return std::nullopt;
}

// A quote that ends right at `end` (exclusive), searched backwards.
std::optional<QuoteSpan> quoteEndingAt(std::string_view s, std::size_t end)
{
    for (const auto& q : kQuotes) {
        for (std::string_view close : {q.close1, q.close2}) {
            if (end < close.size() || s.substr(end - close.size(), close.size()) != close)
                continue;
            const std::size_t innerEnd = end - close.size();
            const std::size_t floor = innerEnd > kMaxQuoteBytes ? innerEnd - kMaxQuoteBytes : 0;
            for (std::size_t i = innerEnd; i > floor; --i) {
                const std::size_t o = i - 1;
                if (s.substr(o, 2) == "\n\n")
                    break;
                if (o + q.open.size() <= innerEnd && s.substr(o, q.open.size()) == q.open)
                    return QuoteSpan{o + q.open.size(), innerEnd, end};
            }
        }
    }
    return std::nullopt;
}

// Reads "doc", "docs", "document" (any case) and a number; returns the position after it.
std::optional<std::size_t> readDocNumber(std::string_view s, std::size_t i, int& number)
{
    while (i < s.size() && isSpace(s[i]))
        ++i;
    std::size_t k = 0;
    if (startsWithNoCase(s, i, "document"))
        k = 8;
    else if (startsWithNoCase(s, i, "docs"))
        k = 4;
    else if (startsWithNoCase(s, i, "doc"))
        k = 3;
    else
        return std::nullopt;
    i += k;
    if (i < s.size() && s[i] == '.')
        ++i;
    while (i < s.size() && (isSpace(s[i]) || s[i] == '#'))
        ++i;
    if (!isDigit(s, i))
        return std::nullopt;
    long long v = 0;
    while (isDigit(s, i) && v < 100000000) {
        v = v * 10 + (s[i] - '0');
        ++i;
    }
    if (isDigit(s, i))
        return std::nullopt;
    number = int(v);
    return i;
}

std::optional<std::size_t> readInt(std::string_view s, std::size_t i, int& out)
{
    if (!isDigit(s, i))
        return std::nullopt;
    long long v = 0;
    while (isDigit(s, i) && v < 100000000) {
        v = v * 10 + (s[i] - '0');
        ++i;
    }
    out = int(v);
    return i;
}

// A dash of a range: '-', en dash, em dash, or "to", with spaces around.
std::optional<std::size_t> readDash(std::string_view s, std::size_t i)
{
    while (i < s.size() && s[i] == ' ')
        ++i;
    if (i < s.size() && s[i] == '-')
        ++i;
    else if (s.substr(i, 3) == "\xE2\x80\x93" || s.substr(i, 3) == "\xE2\x80\x94")
        i += 3;
    else if (startsWithNoCase(s, i, "to "))
        i += 2;
    else
        return std::nullopt;
    while (i < s.size() && s[i] == ' ')
        ++i;
    return i;
}

// "12:31", "00:12:31", "1:02:03.5" -> milliseconds.
std::optional<std::size_t> readTime(std::string_view s, std::size_t i, std::int64_t& ms)
{
    int parts[3] = {0, 0, 0};
    int n = 0;
    std::size_t p = i;
    while (n < 3) {
        int v = 0;
        const std::size_t start = p;
        auto next = readInt(s, p, v);
        if (!next || *next - start > 2)
            return std::nullopt;
        parts[n++] = v;
        p = *next;
        if (p < s.size() && s[p] == ':' && isDigit(s, p + 1))
            ++p;
        else
            break;
    }
    if (n < 2)
        return std::nullopt;
    if (p < s.size() && s[p] == '.' && isDigit(s, p + 1)) {
        ++p;
        while (isDigit(s, p))
            ++p;
    }
    const std::int64_t secs = n == 3 ? std::int64_t(parts[0]) * 3600 + parts[1] * 60 + parts[2]
                                     : std::int64_t(parts[0]) * 60 + parts[1];
    ms = secs * 1000;
    return p;
}

// A range of integers after a prefix: "120-140", "120", "120-L140", "4 to 5".
std::optional<std::size_t> readRange(std::string_view s, std::size_t i, int& first, int& last,
                                     std::string_view repeatPrefix)
{
    while (i < s.size() && s[i] == ' ')
        ++i;
    auto p = readInt(s, i, first);
    if (!p)
        return std::nullopt;
    last = first;
    if (auto d = readDash(s, *p)) {
        std::size_t j = *d;
        if (!repeatPrefix.empty() && startsWithNoCase(s, j, repeatPrefix))
            j += repeatPrefix.size();
        int second = 0;
        if (auto q = readInt(s, j, second)) {
            last = std::max(first, second);
            return q;
        }
    }
    return p;
}

// The place after a document number. Returns the position after it, or nullopt when the text
// there is not a place this parser knows.
std::optional<std::size_t> readLocator(std::string_view s, std::size_t i, Locator& where)
{
    // Longest keywords first.
    struct Key {
        std::string_view word;
        Locator::Kind kind;
        std::string_view repeat;
    };
    static constexpr Key kKeys[] = {
        {"pages", Locator::Kind::Page, "p"},        {"page", Locator::Kind::Page, "p"},
        {"pp.", Locator::Kind::Page, "p"},          {"pp", Locator::Kind::Page, "p"},
        {"p.", Locator::Kind::Page, "p"},           {"p", Locator::Kind::Page, "p"},
        {"lines", Locator::Kind::Lines, "l"},       {"line", Locator::Kind::Lines, "l"},
        {"ll.", Locator::Kind::Lines, "l"},         {"l.", Locator::Kind::Lines, "l"},
        {"l", Locator::Kind::Lines, "l"},           {"paragraph", Locator::Kind::Paragraph, ""},
        {"para.", Locator::Kind::Paragraph, ""},    {"para", Locator::Kind::Paragraph, ""},
        {"\xC2\xB6", Locator::Kind::Paragraph, ""},
    };
    for (const auto& k : kKeys) {
        if (!startsWithNoCase(s, i, k.word))
            continue;
        std::size_t j = i + k.word.size();
        while (j < s.size() && s[j] == ' ')
            ++j;
        if (!isDigit(s, j))
            continue;
        Locator l;
        l.kind = k.kind;
        auto end = readRange(s, j, l.first, l.last, k.repeat);
        if (!end || l.first <= 0)
            return std::nullopt;
        if (l.kind == Locator::Kind::Paragraph)
            l.last = l.first;
        where = l;
        return end;
    }
    std::size_t j = i;
    if (startsWithNoCase(s, j, "at "))
        j += 3;
    std::int64_t ms = 0;
    if (auto end = readTime(s, j, ms)) {
        where = Locator{};
        where.kind = Locator::Kind::Time;
        where.beginMs = where.endMs = ms;
        if (auto d = readDash(s, *end)) {
            std::int64_t ms2 = 0;
            if (auto e2 = readTime(s, *d, ms2)) {
                where.endMs = std::max(ms, ms2);
                return e2;
            }
        }
        return end;
    }
    return std::nullopt;
}

std::size_t skipSeparators(std::string_view s, std::size_t i)
{
    while (i < s.size() && (isSpace(s[i]) || s[i] == ',' || s[i] == ':'))
        ++i;
    return i;
}

// The end of a bracket opened at `open` with closing char `close`, skipping quoted text.
std::optional<std::size_t> bracketEnd(std::string_view s, std::size_t open, char close)
{
    std::size_t i = open + 1;
    const std::size_t stop = std::min(s.size(), open + kMaxMarkBytes);
    while (i < stop) {
        if (s[i] == close)
            return i;
        if (s[i] == '\n')
            return std::nullopt;
        if (auto q = quoteAt(s, i, kMaxMarkBytes)) {
            i = q->end;
            continue;
        }
        ++i;
    }
    return std::nullopt;
}

struct Mark {
    std::size_t begin = 0, end = 0; // brackets included
    std::vector<Citation> parts;
    bool hasInnerQuote = false;
};

std::optional<Mark> parseMark(std::string_view s, std::size_t open)
{
    const char close = s[open] == '[' ? ']' : ')';
    auto closeAt = bracketEnd(s, open, close);
    if (!closeAt)
        return std::nullopt;
    const std::string_view body = s.substr(0, *closeAt); // positions stay absolute
    Mark mark;
    mark.begin = open;
    mark.end = *closeAt + 1;
    std::size_t i = open + 1;
    while (true) {
        int number = 0;
        const std::size_t partBegin = i;
        auto afterNumber = readDocNumber(body, i, number);
        if (!afterNumber)
            break;
        Citation c;
        c.offset = mark.begin;
        c.length = mark.end - mark.begin;
        c.docNumber = number;
        i = skipSeparators(body, *afterNumber);
        if (i < body.size() && !quoteAt(body, i, kMaxMarkBytes) && body[i] != ';' &&
            !startsWithNoCase(body, i, "doc") && !startsWithNoCase(body, i, "and ")) {
            if (auto end = readLocator(body, i, c.where)) {
                i = *end;
            } else {
                c.malformed = true;
                while (i < body.size() && body[i] != ';' && !quoteAt(body, i, kMaxMarkBytes))
                    ++i;
            }
        }
        i = skipSeparators(body, i);
        if (i < body.size() && (body[i] == '-' || s.substr(i, 3) == "\xE2\x80\x94"))
            i = skipSeparators(body, i + (body[i] == '-' ? 1 : 3));
        if (auto q = quoteAt(body, i, kMaxMarkBytes)) {
            c.quote = std::string(body.substr(q->innerBegin, q->innerEnd - q->innerBegin));
            mark.hasInnerQuote = true;
            i = q->end;
        }
        std::size_t partEnd = i;
        while (partEnd > partBegin && isSpace(body[partEnd - 1]))
            --partEnd;
        std::size_t rawBegin = partBegin;
        while (rawBegin < partEnd && isSpace(body[rawBegin]))
            ++rawBegin;
        c.raw = std::string(body.substr(rawBegin, partEnd - rawBegin));
        mark.parts.push_back(std::move(c));
        // Another citation in the same bracket?
        while (i < body.size() && (isSpace(body[i]) || body[i] == ',' || body[i] == ';' || body[i] == '&'))
            ++i;
        if (startsWithNoCase(body, i, "and "))
            i += 4;
        if (i >= body.size())
            break;
    }
    if (mark.parts.empty())
        return std::nullopt;
    return mark;
}

std::vector<Mark> findMarks(std::string_view s)
{
    std::vector<Mark> marks;
    std::size_t i = 0;
    while (i < s.size()) {
        if (s[i] == '[' || s[i] == '(') {
            if (auto m = parseMark(s, i)) {
                i = m->end;
                marks.push_back(std::move(*m));
                continue;
            }
        }
        ++i;
    }
    return marks;
}

bool isSentenceEnd(std::string_view s, std::size_t i)
{
    const char c = s[i];
    if (c == '\n')
        return true;
    if (c != '.' && c != '!' && c != '?')
        return false;
    std::size_t j = i + 1;
    // Closing quotes or brackets may follow the stop.
    while (j < s.size() && (s[j] == '"' || s[j] == ')' || s[j] == '\''))
        ++j;
    if (s.substr(j, 3) == "\xE2\x80\x9D")
        j += 3;
    return j >= s.size() || isSpace(s[j]);
}

std::vector<Sentence> sentencesOfMasked(std::string_view masked)
{
    std::vector<Sentence> out;
    std::size_t begin = 0;
    auto push = [&](std::size_t b, std::size_t e) {
        while (b < e && isSpace(masked[b]))
            ++b;
        while (e > b && isSpace(masked[e - 1]))
            --e;
        if (e > b)
            out.push_back({b, e});
    };
    for (std::size_t i = 0; i < masked.size(); ++i) {
        if (isSentenceEnd(masked, i)) {
            push(begin, i + 1);
            begin = i + 1;
        }
    }
    push(begin, masked.size());
    return out;
}

std::string maskMarks(std::string_view s, const std::vector<Mark>& marks)
{
    std::string masked(s);
    for (const auto& m : marks)
        std::fill(masked.begin() + std::ptrdiff_t(m.begin), masked.begin() + std::ptrdiff_t(m.end), '#');
    return masked;
}

bool onlyMarkBefore(std::string_view masked, std::size_t sentenceBegin, std::size_t markBegin)
{
    for (std::size_t i = sentenceBegin; i < markBegin; ++i) {
        if (!isSpace(masked[i]) && masked[i] != '#' && masked[i] != '"')
            return false;
    }
    return true;
}

} // namespace

std::vector<Sentence> splitSentences(std::string_view answer)
{
    return sentencesOfMasked(maskMarks(answer, findMarks(answer)));
}

std::string claimText(std::string_view answer, std::size_t begin, std::size_t end)
{
    end = std::min(end, answer.size());
    begin = std::min(begin, end);
    const auto marks = findMarks(answer);
    std::string out;
    std::size_t i = begin;
    for (const auto& m : marks) {
        if (m.end <= begin || m.begin >= end)
            continue;
        if (m.begin > i)
            out.append(answer.substr(i, m.begin - i));
        i = std::max(i, m.end);
    }
    if (i < end)
        out.append(answer.substr(i, end - i));
    return out;
}

std::vector<Citation> parseCitations(std::string_view answer)
{
    const auto marks = findMarks(answer);
    const std::string masked = maskMarks(answer, marks);
    const auto sentences = sentencesOfMasked(masked);
    std::vector<Citation> out;
    for (std::size_t mi = 0; mi < marks.size(); ++mi) {
        const Mark& m = marks[mi];
        // A quote right before the mark ("words" [doc 1 p.2]) or right after it ([doc 1 p.2]
        // "words") belongs to it when the bracket holds none; one after it only when no other
        // mark follows that quote (that mark would own it).
        std::optional<std::string> outside;
        if (!m.hasInnerQuote) {
            std::size_t b = m.begin;
            while (b > 0 && isSpace(answer[b - 1]))
                --b;
            if (b > 0 && (answer[b - 1] == ',' || answer[b - 1] == ':' || answer[b - 1] == '-'))
                --b;
            while (b > 0 && isSpace(answer[b - 1]))
                --b;
            if (auto q = quoteEndingAt(answer, b); q && (mi == 0 || marks[mi - 1].end <= q->innerBegin))
                outside = std::string(answer.substr(q->innerBegin, q->innerEnd - q->innerBegin));
            if (!outside) {
                std::size_t a = m.end;
                while (a < answer.size() && (isSpace(answer[a]) || answer[a] == ':' || answer[a] == ','))
                    ++a;
                if (auto q = quoteAt(answer, a, kMaxQuoteBytes)) {
                    std::size_t after = q->end;
                    while (after < answer.size() && (isSpace(answer[after]) || answer[after] == ','))
                        ++after;
                    const bool nextMarkOwnsIt = mi + 1 < marks.size() && marks[mi + 1].begin == after;
                    if (!nextMarkOwnsIt)
                        outside = std::string(answer.substr(q->innerBegin, q->innerEnd - q->innerBegin));
                }
            }
        }
        // The sentence the mark belongs to; a mark opening its sentence belongs to the one
        // before ("Claim. [doc 1 p.2]").
        std::size_t si = 0;
        for (std::size_t k = 0; k < sentences.size(); ++k) {
            if (sentences[k].begin <= m.begin)
                si = k;
        }
        if (si > 0 && onlyMarkBefore(masked, sentences[si].begin, m.begin) &&
            sentences[si - 1].end <= m.begin)
            --si;
        for (Citation c : m.parts) {
            if (!c.quote && outside && m.parts.size() == 1)
                c.quote = outside;
            if (!sentences.empty()) {
                c.sentenceBegin = sentences[si].begin;
                c.sentenceEnd = sentences[si].end;
            }
            out.push_back(std::move(c));
        }
    }
    return out;
}

} // namespace quire::app
