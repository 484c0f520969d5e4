// Pre-tokenizers: split text into the pieces BPE works on, by the regular expression a vocabulary
// was trained with. Each supported expression has a hand-written matcher that reproduces the
// regex engine's leftmost-first, greedy-with-backtracking result (see pre_tokenizer.cpp for each
// pattern, reproduced as data). Thread-safe: no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/unicode.h"

namespace quire::inference::tok {

enum class SplitPattern {
    Gpt2,           // GPT-2, and llama.cpp's gpt-2 / mpt / olmo / jais / phi-2 ...
    Llama3,         // Llama 3 (cl100k-style, digits in groups of up to three)
    Qwen2,          // Llama 3's pattern with single digits
    O200k,          // Llama 4 (o200k-style, case-aware letter runs)
    DeepseekCoder,  // four isolating splits, then single digits
    DigitsThenGpt2, // single digits isolated, then GPT-2 (SmolLM, StarCoder, Refact, Command-R)
    None,           // no split: the whole text is one piece
};

const char* toString(SplitPattern p);
// llama.cpp's `tokenizer.ggml.pre` names.
std::optional<SplitPattern> splitPatternFromGgufPre(std::string_view pre);

using Piece = std::pair<std::uint32_t, std::uint32_t>; // [begin, end) byte offsets

// Appends the pieces of `text` (already decoded into `decoded`) to `out`.
void preTokenize(SplitPattern pattern, const DecodedText& decoded, std::vector<Piece>& out);

// The regular expressions, as data (for tokenizer.json recognition and documentation).
std::string_view regexOf(SplitPattern p);

} // namespace quire::inference::tok
