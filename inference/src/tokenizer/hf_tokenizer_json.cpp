// Hugging Face tokenizer.json with a byte-level BPE model (Llama 3, Qwen2, SmolLM2, DeepSeek and
// GPT-2 style files). The pre_tokenizer must be one this build has a splitter for (recognised by
// its exact regular expressions); anything else is refused with a message rather than
// tokenised differently. In a model directory, tokenizer_config.json and config.json supply the
// BOS/EOS tokens that tokenizer.json itself does not name.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "tokenizer/json.h"
#include "tokenizer/nfc.h"
#include "tokenizer/tokenizer_impl.h"

namespace quire::inference {

namespace {

// DeepSeek-Coder's isolating splits, in order.
constexpr std::string_view kDeepseekSplits[] = {
    "[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+",
    "[\xE4\xB8\x80-\xE9\xBE\xA5\xE0\xA0\x80-\xE4\xB8\x80\xEA\xB0\x80-"
    "\xED\x9F\xBF]+"};

std::expected<std::string, Error> readText(const std::filesystem::path& p)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        return std::unexpected(Error{ErrorCode::Io, "cannot read " + p.string()});
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::expected<json::Value, Error> readJson(const std::filesystem::path& p)
{
    auto text = readText(p);
    if (!text)
        return std::unexpected(text.error());
    auto v = json::parse(*text);
    if (!v)
        return std::unexpected(Error{ErrorCode::Format, p.string() + ": invalid JSON: " + v.error()});
    return std::move(*v);
}

Error unsupported(const std::filesystem::path& p, const std::string& what)
{
    return Error{ErrorCode::Unsupported, p.string() + ": " + what};
}

std::expected<tok::SplitPattern, Error> patternOf(const json::Value* pre, const std::filesystem::path& path)
{
    if (!pre || pre->isNull())
        return std::unexpected(
            unsupported(path, "no pre_tokenizer (only byte-level BPE files are supported)"));
    std::vector<const json::Value*> items;
    if (pre->stringOr("type", "") == "Sequence") {
        const auto* list = pre->get("pretokenizers");
        if (list && list->array())
            for (const auto& item : *list->array())
                items.push_back(&item);
    } else {
        items.push_back(pre);
    }
    std::vector<std::string> splits;
    bool digits = false, byteLevel = false, useRegex = true;
    for (const auto* item : items) {
        const auto type = item->stringOr("type", "");
        if (type == "Split") {
            const auto* pattern = item->get("pattern");
            const auto* regex = pattern ? pattern->get("Regex") : nullptr;
            if (!regex || !regex->string() || item->stringOr("behavior", "") != "Isolated" ||
                item->boolOr("invert", false))
                return std::unexpected(
                    unsupported(path, "a Split pre-tokenizer other than an isolating regex"));
            splits.push_back(*regex->string());
        } else if (type == "Digits") {
            if (!item->boolOr("individual_digits", false))
                return std::unexpected(unsupported(path, "a Digits pre-tokenizer without individual_digits"));
            digits = true;
        } else if (type == "ByteLevel") {
            byteLevel = true;
            useRegex = item->boolOr("use_regex", true);
            if (item->boolOr("add_prefix_space", false))
                return std::unexpected(unsupported(path, "ByteLevel with add_prefix_space"));
        } else {
            return std::unexpected(unsupported(path, "the pre-tokenizer '" + std::string(type) + "'"));
        }
    }
    if (!byteLevel)
        return std::unexpected(unsupported(path, "not a byte-level BPE tokenizer"));
    if (splits.empty() && useRegex)
        return digits ? tok::SplitPattern::DigitsThenGpt2 : tok::SplitPattern::Gpt2;
    if (splits.size() == 1 && !digits && !useRegex) {
        for (const auto p : {tok::SplitPattern::Llama3, tok::SplitPattern::Qwen2, tok::SplitPattern::O200k,
                             tok::SplitPattern::Gpt2})
            if (splits[0] == tok::regexOf(p))
                return p;
        return std::unexpected(
            unsupported(path, "the split pattern " + splits[0] + " has no splitter in this build"));
    }
    if (splits.size() == 4 && digits && !useRegex &&
        std::equal(splits.begin(), splits.end(), std::begin(kDeepseekSplits)))
        return tok::SplitPattern::DeepseekCoder;
    return std::unexpected(
        unsupported(path, "this combination of pre-tokenizers has no splitter in this build"));
}

// The first special token of a TemplateProcessing "single" template (the BOS), searching
// inside a Sequence of post-processors too.
std::optional<std::string> templateBos(const json::Value* post)
{
    if (!post)
        return std::nullopt;
    if (post->stringOr("type", "") == "Sequence") {
        const auto* list = post->get("processors");
        if (list && list->array())
            for (const auto& p : *list->array())
                if (auto bos = templateBos(&p))
                    return bos;
        return std::nullopt;
    }
    if (post->stringOr("type", "") != "TemplateProcessing")
        return std::nullopt;
    const auto* single = post->get("single");
    if (!single || !single->array() || single->array()->empty())
        return std::nullopt;
    const auto* special = single->array()->front().get("SpecialToken");
    if (!special)
        return std::nullopt;
    return std::string(special->stringOr("id", ""));
}

// tokenizer_config.json writes a token as a string or as {"content": ...}.
std::optional<std::string> tokenText(const json::Value* v)
{
    if (!v)
        return std::nullopt;
    if (v->string())
        return *v->string();
    if (const auto* c = v->get("content"); c && c->string())
        return *c->string();
    return std::nullopt;
}

std::expected<void, Error> loadModel(const json::Value& root, const std::filesystem::path& path,
                                     Tokenizer::Impl& m)
{
    const auto* model = root.get("model");
    if (!model || model->stringOr("type", "BPE") != "BPE")
        return std::unexpected(unsupported(path, "the model is not BPE"));
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (const auto* v = model->get(key); v && !v->isNull() && !(v->string() && v->string()->empty()))
            return std::unexpected(unsupported(path, std::string("BPE with ") + key));
    const auto* vocab = model->get("vocab");
    if (!vocab || !vocab->object())
        return std::unexpected(Error{ErrorCode::Format, path.string() + ": model.vocab is missing"});
    std::vector<std::pair<std::size_t, const std::string*>> entries;
    std::size_t size = 0;
    for (const auto& [text, idValue] : *vocab->object()) {
        const auto* id = idValue.number();
        if (!id || *id < 0 || *id >= (1 << 24) || *id != static_cast<double>(static_cast<std::size_t>(*id)))
            return std::unexpected(Error{ErrorCode::Format, path.string() + ": a bad id for '" + text + "'"});
        entries.emplace_back(static_cast<std::size_t>(*id), &text);
        size = std::max(size, static_cast<std::size_t>(*id) + 1);
    }
    const auto* added = root.get("added_tokens");
    if (added && added->array())
        for (const auto& a : *added->array())
            if (const auto* id = a.get("id");
                id && id->number() && *id->number() >= 0 && *id->number() < (1 << 24))
                size = std::max(size, static_cast<std::size_t>(*id->number()) + 1);
    m.pieces.assign(size, std::string());
    m.kinds.assign(size, TokenKind::Unused);
    for (const auto& [id, text] : entries) {
        auto bytes = tok::byteLevelDecode(*text);
        m.pieces[id] = bytes ? std::move(*bytes) : *text;
        m.kinds[id] = TokenKind::Normal;
    }
    if (added && added->array())
        for (const auto& a : *added->array()) {
            const auto* id = a.get("id");
            const auto* content = a.get("content");
            if (!id || !id->number() || !content || !content->string() || *id->number() < 0)
                continue;
            const auto i = static_cast<std::size_t>(*id->number());
            m.pieces[i] = *content->string();
            m.kinds[i] = a.boolOr("special", false) ? TokenKind::Control : TokenKind::UserDefined;
        }
    std::vector<bool> mergeable(size);
    for (std::size_t i = 0; i < size; ++i)
        mergeable[i] = m.kinds[i] == TokenKind::Normal && !m.pieces[i].empty();
    m.bpe.setVocabulary(&m.pieces, mergeable);
    m.bpe.setIgnoreMerges(model->boolOr("ignore_merges", false));
    const auto* merges = model->get("merges");
    if (!merges || !merges->array())
        return std::unexpected(Error{ErrorCode::Format, path.string() + ": model.merges is missing"});
    std::int32_t rank = 0;
    for (const auto& merge : *merges->array()) {
        std::string_view left, right;
        if (const auto* s = merge.string()) {
            const auto space = s->find(' ', 1);
            if (space == std::string::npos)
                return std::unexpected(Error{ErrorCode::Format, path.string() + ": merge " +
                                                                    std::to_string(rank) + " has no space"});
            left = std::string_view(*s).substr(0, space);
            right = std::string_view(*s).substr(space + 1);
        } else if (const auto* pair = merge.array();
                   pair && pair->size() == 2 && (*pair)[0].string() && (*pair)[1].string()) {
            left = *(*pair)[0].string();
            right = *(*pair)[1].string();
        } else {
            return std::unexpected(Error{ErrorCode::Format, path.string() + ": merge " +
                                                                std::to_string(rank) + " is malformed"});
        }
        const auto l = tok::byteLevelDecode(left);
        const auto r = tok::byteLevelDecode(right);
        if (l && r) {
            const auto li = m.bpe.find(*l), ri = m.bpe.find(*r), joined = m.bpe.find(*l + *r);
            if (li && ri && joined)
                m.bpe.addMerge(*li, *ri, rank, *joined);
        }
        ++rank;
    }
    return {};
}

} // namespace

std::expected<Tokenizer, Error> tokenizerFromHuggingFace(const std::filesystem::path& input)
{
    std::error_code ec;
    const bool isDir = std::filesystem::is_directory(input, ec);
    const std::filesystem::path path = isDir ? input / "tokenizer.json" : input;
    auto root = readJson(path);
    if (!root)
        return std::unexpected(root.error());
    auto impl = std::make_shared<Tokenizer::Impl>();
    Tokenizer::Impl& m = *impl;
    m.origin = "tokenizer.json";

    if (const auto* norm = root->get("normalizer"); norm && !norm->isNull()) {
        const auto type = norm->stringOr("type", "");
        const auto* list = norm->get("normalizers");
        if (type == "NFC")
            m.nfc = true;
        else if (!(type == "Sequence" && list && list->array() && list->array()->empty()))
            return std::unexpected(unsupported(path, "the normalizer '" + std::string(type) + "'"));
    }
    auto pattern = patternOf(root->get("pre_tokenizer"), path);
    if (!pattern)
        return std::unexpected(pattern.error());
    m.pattern = *pattern;
    if (auto ok = loadModel(*root, path, m); !ok)
        return std::unexpected(ok.error());

    auto idOf = [&](const std::string& text) -> std::optional<TokenId> {
        for (std::size_t i = 0; i < m.pieces.size(); ++i)
            if (m.kinds[i] != TokenKind::Normal && m.pieces[i] == text)
                return static_cast<TokenId>(i);
        return std::nullopt;
    };
    if (const auto bos = templateBos(root->get("post_processor"))) {
        m.bos = idOf(*bos);
        m.addBos = m.bos.has_value();
    }
    const std::filesystem::path dir = path.parent_path();
    if (std::filesystem::exists(dir / "tokenizer_config.json", ec)) {
        if (auto cfg = readJson(dir / "tokenizer_config.json")) {
            if (auto t = tokenText(cfg->get("bos_token")))
                m.bos = idOf(*t);
            if (auto t = tokenText(cfg->get("eos_token")))
                m.eos = idOf(*t);
            if (const auto* add = cfg->get("add_bos_token"); add && add->boolean())
                m.addBos = *add->boolean();
        }
    }
    m.finish();
    // config.json may list several end-of-generation ids.
    if (std::filesystem::exists(dir / "config.json", ec))
        if (auto cfg = readJson(dir / "config.json"))
            if (const auto* e = cfg->get("eos_token_id")) {
                std::vector<const json::Value*> ids{e};
                if (e->array()) {
                    ids.clear();
                    for (const auto& x : *e->array())
                        ids.push_back(&x);
                }
                for (const auto* x : ids)
                    if (x->number() && *x->number() >= 0 &&
                        *x->number() < static_cast<double>(m.pieces.size())) {
                        const auto id = static_cast<TokenId>(*x->number());
                        if (!m.eos)
                            m.eos = id;
                        if (std::find(m.eog.begin(), m.eog.end(), id) == m.eog.end())
                            m.eog.push_back(id);
                    }
            }
    return TokenizerBuilder::make(std::move(impl));
}

} // namespace quire::inference
