// tiktoken rank files (Meta's Llama 3 and Llama 4 `tokenizer.model`): one `base64(bytes) rank`
// per line; a token's id is its rank. The split pattern and the special tokens are not in the
// file: they come from the model family (Llama 3: cl100k-style pattern, 256 specials from 128000;
// Llama 4: o200k-style pattern, 2048 specials from 200000, llama4-architecture.md 1.3 and 11).
#include <fstream>
#include <sstream>

#include "quire/inference/mapped_file.h"
#include "tokenizer/tokenizer_impl.h"

namespace quire::inference {

namespace {

int base64Value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

std::optional<std::string> base64Decode(std::string_view s)
{
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    std::size_t i = 0;
    for (; i < s.size() && s[i] != '='; ++i) {
        const int v = base64Value(static_cast<unsigned char>(s[i]));
        if (v < 0)
            return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    for (; i < s.size(); ++i)
        if (s[i] != '=')
            return std::nullopt;
    return out;
}

std::vector<std::string> llama3Specials()
{
    std::vector<std::string> s = {"<|begin_of_text|>",
                                  "<|end_of_text|>",
                                  "<|reserved_special_token_0|>",
                                  "<|reserved_special_token_1|>",
                                  "<|finetune_right_pad_id|>",
                                  "<|step_id|>",
                                  "<|start_header_id|>",
                                  "<|end_header_id|>",
                                  "<|eom_id|>",
                                  "<|eot_id|>",
                                  "<|python_tag|>"};
    for (int i = 2; s.size() < 256; ++i)
        s.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
    return s;
}

std::vector<std::string> llama4Specials()
{
    auto reserved = [](std::vector<std::string>& v, const std::string& group, int from, int count) {
        for (int i = from; i < from + count; ++i)
            v.push_back("<|" + group + "reserved_special_token_" + std::to_string(i) + "|>");
    };
    std::vector<std::string> s = {"<|begin_of_text|>", "<|end_of_text|>",  "<|fim_prefix|>", "<|fim_middle|>",
                                  "<|fim_suffix|>",    "<|header_start|>", "<|header_end|>", "<|eom|>",
                                  "<|eot|>",           "<|step|>"};
    reserved(s, "text_post_train_", 0, 6); // 200010..200015
    s.insert(s.end(), {"<|python_start|>", "<|python_end|>", "<|finetune_right_pad|>"});
    reserved(s, "text_post_train_", 8, 61); // 200019..200079
    s.insert(s.end(), {"<|image_start|>", "<|image_end|>"});
    reserved(s, "vision_", 0, 2); // 200082..200083
    s.insert(s.end(), {"<|tile_x_separator|>", "<|tile_y_separator|>"});
    reserved(s, "vision_", 2, 4); // 200086..200089
    s.push_back("<|image|>");
    reserved(s, "vision_", 6, 1);
    s.push_back("<|patch|>");
    reserved(s, "vision_", 7, 1041); // 200093..201133
    reserved(s, "reasoning_", 0, 8); // 201134..201141
    s.insert(s.end(), {"<|reasoning_thinking_start|>", "<|reasoning_thinking_end|>"});
    reserved(s, "", 0, 904); // 201144..202047
    return s;
}

Error fileError(const std::filesystem::path& p, const std::string& what)
{
    return Error{ErrorCode::Format, p.string() + ": " + what};
}

} // namespace

std::expected<Tokenizer, Error> tokenizerFromTiktoken(const std::filesystem::path& path,
                                                      TiktokenFlavor flavor)
{
    auto file = MappedFile::open(path);
    if (!file)
        return std::unexpected(file.error());
    const std::string_view text(reinterpret_cast<const char*>(file->bytes().data()), file->size());
    auto impl = std::make_shared<Tokenizer::Impl>();
    Tokenizer::Impl& m = *impl;
    m.origin = "tiktoken";
    std::size_t lineNo = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos)
            eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        ++lineNo;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty())
            continue;
        const auto space = line.find(' ');
        if (space == std::string_view::npos)
            return std::unexpected(
                fileError(path, "line " + std::to_string(lineNo) +
                                    " is not `base64 rank` (is this a tiktoken rank file?)"));
        auto bytes = base64Decode(line.substr(0, space));
        std::uint64_t rank = 0;
        const auto digits = line.substr(space + 1);
        bool ok = bytes && !bytes->empty() && !digits.empty() && digits.size() < 10;
        for (const char c : digits) {
            ok = ok && c >= '0' && c <= '9';
            rank = rank * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (!ok || rank >= (1u << 24))
            return std::unexpected(
                fileError(path, "line " + std::to_string(lineNo) + " has a bad token or rank"));
        if (rank >= m.pieces.size()) {
            m.pieces.resize(rank + 1);
            m.kinds.resize(rank + 1, TokenKind::Unused);
        }
        if (m.kinds[rank] != TokenKind::Unused)
            return std::unexpected(fileError(path, "rank " + std::to_string(rank) + " appears twice"));
        m.pieces[rank] = std::move(*bytes);
        m.kinds[rank] = TokenKind::Normal;
    }
    const std::size_t ranks = m.pieces.size();
    if (ranks < 256)
        return std::unexpected(
            fileError(path, "too few ranks (" + std::to_string(ranks) + ") for a tiktoken file"));
    if (flavor == TiktokenFlavor::Auto) {
        if (ranks == 128000)
            flavor = TiktokenFlavor::Llama3;
        else if (ranks == 200000)
            flavor = TiktokenFlavor::Llama4;
        else
            return std::unexpected(
                Error{ErrorCode::Unsupported,
                      path.string() + ": " + std::to_string(ranks) +
                          " ranks match neither Llama 3 (128000) nor Llama 4 (200000); name the "
                          "flavour explicitly"});
    }
    std::vector<bool> mergeable(ranks);
    for (std::size_t i = 0; i < ranks; ++i)
        mergeable[i] = m.kinds[i] == TokenKind::Normal;
    const auto specials = flavor == TiktokenFlavor::Llama3 ? llama3Specials() : llama4Specials();
    for (const auto& s : specials) {
        m.pieces.push_back(s);
        m.kinds.push_back(TokenKind::Control);
    }
    m.pattern = flavor == TiktokenFlavor::Llama3 ? tok::SplitPattern::Llama3 : tok::SplitPattern::O200k;
    mergeable.resize(m.pieces.size(), false);
    m.bpe.setVocabulary(&m.pieces, mergeable);
    m.bpe.derivePairsFromRanks();
    m.bpe.setIgnoreMerges(true); // tiktoken emits a piece that is a whole token directly
    const auto base = static_cast<TokenId>(ranks);
    m.bos = base;
    m.eos = base + 1;
    m.addBos = true;
    if (flavor == TiktokenFlavor::Llama3) {
        m.eot = base + 9; // <|eot_id|>
        m.eom = base + 8; // <|eom_id|>
    } else {
        m.eot = base + 8; // <|eot|>
        m.eom = base + 7; // <|eom|>
    }
    m.finish();
    return TokenizerBuilder::make(std::move(impl));
}

} // namespace quire::inference
