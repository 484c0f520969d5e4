#include "quire/app/text_match.h"

#include <QChar>

#include <algorithm>
#include <array>
#include <limits>

#include "quire/inference/utf8.h"

namespace quire::app {

namespace {

// Decodes one UTF-8 character at `i`; invalid bytes decode as U+FFFD, one byte at a time.
char32_t decodeAt(std::string_view s, std::size_t& i)
{
    const auto c0 = static_cast<unsigned char>(s[i]);
    auto cont = [&](std::size_t k) {
        return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80;
    };
    if (c0 < 0x80) {
        ++i;
        return c0;
    }
    int len = 0;
    char32_t cp = 0;
    if ((c0 & 0xE0) == 0xC0) {
        len = 2;
        cp = c0 & 0x1F;
    } else if ((c0 & 0xF0) == 0xE0) {
        len = 3;
        cp = c0 & 0x0F;
    } else if ((c0 & 0xF8) == 0xF0) {
        len = 4;
        cp = c0 & 0x07;
    } else {
        ++i;
        return 0xFFFD;
    }
    for (int k = 1; k < len; ++k) {
        if (!cont(i + std::size_t(k))) {
            ++i;
            return 0xFFFD;
        }
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + std::size_t(k)]) & 0x3F);
    }
    i += std::size_t(len);
    return cp;
}

bool isWordChar(char32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    return QChar::isLetterOrNumber(cp) || QChar::isMark(cp);
}

// Levenshtein distance on bytes, giving up (returning limit + 1) once it must exceed `limit`.
int boundedEditDistance(std::string_view a, std::string_view b, int limit)
{
    const int n = int(a.size()), m = int(b.size());
    if (std::abs(n - m) > limit)
        return limit + 1;
    std::vector<int> prev(std::size_t(m) + 1), cur(std::size_t(m) + 1);
    for (int j = 0; j <= m; ++j)
        prev[std::size_t(j)] = j;
    for (int i = 1; i <= n; ++i) {
        cur[0] = i;
        int rowMin = cur[0];
        for (int j = 1; j <= m; ++j) {
            const int sub =
                prev[std::size_t(j - 1)] + (a[std::size_t(i - 1)] == b[std::size_t(j - 1)] ? 0 : 1);
            cur[std::size_t(j)] = std::min({sub, prev[std::size_t(j)] + 1, cur[std::size_t(j - 1)] + 1});
            rowMin = std::min(rowMin, cur[std::size_t(j)]);
        }
        if (rowMin > limit)
            return limit + 1;
        std::swap(prev, cur);
    }
    return prev[std::size_t(m)];
}

} // namespace

std::vector<Word> splitWords(std::string_view text)
{
    std::vector<Word> words;
    std::size_t i = 0;
    Word cur;
    bool inWord = false;
    while (i < text.size()) {
        const std::size_t at = i;
        const char32_t cp = decodeAt(text, i);
        if (isWordChar(cp)) {
            if (!inWord) {
                cur = Word{};
                cur.begin = at;
                inWord = true;
            }
            const char32_t folded = QChar::toCaseFolded(cp);
            if (folded < 0x80 && folded >= '0' && folded <= '9')
                cur.numeric = true;
            if (!QChar::isMark(cp))
                inference::appendUtf8(cur.norm, std::uint32_t(folded));
            cur.end = i;
        } else if (inWord) {
            // An apostrophe inside a word ("don't", "supplier's") stays part of it.
            const bool apostrophe = cp == '\'' || cp == 0x2019;
            if (apostrophe && i < text.size()) {
                std::size_t j = i;
                if (isWordChar(decodeAt(text, j)))
                    continue;
            }
            words.push_back(std::move(cur));
            inWord = false;
        }
    }
    if (inWord)
        words.push_back(std::move(cur));
    return words;
}

double wordSimilarity(const Word& a, const Word& b)
{
    if (a.norm == b.norm)
        return 1.0;
    if (a.numeric || b.numeric)
        return 0.0;
    const std::size_t len = std::min(a.norm.size(), b.norm.size());
    if (len < 4)
        return 0.0;
    const int limit = len >= 8 ? 2 : 1;
    return boundedEditDistance(a.norm, b.norm, limit) <= limit ? 0.5 : 0.0;
}

QuoteMatch findQuote(const std::vector<Word>& quote, const std::vector<Word>& haystack)
{
    QuoteMatch best;
    const std::size_t m = quote.size(), n = haystack.size();
    best.quoteWords = m;
    if (m == 0 || n == 0)
        return best;
    // cost[j]: the cheapest alignment of quote[0..i) ending at haystack word j (exclusive);
    // start[j]: where that alignment starts in the haystack.
    std::vector<double> prev(n + 1, 0.0), cur(n + 1);
    std::vector<std::size_t> prevStart(n + 1), curStart(n + 1);
    for (std::size_t j = 0; j <= n; ++j)
        prevStart[j] = j;
    // A number in the quote that is changed or missing sinks the whole match: "60 days" must
    // never verify against "30 days", however long the quote around it.
    const double numberCost = double(m) + 1.0;
    double firstColumn = 0;
    for (std::size_t i = 1; i <= m; ++i) {
        const double missCost = quote[i - 1].numeric ? numberCost : 1.0;
        firstColumn += missCost;
        cur[0] = firstColumn;
        curStart[0] = 0;
        for (std::size_t j = 1; j <= n; ++j) {
            const double sim = wordSimilarity(quote[i - 1], haystack[j - 1]);
            const double subCost = sim >= 1.0 ? 0.0 : (sim > 0.0 ? 0.5 : missCost);
            double c = prev[j - 1] + subCost;
            std::size_t s = prevStart[j - 1];
            if (prev[j] + missCost < c) { // quote word missing from the haystack
                c = prev[j] + missCost;
                s = prevStart[j];
            }
            if (cur[j - 1] + 1.0 < c) { // extra haystack word inside the span
                c = cur[j - 1] + 1.0;
                s = curStart[j - 1];
            }
            cur[j] = c;
            curStart[j] = s;
        }
        std::swap(prev, cur);
        std::swap(prevStart, curStart);
    }
    double bestCost = std::numeric_limits<double>::infinity();
    for (std::size_t j = 1; j <= n; ++j) {
        if (prev[j] < bestCost) {
            bestCost = prev[j];
            best.firstWord = prevStart[j];
            best.lastWord = j;
        }
    }
    best.score = std::clamp(1.0 - bestCost / double(m), 0.0, 1.0);
    return best;
}

std::string stemWord(std::string_view norm)
{
    std::string s(norm);
    if (s.empty() || (s.front() >= '0' && s.front() <= '9'))
        return s;
    if (s.size() > 5 && s.ends_with("ing"))
        s.resize(s.size() - 3);
    else if (s.size() > 4 && s.ends_with("ed"))
        s.resize(s.size() - 2);
    else if (s.size() > 4 && s.ends_with("ies"))
        s.replace(s.size() - 3, 3, "y");
    else if (s.size() > 3 && s.ends_with('s') && !s.ends_with("ss"))
        s.pop_back();
    return s;
}

bool isStopWord(std::string_view norm)
{
    static constexpr std::array<std::string_view, 120> kWords = {
        "a",      "about", "above", "after",   "again", "all",    "also",  "am",     "an",    "and",
        "any",    "are",   "as",    "at",      "be",    "been",   "being", "both",   "but",   "by",
        "can",    "could", "did",   "do",      "does",  "doing",  "done",  "down",   "each",  "either",
        "for",    "from",  "had",   "has",     "have",  "having", "he",    "her",    "here",  "hers",
        "him",    "his",   "how",   "i",       "if",    "in",     "into",  "is",     "it",    "its",
        "itself", "just",  "may",   "me",      "might", "more",   "most",  "must",   "my",    "no",
        "nor",    "not",   "of",    "off",     "on",    "once",   "only",  "or",     "other", "our",
        "ours",   "out",   "over",  "own",     "same",  "shall",  "she",   "should", "so",    "some",
        "such",   "than",  "that",  "the",     "their", "theirs", "them",  "then",   "there", "these",
        "they",   "this",  "those", "through", "to",    "too",    "under", "until",  "up",    "upon",
        "very",   "was",   "we",    "were",    "what",  "when",   "where", "which",  "while", "who",
        "whom",   "why",   "will",  "with",    "would", "you",    "your",  "yours",  "doc",   "according",
    };
    return std::find(kWords.begin(), kWords.end(), norm) != kWords.end();
}

std::vector<std::string> contentWords(const std::vector<Word>& words)
{
    std::vector<std::string> out;
    for (const auto& w : words) {
        if (!isStopWord(w.norm))
            out.push_back(w.norm);
    }
    return out;
}

} // namespace quire::app
