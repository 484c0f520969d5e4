// Tokenizers: text <-> token ids for the model families Quire runs.
//
// Sources: a GGUF file's vocabulary (byte-level BPE, `tokenizer.ggml.model` "gpt2", with the
// pre-tokenizers of Llama 3, GPT-2, Qwen2, DeepSeek-Coder, SmolLM/StarCoder; or SentencePiece,
// "llama", as in Llama 2 and Phi-3), a tiktoken rank file (Llama 3 and Llama 4 `tokenizer.model`),
// or a Hugging Face `tokenizer.json` (BPE model). Encoding matches the reference implementations
// (llama.cpp / Hugging Face tokenizers / tiktoken) on the shared test vectors.
//
// A Tokenizer is immutable after creation, cheap to copy (shared state) and safe to use from any
// number of threads at once. A TokenStreamDecoder belongs to one thread.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quire/inference/error.h"

namespace quire::inference {

class GgufFile;
using TokenId = std::int32_t;

// How a token is treated (mirrors GGUF's tokenizer.ggml.token_type).
enum class TokenKind : std::uint8_t {
    Normal = 1,
    Unknown = 2,
    Control = 3,     // special: produced from text only when parsing specials; not rendered by default
    UserDefined = 4, // added text tokens: always matched as a whole, always rendered
    Unused = 5,
    Byte = 6, // SentencePiece byte fallback <0xXX>
};

// The tiktoken split pattern and special tokens of a rank file.
enum class TiktokenFlavor {
    Auto,   // by rank count: 128000 ranks -> Llama 3, 200000 -> Llama 4
    Llama3, // cl100k-style pattern; specials <|begin_of_text|> ... from id 128000
    Llama4, // o200k-style pattern; specials from id 200000 (llama4-architecture.md 11)
};

class Tokenizer {
public:
    static std::expected<Tokenizer, Error> fromGguf(const GgufFile& file);
    static std::expected<Tokenizer, Error> fromTiktoken(const std::filesystem::path& rankFile,
                                                        TiktokenFlavor flavor = TiktokenFlavor::Auto);
    // A tokenizer.json file, or a Hugging Face model directory holding one.
    static std::expected<Tokenizer, Error> fromHuggingFace(const std::filesystem::path& path);
    // Any of the above, by what `path` is: a .gguf file, a directory (tokenizer.json inside),
    // a tokenizer.json, or else a tiktoken rank file.
    static std::expected<Tokenizer, Error> open(const std::filesystem::path& path);

    // addBos prepends the BOS token (if the vocabulary has one). parseSpecial makes control
    // tokens written in the text (e.g. "<|im_start|>") become their ids; otherwise that text is
    // encoded as plain text. User-defined tokens are always matched.
    std::vector<TokenId> encode(std::string_view text, bool addBos = false, bool parseSpecial = false) const;

    // The bytes of the ids concatenated. Control tokens contribute their text only when
    // renderSpecial is set. The result may end inside a UTF-8 character (if the ids do).
    std::string decode(std::span<const TokenId> ids, bool renderSpecial = false) const;
    // The raw bytes of one token (for control tokens: their text); empty for an invalid id.
    std::string_view tokenToPiece(TokenId id) const;

    std::size_t vocabSize() const;
    TokenKind kind(TokenId id) const;
    bool isControl(TokenId id) const { return kind(id) == TokenKind::Control; }

    std::optional<TokenId> bos() const;
    std::optional<TokenId> eos() const;
    std::optional<TokenId> eot() const; // end of turn (<|eot_id|>, <|im_end|>, <|eot|>, <|end|> ...)
    // Every token that ends generation (eos, eot, eom and the like).
    const std::vector<TokenId>& endOfGeneration() const;
    bool isEndOfGeneration(TokenId id) const;
    bool addBosByDefault() const; // what the vocabulary asks for (GGUF add_bos_token)

    // The id of a token written exactly as `text` (e.g. "<|im_start|>", "<|header_start|>").
    std::optional<TokenId> tokenId(std::string_view text) const;

    // A short description, e.g. "byte-level BPE (llama3), 128256 tokens".
    std::string describe() const;

    struct Impl;

private:
    explicit Tokenizer(std::shared_ptr<const Impl> impl) : m_impl(std::move(impl)) {}
    std::shared_ptr<const Impl> m_impl;
    friend struct TokenizerBuilder;
};

// Turns a stream of token ids into text without ever emitting part of a UTF-8 character: bytes
// of an incomplete character are held until the next token completes it; bytes that can never
// form a valid character are emitted as U+FFFD.
class TokenStreamDecoder {
public:
    explicit TokenStreamDecoder(Tokenizer tokenizer, bool renderSpecial = false);
    // Text that became complete with this token (possibly empty).
    std::string push(TokenId id);
    // Whatever is held back, with an unfinished character replaced by U+FFFD.
    std::string flush();

private:
    Tokenizer m_tokenizer;
    bool m_renderSpecial;
    bool m_first = true;
    std::string m_pending;
};

} // namespace quire::inference
