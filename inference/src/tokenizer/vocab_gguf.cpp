// Tokenizers from a GGUF file's tokenizer.ggml.* metadata: "gpt2" (byte-level BPE with a merge
// list and a pre-tokenizer named by tokenizer.ggml.pre) and "llama" (SentencePiece with scores
// and byte fallback).
#include "quire/inference/gguf.h"
#include "quire/inference/log.h"
#include "tokenizer/tokenizer_impl.h"

namespace quire::inference {

namespace {

Error formatError(const GgufFile& f, const std::string& what)
{
    return Error{ErrorCode::Format, f.file().path().string() + ": " + what};
}

std::optional<TokenId> tokenKey(const GgufFile& f, const char* key, std::size_t vocab)
{
    const auto v = f.getInt(key);
    if (!v || *v < 0 || static_cast<std::uint64_t>(*v) >= vocab)
        return std::nullopt;
    return static_cast<TokenId>(*v);
}

TokenKind kindOf(std::int64_t type)
{
    switch (type) {
    case 2:
        return TokenKind::Unknown;
    case 3:
        return TokenKind::Control;
    case 4:
        return TokenKind::UserDefined;
    case 5:
        return TokenKind::Unused;
    case 6:
        return TokenKind::Byte;
    default:
        return TokenKind::Normal;
    }
}

std::expected<void, Error> loadBytePairVocab(const GgufFile& f, Tokenizer::Impl& m,
                                             const std::vector<std::string>& texts)
{
    const auto preName = f.getString("tokenizer.ggml.pre");
    if (!preName || *preName == "default") {
        logMessage(LogLevel::Warn,
                   f.file().path().string() +
                       ": no tokenizer.ggml.pre; using the GPT-2 pre-tokenizer (tokens may differ "
                       "from the model's own tokenizer)");
        m.pattern = tok::SplitPattern::Gpt2;
    } else if (const auto p = tok::splitPatternFromGgufPre(*preName)) {
        m.pattern = *p;
    } else {
        return std::unexpected(
            Error{ErrorCode::Unsupported,
                  f.file().path().string() + ": the pre-tokenizer '" + *preName + "' is not supported"});
    }
    // Normal tokens are written in GPT-2's byte alphabet; special and added tokens as plain text.
    std::vector<bool> mergeable(texts.size(), false);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        if (m.kinds[i] == TokenKind::Normal) {
            if (auto bytes = tok::byteLevelDecode(texts[i])) {
                m.pieces[i] = std::move(*bytes);
                mergeable[i] = !m.pieces[i].empty();
                continue;
            }
        }
        m.pieces[i] = texts[i];
    }
    m.bpe.setVocabulary(&m.pieces, mergeable);
    const auto merges = f.getStringArray("tokenizer.ggml.merges");
    if (merges.empty())
        return std::unexpected(formatError(f, "a BPE vocabulary without tokenizer.ggml.merges"));
    std::int32_t rank = 0;
    for (const auto& merge : merges) {
        const auto space = merge.find(' ', 1);
        if (space == std::string::npos)
            return std::unexpected(formatError(f, "merge " + std::to_string(rank) + " has no space"));
        const auto left = tok::byteLevelDecode(std::string_view(merge).substr(0, space));
        const auto right = tok::byteLevelDecode(std::string_view(merge).substr(space + 1));
        if (left && right) {
            const auto l = m.bpe.find(*left);
            const auto r = m.bpe.find(*right);
            const auto joined = m.bpe.find(*left + *right);
            if (l && r && joined)
                m.bpe.addMerge(*l, *r, rank, *joined);
        }
        ++rank;
    }
    // llama.cpp's Llama 3 handling: a piece that is a whole token is not re-merged.
    m.bpe.setIgnoreMerges(m.pattern == tok::SplitPattern::Llama3);
    m.addBos = f.getInt("tokenizer.ggml.add_bos_token").value_or(0) != 0 ||
               (f.find("tokenizer.ggml.add_bos_token") == nullptr && m.pattern == tok::SplitPattern::Llama3);
    return {};
}

void loadSentencePieceVocab(const GgufFile& f, Tokenizer::Impl& m, std::vector<std::string> texts)
{
    m.algorithm = Tokenizer::Impl::Algorithm::SentencePiece;
    m.pattern = tok::SplitPattern::None;
    const auto scoresD = f.getFloatArray("tokenizer.ggml.scores");
    std::vector<float> scores(texts.size(), 0.0f);
    for (std::size_t i = 0; i < scores.size() && i < scoresD.size(); ++i)
        scores[i] = static_cast<float>(scoresD[i]);
    std::vector<bool> mergeable(texts.size(), false);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const TokenKind k = m.kinds[i];
        mergeable[i] = k == TokenKind::Normal || k == TokenKind::UserDefined;
        std::string& piece = m.pieces[i];
        if (k == TokenKind::Byte && texts[i].size() == 6 && texts[i].starts_with("<0x")) {
            piece.assign(1, static_cast<char>(std::stoi(texts[i].substr(3, 2), nullptr, 16)));
            continue;
        }
        piece.clear();
        for (std::size_t p = 0; p < texts[i].size();) { // U+2581 stands for a space
            if (k != TokenKind::Control && texts[i].compare(p, 3, "\xE2\x96\x81") == 0) {
                piece += ' ';
                p += 3;
            } else {
                piece += texts[i][p++];
            }
        }
    }
    m.addSpacePrefix = f.getInt("tokenizer.ggml.add_space_prefix").value_or(1) != 0;
    m.addBos = f.getInt("tokenizer.ggml.add_bos_token").value_or(1) != 0;
    m.spm.build(std::move(texts), mergeable, std::move(scores),
                tokenKey(f, "tokenizer.ggml.unknown_token_id", m.pieces.size()).value_or(-1));
}

} // namespace

std::expected<Tokenizer, Error> tokenizerFromGguf(const GgufFile& f)
{
    const auto model = f.getString("tokenizer.ggml.model");
    if (!model)
        return std::unexpected(formatError(f, "no tokenizer (tokenizer.ggml.model is missing)"));
    auto texts = f.getStringArray("tokenizer.ggml.tokens");
    if (texts.empty())
        return std::unexpected(formatError(f, "tokenizer.ggml.tokens is missing or empty"));
    if (texts.size() > (std::size_t(1) << 30))
        return std::unexpected(formatError(f, "an absurd vocabulary size"));
    auto impl = std::make_shared<Tokenizer::Impl>();
    Tokenizer::Impl& m = *impl;
    m.origin = "GGUF";
    m.pieces.resize(texts.size());
    m.kinds.assign(texts.size(), TokenKind::Normal);
    const auto types = f.getIntArray("tokenizer.ggml.token_type");
    for (std::size_t i = 0; i < types.size() && i < texts.size(); ++i)
        m.kinds[i] = kindOf(types[i]);

    if (*model == "gpt2") {
        if (auto ok = loadBytePairVocab(f, m, texts); !ok)
            return std::unexpected(ok.error());
    } else if (*model == "llama") {
        loadSentencePieceVocab(f, m, std::move(texts));
    } else {
        return std::unexpected(Error{ErrorCode::Unsupported, f.file().path().string() +
                                                                 ": the tokenizer model '" + *model +
                                                                 "' is not supported (gpt2 and llama are)"});
    }
    const std::size_t n = m.pieces.size();
    m.bos = tokenKey(f, "tokenizer.ggml.bos_token_id", n);
    m.eos = tokenKey(f, "tokenizer.ggml.eos_token_id", n);
    m.eot = tokenKey(f, "tokenizer.ggml.eot_token_id", n);
    m.eom = tokenKey(f, "tokenizer.ggml.eom_token_id", n);
    m.finish();
    return TokenizerBuilder::make(std::move(impl));
}

} // namespace quire::inference
