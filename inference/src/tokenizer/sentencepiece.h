// SentencePiece BPE as in Llama 2 / Phi-3 GGUF vocabularies: start from UTF-8 characters,
// repeatedly merge the adjacent pair whose concatenation is a vocabulary piece with the highest
// score (leftmost on ties); characters left without a piece fall back to <0xXX> byte tokens.
// Input is already whitespace-escaped (spaces as U+2581). Immutable; thread-safe to read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe.h"

namespace quire::inference::tok {

class SentencePieceModel {
public:
    // texts[id] are the pieces as stored (with U+2581); `mergeable` marks pieces segmentation
    // may produce (normal and user-defined ones, not control/byte/unknown/unused).
    void build(std::vector<std::string> texts, const std::vector<bool>& mergeable, std::vector<float> scores,
               Id unknown);
    void encode(std::string_view escaped, std::vector<Id>& out) const;

private:
    std::vector<std::string> m_texts;
    std::vector<float> m_scores;
    StringIdMap m_vocab;
    Id m_byteToken[256];
    Id m_unknown = -1;
};

// Replaces every space with U+2581 (the SentencePiece meta symbol).
std::string escapeSpaces(std::string_view text);

} // namespace quire::inference::tok
