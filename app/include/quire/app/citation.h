// Citations in an answer: parsing the inline marks a model writes ([doc 12 p.4], [doc 3
// L120-140], [doc 7 00:12:31], [doc 5 ¶2], [doc 4], several in one bracket separated by ';'),
// with the quote that goes with each ("quoted words" [doc 12 p.4], [doc 12 p.4: "quoted words"],
// or [doc 12 p.4] "quoted words"); resolving them through the source map; and verifying them: the
// quoted words must be found in the cited segments (word-level approximate match, tolerant of
// case, whitespace, punctuation and a small share of changed words; numbers must match exactly).
// A citation without a quote is checked by how many of its sentence's content words the cited
// segments hold; that is "supported", weaker than "verified", and shown as such.
//
// Pure functions over values; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quire/app/source_map.h"

namespace quire::app {

struct Citation {
    std::size_t offset = 0; // the mark's byte range in the answer (brackets included)
    std::size_t length = 0;
    std::string raw; // the part of the mark naming this citation, e.g. "doc 3 L4-9"
    int docNumber = 0;
    Locator where;
    bool malformed = false; // "doc N" followed by a place that could not be read
    std::optional<std::string> quote;
    std::size_t sentenceBegin = 0; // the claim: the answer sentence the mark belongs to
    std::size_t sentenceEnd = 0;
};

// Every citation in `answer`, in order. Brackets that do not start with "doc" are not citations.
std::vector<Citation> parseCitations(std::string_view answer);

// The answer's sentences as byte ranges, with marks and bracketed quotes not splitting them.
struct Sentence {
    std::size_t begin = 0;
    std::size_t end = 0;
};
std::vector<Sentence> splitSentences(std::string_view answer);

// Persisted in turns' citations JSON as text; never renumber.
enum class CitationStatus {
    Verified = 0,      // the quote was found in the cited segments
    QuoteNotFound = 1, // resolved, but the quoted words are not in the cited place
    Supported = 2,     // resolved, no quote; the cited segments hold most of the claim's words
    Unsupported = 3,   // resolved, no quote; they do not
    Unresolved = 4,    // no such document or place (fabricated or malformed)
};
const char* statusName(CitationStatus status);
// Verified and Supported count as usable; the others are flagged to the reader.
inline bool isUsable(CitationStatus s)
{
    return s == CitationStatus::Verified || s == CitationStatus::Supported;
}

struct CheckOptions {
    double quoteThreshold = 0.8;   // findQuote score for "verified"
    int exactBelowWords = 4;       // quotes shorter than this must match exactly
    double supportThreshold = 0.5; // share of claim content words found, for "supported"
    bool searchElsewhere = true;   // where a quote is not in the cited place, look in the rest
    std::size_t attributionsPerSentence = 2;
    double minAttributionCoverage = 0.34; // share of the sentence's content words in the segment
    std::size_t minAttributionWords = 2;  // sentences with fewer content words are not attributed
};

struct CheckedCitation {
    Citation citation;
    CitationStatus status = CitationStatus::Unresolved;
    std::vector<std::size_t> segments;       // resolved: indices into SourceMap::segments
    std::optional<std::size_t> matchSegment; // where the quote (or most of the claim) was found
    double score = 0;                        // quote match score, or claim word coverage
    std::size_t matchBegin = 0;              // byte range of the match in matchSegment's text
    std::size_t matchEnd = 0;
    std::optional<std::size_t> elsewhere; // QuoteNotFound: a segment elsewhere that holds it
    std::string note;                     // why it is flagged, for people
};

CheckedCitation verifyCitation(const Citation& citation, std::string_view answer, const SourceMap& map,
                               const CheckOptions& options = {});

// Lexical attribution of one answer sentence to a context segment (BM25 over the segments of the
// source map, then the share of the sentence's content words the segment holds).
struct Attribution {
    std::size_t sentenceBegin = 0;
    std::size_t sentenceEnd = 0;
    std::size_t segment = 0; // index into SourceMap::segments
    double bm25 = 0;
    double coverage = 0;
};

struct AnswerCheck {
    std::vector<CheckedCitation> citations;
    // For sentences without a usable citation: the best-matching segments ("attributed", never
    // shown as "cited").
    std::vector<Attribution> attributions;

    std::size_t usableCitations() const;
    std::size_t flaggedCitations() const;
};

AnswerCheck checkAnswer(std::string_view answer, const SourceMap& map, const CheckOptions& options = {});

// The sentence with marks and bracketed quotes removed: the claim a citation supports.
std::string claimText(std::string_view answer, std::size_t begin, std::size_t end);

} // namespace quire::app
