// Word-level text matching for citation checks and attribution: text is cut into normalised
// words (Unicode case folding, letters and digits only, punctuation and whitespace dropped), and
// a quote is searched in a segment by a word-level approximate alignment, so "The Supplier
// shall" matches "the  supplier\nshall," and a changed or missing word costs a fraction of the
// score, while a changed number ("30 days" against "60 days") never counts as a small change.
//
// Pure functions over values; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace quire::app {

struct Word {
    std::string norm;      // case-folded UTF-8, letters and digits only
    std::size_t begin = 0; // byte range in the original text
    std::size_t end = 0;
    bool numeric = false; // contains a digit: must match exactly
};

// The words of `text`, in order.
std::vector<Word> splitWords(std::string_view text);

// 1 for equal words; 0.5 for a small spelling difference between longer words (one edit in a
// word of 4+ letters, two in 8+), never for numbers; else 0.
double wordSimilarity(const Word& a, const Word& b);

struct QuoteMatch {
    double score = 0; // 1 - (edit cost / quote words), clamped to [0, 1]
    std::size_t quoteWords = 0;
    std::size_t firstWord = 0; // the matched span in the haystack's words [firstWord, lastWord)
    std::size_t lastWord = 0;
};

// Finds where the words of `quote` best align inside `haystack` (semi-global alignment: the whole
// quote against any stretch of the haystack). Edit costs: a substituted word 1 (0.5 for a small
// spelling difference), a quote word missing 1, an extra haystack word inside the span 1; a
// number of the quote that is changed or missing costs more than the whole quote (score 0).
QuoteMatch findQuote(const std::vector<Word>& quote, const std::vector<Word>& haystack);

// A crude English stem for overlap scores ("days" -> "day", "terminated" -> "terminat",
// "governing" -> "govern"); numbers are left alone. Both sides of a comparison are stemmed.
std::string stemWord(std::string_view norm);

// Common English function words, excluded from overlap scores.
bool isStopWord(std::string_view norm);

// The content words (not stop words) of `words`.
std::vector<std::string> contentWords(const std::vector<Word>& words);

} // namespace quire::app
