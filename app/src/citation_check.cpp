// Verifying citations against the source map, and attributing uncited sentences (citation.h).
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "quire/app/citation.h"
#include "quire/app/text_match.h"

namespace quire::app {

const char* statusName(CitationStatus status)
{
    switch (status) {
    case CitationStatus::Verified:
        return "verified";
    case CitationStatus::QuoteNotFound:
        return "quote-not-found";
    case CitationStatus::Supported:
        return "supported";
    case CitationStatus::Unsupported:
        return "unsupported";
    case CitationStatus::Unresolved:
        return "unresolved";
    }
    return "unresolved";
}

std::size_t AnswerCheck::usableCitations() const
{
    return std::size_t(std::count_if(citations.begin(), citations.end(),
                                     [](const CheckedCitation& c) { return isUsable(c.status); }));
}

std::size_t AnswerCheck::flaggedCitations() const
{
    return citations.size() - usableCitations();
}

namespace {

// Words of several segments in a row, remembering which segment each came from.
struct Haystack {
    std::vector<Word> words;
    std::vector<std::size_t> owner; // segment index per word
};

Haystack haystackOf(const SourceMap& map, const std::vector<std::size_t>& segs)
{
    Haystack h;
    for (std::size_t idx : segs) {
        auto w = splitWords(map.segments[idx].text);
        h.owner.insert(h.owner.end(), w.size(), idx);
        h.words.insert(h.words.end(), std::make_move_iterator(w.begin()), std::make_move_iterator(w.end()));
    }
    return h;
}

void setMatch(CheckedCitation& out, const SourceMap& map, const Haystack& h, const QuoteMatch& m)
{
    if (m.lastWord <= m.firstWord || m.firstWord >= h.words.size())
        return;
    const std::size_t seg = h.owner[m.firstWord];
    out.matchSegment = seg;
    out.matchBegin = h.words[m.firstWord].begin;
    const std::size_t last = m.lastWord - 1;
    out.matchEnd = h.owner[last] == seg ? h.words[last].end : map.segments[seg].text.size();
}

bool quotePasses(const QuoteMatch& m, const CheckOptions& o)
{
    if (m.quoteWords == 0)
        return false;
    if (m.quoteWords < std::size_t(o.exactBelowWords))
        return m.score >= 1.0;
    return m.score >= o.quoteThreshold;
}

// Share of `claim` words found in `hay` (exact, or a small spelling difference).
double coverage(const std::vector<Word>& claim, const std::vector<Word>& hay)
{
    if (claim.empty())
        return 0;
    std::unordered_set<std::string> exact;
    for (const auto& w : hay)
        exact.insert(stemWord(w.norm));
    std::size_t found = 0;
    for (const auto& c : claim) {
        if (exact.count(stemWord(c.norm))) {
            ++found;
            continue;
        }
        if (c.numeric || c.norm.size() < 4)
            continue;
        for (const auto& w : hay) {
            if (wordSimilarity(c, w) > 0) {
                ++found;
                break;
            }
        }
    }
    return double(found) / double(claim.size());
}

std::vector<Word> claimWords(std::string_view answer, const Citation& c)
{
    auto words = splitWords(claimText(answer, c.sentenceBegin, c.sentenceEnd));
    std::erase_if(words, [](const Word& w) { return isStopWord(w.norm); });
    // Unique, order kept.
    std::unordered_set<std::string> seen;
    std::erase_if(words, [&](const Word& w) { return !seen.insert(w.norm).second; });
    return words;
}

std::string describePlaces(const SourceMap& map, const MappedDocument& doc)
{
    if (doc.segmentCount == 0)
        return "no text";
    const auto first = map.locatorFor(doc.firstSegment);
    const auto last = map.locatorFor(doc.firstSegment + doc.segmentCount - 1);
    switch (first.kind) {
    case Locator::Kind::Page:
        return "pages " + std::to_string(first.first) + "-" + std::to_string(last.last);
    case Locator::Kind::Lines:
        return "lines " + std::to_string(first.first) + "-" + std::to_string(last.last);
    case Locator::Kind::Time: {
        Locator span = first;
        span.endMs = last.endMs;
        return "times " + formatLocator(span);
    }
    case Locator::Kind::Paragraph:
        return "paragraphs " + std::to_string(first.first) + "-" + std::to_string(last.last);
    case Locator::Kind::Document:
        break;
    }
    return "no places";
}

} // namespace

CheckedCitation verifyCitation(const Citation& citation, std::string_view answer, const SourceMap& map,
                               const CheckOptions& options)
{
    CheckedCitation out;
    out.citation = citation;
    const MappedDocument* doc = map.document(citation.docNumber);
    if (!doc) {
        out.note = "there is no doc " + std::to_string(citation.docNumber) + " in the context";
        return out;
    }
    if (citation.malformed) {
        out.note = "could not read the place in \"" + citation.raw + "\"";
        return out;
    }
    out.segments = map.resolve(citation.docNumber, citation.where);
    if (out.segments.empty()) {
        out.note = "doc " + std::to_string(citation.docNumber) + " has no " + formatLocator(citation.where) +
                   " (it has " + describePlaces(map, *doc) + ")";
        return out;
    }

    std::vector<Word> quote;
    if (citation.quote)
        quote = splitWords(*citation.quote);
    if (!quote.empty()) {
        const Haystack h = haystackOf(map, out.segments);
        const QuoteMatch m = findQuote(quote, h.words);
        out.score = m.score;
        setMatch(out, map, h, m);
        if (quotePasses(m, options)) {
            out.status = CitationStatus::Verified;
            return out;
        }
        out.status = CitationStatus::QuoteNotFound;
        out.note =
            "the quoted words are not in doc " + std::to_string(citation.docNumber) +
            (citation.where.kind == Locator::Kind::Document ? "" : " " + formatLocator(citation.where));
        if (options.searchElsewhere) {
            double bestScore = 0;
            for (std::size_t i = 0; i < map.segments.size(); ++i) {
                if (std::find(out.segments.begin(), out.segments.end(), i) != out.segments.end())
                    continue;
                const QuoteMatch e = findQuote(quote, splitWords(map.segments[i].text));
                if (quotePasses(e, options) && e.score > bestScore) {
                    bestScore = e.score;
                    out.elsewhere = i;
                }
            }
            if (out.elsewhere)
                out.note += "; they are at " + map.markFor(*out.elsewhere);
        }
        return out;
    }

    // No quote: how much of the claim do the cited segments hold?
    const auto claim = claimWords(answer, citation);
    if (claim.empty()) {
        out.status = CitationStatus::Unsupported;
        out.note = "no quote and no claim text to check";
        return out;
    }
    const Haystack h = haystackOf(map, out.segments);
    out.score = coverage(claim, h.words);
    double best = -1;
    for (std::size_t idx : out.segments) {
        const double c = coverage(claim, splitWords(map.segments[idx].text));
        if (c > best) {
            best = c;
            out.matchSegment = idx;
        }
    }
    if (out.matchSegment) {
        out.matchBegin = 0;
        out.matchEnd = map.segments[*out.matchSegment].text.size();
    }
    if (out.score >= options.supportThreshold) {
        out.status = CitationStatus::Supported;
    } else {
        out.status = CitationStatus::Unsupported;
        out.note = "no quote, and the cited place holds few of the claim's words";
    }
    return out;
}

namespace {

// BM25 over the segments of a source map (k1 1.2, b 0.75), content words only.
class Bm25Index {
public:
    explicit Bm25Index(const SourceMap& map)
    {
        m_lengths.reserve(map.segments.size());
        double total = 0;
        for (std::size_t i = 0; i < map.segments.size(); ++i) {
            std::unordered_map<std::string, int> tf;
            int len = 0;
            for (auto& w : splitWords(map.segments[i].text)) {
                if (isStopWord(w.norm))
                    continue;
                ++tf[stemWord(w.norm)];
                ++len;
            }
            for (auto& [term, n] : tf)
                m_postings[term].push_back({i, n});
            m_lengths.push_back(len);
            total += len;
        }
        m_avg = map.segments.empty() ? 1.0 : std::max(1.0, total / double(map.segments.size()));
    }

    // Scores of every segment that shares a term with `terms` (unique terms).
    std::unordered_map<std::size_t, double> score(const std::vector<std::string>& terms) const
    {
        std::unordered_map<std::size_t, double> out;
        const double n = double(m_lengths.size());
        for (const auto& t : terms) {
            auto it = m_postings.find(t);
            if (it == m_postings.end())
                continue;
            const double df = double(it->second.size());
            const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
            for (const auto& [seg, tf] : it->second) {
                const double len = double(m_lengths[seg]);
                const double f = double(tf);
                out[seg] += idf * f * (kK1 + 1) / (f + kK1 * (1 - kB + kB * len / m_avg));
            }
        }
        return out;
    }

private:
    static constexpr double kK1 = 1.2, kB = 0.75;
    std::unordered_map<std::string, std::vector<std::pair<std::size_t, int>>> m_postings;
    std::vector<int> m_lengths;
    double m_avg = 1;
};

} // namespace

AnswerCheck checkAnswer(std::string_view answer, const SourceMap& map, const CheckOptions& options)
{
    AnswerCheck check;
    for (const auto& c : parseCitations(answer))
        check.citations.push_back(verifyCitation(c, answer, map, options));

    const auto sentences = splitSentences(answer);
    std::optional<Bm25Index> index;
    for (const auto& s : sentences) {
        const bool cited =
            std::any_of(check.citations.begin(), check.citations.end(), [&](const CheckedCitation& c) {
                return isUsable(c.status) && c.citation.sentenceBegin == s.begin;
            });
        if (cited)
            continue;
        auto words = splitWords(claimText(answer, s.begin, s.end));
        std::erase_if(words, [](const Word& w) { return isStopWord(w.norm); });
        std::vector<std::string> terms;
        for (const auto& w : words) {
            std::string t = stemWord(w.norm);
            if (std::find(terms.begin(), terms.end(), t) == terms.end())
                terms.push_back(std::move(t));
        }
        if (terms.size() < options.minAttributionWords)
            continue;
        if (!index)
            index.emplace(map);
        auto scores = index->score(terms);
        std::vector<std::pair<double, std::size_t>> ranked;
        for (const auto& [seg, sc] : scores)
            ranked.push_back({sc, seg});
        // Best first; ties go to the earlier segment so results are deterministic.
        std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        std::size_t taken = 0;
        for (const auto& [sc, seg] : ranked) {
            if (taken >= options.attributionsPerSentence)
                break;
            std::unordered_set<std::string> segTerms;
            for (const auto& w : splitWords(map.segments[seg].text))
                segTerms.insert(stemWord(w.norm));
            const double cov =
                double(std::count_if(terms.begin(), terms.end(),
                                     [&](const std::string& t) { return segTerms.count(t) > 0; })) /
                double(terms.size());
            if (cov < options.minAttributionCoverage)
                continue;
            check.attributions.push_back({s.begin, s.end, seg, sc, cov});
            ++taken;
        }
    }
    return check;
}

} // namespace quire::app
