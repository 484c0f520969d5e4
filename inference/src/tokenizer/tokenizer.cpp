// The Tokenizer facade: special-token partitioning, fragment encoding (byte-level BPE or
// SentencePiece), decoding and the streaming decoder. Loaders live in their own files.
#include <algorithm>

#include "quire/inference/gguf.h"
#include "tokenizer/nfc.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace quire::inference {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Scratch buffers reused by each thread's encode() calls.
struct Scratch {
    tok::DecodedText decoded;
    std::vector<tok::Piece> pieces;
};
Scratch& scratch()
{
    thread_local Scratch s;
    return s;
}

} // namespace

void Tokenizer::Impl::finish()
{
    std::vector<bool> all(pieces.size(), true);
    for (std::size_t i = 0; i < pieces.size(); ++i)
        all[i] = !pieces[i].empty();
    byPiece.build(pieces, all);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        const TokenKind k = kinds[i];
        if (k == TokenKind::Control || k == TokenKind::UserDefined || k == TokenKind::Unknown)
            specials.add(pieces[i], static_cast<TokenId>(i), k == TokenKind::UserDefined);
    }
    guessEndOfTurn();
    eog.clear();
    auto addEog = [&](std::optional<TokenId> id) {
        if (id && std::find(eog.begin(), eog.end(), *id) == eog.end())
            eog.push_back(*id);
    };
    addEog(eos);
    addEog(eot);
    addEog(eom);
    for (const char* text : {"<|eot_id|>", "<|eom_id|>", "<|eot|>", "<|eom|>", "<|im_end|>",
                             "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>", "<|end|>", "<|EOT|>"}) {
        if (const auto id = byPiece.find(text);
            id && kinds[static_cast<std::size_t>(*id)] == TokenKind::Control)
            addEog(*id);
    }
}

void Tokenizer::Impl::guessEndOfTurn()
{
    auto control = [&](std::string_view text) -> std::optional<TokenId> {
        const auto id = byPiece.find(text);
        if (id && kinds[static_cast<std::size_t>(*id)] != TokenKind::Normal)
            return *id;
        return std::nullopt;
    };
    if (!eot)
        for (const char* text :
             {"<|eot_id|>", "<|eot|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|EOT|>", "<EOT>"})
            if ((eot = control(text)))
                break;
    if (!eom)
        for (const char* text : {"<|eom_id|>", "<|eom|>"})
            if ((eom = control(text)))
                break;
}

void Tokenizer::Impl::encodeFragment(std::string_view text, bool afterSpecial,
                                     std::vector<TokenId>& out) const
{
    std::string normalized;
    if (nfc && !tok::isNfcQuick(text)) {
        normalized = tok::toNfc(text);
        text = normalized;
    }
    if (algorithm == Algorithm::SentencePiece) {
        std::string escaped = (addSpacePrefix && afterSpecial) ? std::string("\xE2\x96\x81") : std::string();
        escaped += tok::escapeSpaces(text);
        spm.encode(escaped, out);
        return;
    }
    // Offsets are 32-bit: cut huge texts at a line break (pieces never span one in practice).
    constexpr std::size_t kMaxChunk = std::size_t(1) << 30;
    while (text.size() > kMaxChunk) {
        std::size_t cut = text.rfind('\n', kMaxChunk);
        cut = (cut == std::string_view::npos || cut == 0) ? kMaxChunk : cut;
        encodeFragment(text.substr(0, cut), afterSpecial, out);
        text.remove_prefix(cut);
    }
    auto& s = scratch();
    s.decoded.decode(text);
    s.pieces.clear();
    tok::preTokenize(pattern, s.decoded, s.pieces);
    for (const auto& [b, e] : s.pieces)
        bpe.encodeWord(text.substr(b, e - b), out);
    if (s.decoded.cps.capacity() > (std::size_t(1) << 24)) // do not keep a huge scratch per thread
        s = Scratch{};
}

std::expected<Tokenizer, Error> Tokenizer::fromGguf(const GgufFile& file)
{
    return tokenizerFromGguf(file);
}

std::expected<Tokenizer, Error> Tokenizer::fromTiktoken(const std::filesystem::path& rankFile,
                                                        TiktokenFlavor flavor)
{
    return tokenizerFromTiktoken(rankFile, flavor);
}

std::expected<Tokenizer, Error> Tokenizer::fromHuggingFace(const std::filesystem::path& path)
{
    return tokenizerFromHuggingFace(path);
}

std::expected<Tokenizer, Error> Tokenizer::open(const std::filesystem::path& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec) || path.filename() == "tokenizer.json" ||
        path.extension() == ".json")
        return fromHuggingFace(path);
    if (path.extension() == ".gguf") {
        auto file = GgufFile::open(path);
        if (!file)
            return std::unexpected(file.error());
        return fromGguf(*file);
    }
    return fromTiktoken(path);
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool addBos, bool parseSpecial) const
{
    const Impl& m = *m_impl;
    std::vector<TokenId> out;
    out.reserve(text.size() / 3 + 2);
    if (addBos && m.bos)
        out.push_back(*m.bos);
    const bool partition = !m.specials.empty() && (parseSpecial || m.specials.hasAlwaysMatched());
    if (!partition) {
        if (!text.empty())
            m.encodeFragment(text, true, out);
        return out;
    }
    std::size_t pos = 0;
    bool afterSpecial = true;
    while (pos < text.size()) {
        const auto match = m.specials.next(text, pos, parseSpecial);
        if (match.begin > pos) {
            m.encodeFragment(text.substr(pos, match.begin - pos), afterSpecial, out);
            afterSpecial = false;
        }
        if (match.id < 0)
            break;
        out.push_back(match.id);
        afterSpecial = true;
        pos = match.end;
    }
    return out;
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool renderSpecial) const
{
    std::string out;
    bool atStart = true;
    for (const TokenId id : ids) {
        if (id < 0 || static_cast<std::size_t>(id) >= m_impl->pieces.size())
            continue;
        const TokenKind k = m_impl->kinds[static_cast<std::size_t>(id)];
        if (k == TokenKind::Control && !renderSpecial)
            continue;
        std::string_view piece = m_impl->pieces[static_cast<std::size_t>(id)];
        // SentencePiece: the space added in front of the text is not part of it.
        if (atStart && m_impl->addSpacePrefix && k != TokenKind::Control && !piece.empty() && piece[0] == ' ')
            piece.remove_prefix(1);
        if (k != TokenKind::Control)
            atStart = false;
        out += piece;
    }
    return out;
}

std::string_view Tokenizer::tokenToPiece(TokenId id) const
{
    if (id < 0 || static_cast<std::size_t>(id) >= m_impl->pieces.size())
        return {};
    return m_impl->pieces[static_cast<std::size_t>(id)];
}

std::size_t Tokenizer::vocabSize() const
{
    return m_impl->pieces.size();
}

TokenKind Tokenizer::kind(TokenId id) const
{
    if (id < 0 || static_cast<std::size_t>(id) >= m_impl->kinds.size())
        return TokenKind::Unused;
    return m_impl->kinds[static_cast<std::size_t>(id)];
}

std::optional<TokenId> Tokenizer::bos() const
{
    return m_impl->bos;
}
std::optional<TokenId> Tokenizer::eos() const
{
    return m_impl->eos;
}
std::optional<TokenId> Tokenizer::eot() const
{
    return m_impl->eot;
}
const std::vector<TokenId>& Tokenizer::endOfGeneration() const
{
    return m_impl->eog;
}
bool Tokenizer::isEndOfGeneration(TokenId id) const
{
    return std::find(m_impl->eog.begin(), m_impl->eog.end(), id) != m_impl->eog.end();
}
bool Tokenizer::addBosByDefault() const
{
    return m_impl->addBos;
}

std::optional<TokenId> Tokenizer::tokenId(std::string_view text) const
{
    return m_impl->byPiece.find(text);
}

std::string Tokenizer::describe() const
{
    const Impl& m = *m_impl;
    std::string s = m.algorithm == Impl::Algorithm::SentencePiece
                        ? "SentencePiece"
                        : std::string("byte-level BPE (") + tok::toString(m.pattern) + ")";
    return s + " from " + m.origin + ", " + std::to_string(m.pieces.size()) + " tokens";
}

TokenStreamDecoder::TokenStreamDecoder(Tokenizer tokenizer, bool renderSpecial)
    : m_tokenizer(std::move(tokenizer)), m_renderSpecial(renderSpecial)
{
}

std::string TokenStreamDecoder::push(TokenId id)
{
    const TokenId one[1] = {id};
    if (m_tokenizer.kind(id) == TokenKind::Control) {
        if (m_renderSpecial)
            m_pending += m_tokenizer.tokenToPiece(id);
    } else if (m_first) {
        m_pending += m_tokenizer.decode(one); // drops the space SentencePiece put in front of the text
        m_first = false;
    } else {
        m_pending += m_tokenizer.tokenToPiece(id);
    }
    std::string out;
    for (;;) {
        const auto scan = tok::scanUtf8(m_pending);
        out.append(m_pending, 0, scan.complete);
        if (!scan.invalid) {
            m_pending.erase(0, scan.complete);
            return out;
        }
        out += kReplacement; // a byte that can never start or continue a character
        m_pending.erase(0, scan.complete + 1);
    }
}

std::string TokenStreamDecoder::flush()
{
    std::string out;
    if (!m_pending.empty()) {
        out = std::string(kReplacement);
        m_pending.clear();
    }
    return out;
}

} // namespace quire::inference
