// The state behind a Tokenizer, shared by the loaders (GGUF, tiktoken, tokenizer.json) and the
// encoder/decoder in tokenizer.cpp. Built once in place (members hold pointers into each
// other), then shared immutably.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "quire/inference/tokenizer.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/sentencepiece.h"
#include "tokenizer/special_tokens.h"

namespace quire::inference {

struct Tokenizer::Impl {
    enum class Algorithm { BytePairBpe, SentencePiece };
    Algorithm algorithm = Algorithm::BytePairBpe;
    tok::SplitPattern pattern = tok::SplitPattern::Gpt2;
    std::string origin; // "GGUF", "tiktoken", "tokenizer.json"

    std::vector<std::string> pieces; // what each id decodes to (control tokens: their text)
    std::vector<TokenKind> kinds;
    tok::StringIdMap byPiece; // piece text -> id, for tokenId()

    tok::BpeModel bpe;
    tok::SentencePieceModel spm;
    bool addSpacePrefix = false; // SentencePiece: a space before text at the start / after specials
    bool nfc = false;            // tokenizer.json NFC normalizer

    tok::SpecialTokenMatcher specials;
    std::optional<TokenId> bos, eos, eot, eom;
    std::vector<TokenId> eog;
    bool addBos = false;

    // After pieces/kinds are set: the piece index, specials, end-of-generation set.
    void finish();
    void guessEndOfTurn();
    void encodeFragment(std::string_view text, bool afterSpecial, std::vector<TokenId>& out) const;
};

struct TokenizerBuilder {
    static Tokenizer make(std::shared_ptr<const Tokenizer::Impl> impl) { return Tokenizer(std::move(impl)); }
};

// GPT-2's byte <-> printable character mapping used by byte-level BPE vocabularies.
namespace tok {
// The byte a vocabulary character stands for, or -1.
int byteOfChar(std::uint32_t cp);
std::uint32_t charOfByte(unsigned char b);
// Decodes a byte-level vocabulary string to raw bytes; nullopt if a character is not in the map.
std::optional<std::string> byteLevelDecode(std::string_view text);
} // namespace tok

// Loader entry points (one file each).
std::expected<Tokenizer, Error> tokenizerFromGguf(const GgufFile& file);
std::expected<Tokenizer, Error> tokenizerFromTiktoken(const std::filesystem::path& path,
                                                      TiktokenFlavor flavor);
std::expected<Tokenizer, Error> tokenizerFromHuggingFace(const std::filesystem::path& path);

} // namespace quire::inference
