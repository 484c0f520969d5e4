// Hugging Face tokenizer.json with a byte-level BPE model (Llama 3, Qwen2, SmolLM2, DeepSeek and
// GPT-2 style files). The pre_tokenizer must be one this build has a splitter for (recognised by
// its exact regular expressions); anything else is refused with a message rather than
// tokenised differently. In a model directory, tokenizer_config.json and config.json supply the
// BOS/EOS tokens that tokenizer.json itself does not name.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "quire/inference/json.h"
#include "tokenizer/nfc.h"
#include "tokenizer/tokenizer_impl.h"

namespace quire::inference {

namespace {

std::string_view stringOr(const Json& object, std::string_view key, std::string_view fallback)
{
    const Json* v = object.find(key);
    return v && v->asString() ? std::string_view(*v->asString()) : fallback;
}

bool boolOr(const Json& object, std::string_view key, bool fallback)
{
    const Json* v = object.find(key);
    return v && v->asBool() ? *v->asBool() : fallback;
}

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

std::expected<Json, Error> readJson(const std::filesystem::path& p)
{
    auto text = readText(p);
    if (!text)
        return std::unexpected(text.error());
    auto v = Json::parse(*text);
    if (!v)
        return std::unexpected(Error{ErrorCode::Format, p.string() + ": invalid JSON: " + v.error().message});
    return std::move(*v);
}

Error unsupported(const std::filesystem::path& p, const std::string& what)
{
    return Error{ErrorCode::Unsupported, p.string() + ": " + what};
}

std::expected<tok::SplitPattern, Error> patternOf(const Json* pre, const std::filesystem::path& path)
{
    if (!pre || pre->isNull())
        return std::unexpected(
            unsupported(path, "no pre_tokenizer (only byte-level BPE files are supported)"));
    std::vector<const Json*> items;
    if (stringOr(*pre, "type", "") == "Sequence") {
        const auto* list = pre->find("pretokenizers");
        if (list && list->asArray())
            for (const auto& item : *list->asArray())
                items.push_back(&item);
    } else {
        items.push_back(pre);
    }
    std::vector<std::string> splits;
    bool digits = false, byteLevel = false, useRegex = true;
    for (const auto* item : items) {
        const auto type = stringOr(*item, "type", "");
        if (type == "Split") {
            const auto* pattern = item->find("pattern");
            const auto* regex = pattern ? pattern->find("Regex") : nullptr;
            if (!regex || !regex->asString() || stringOr(*item, "behavior", "") != "Isolated" ||
                boolOr(*item, "invert", false))
                return std::unexpected(
                    unsupported(path, "a Split pre-tokenizer other than an isolating regex"));
            splits.push_back(*regex->asString());
        } else if (type == "Digits") {
            if (!boolOr(*item, "individual_digits", false))
                return std::unexpected(unsupported(path, "a Digits pre-tokenizer without individual_digits"));
            digits = true;
        } else if (type == "ByteLevel") {
            byteLevel = true;
            useRegex = boolOr(*item, "use_regex", true);
            if (boolOr(*item, "add_prefix_space", false))
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
std::optional<std::string> templateBos(const Json* post)
{
    if (!post)
        return std::nullopt;
    if (stringOr(*post, "type", "") == "Sequence") {
        const auto* list = post->find("processors");
        if (list && list->asArray())
            for (const auto& p : *list->asArray())
                if (auto bos = templateBos(&p))
                    return bos;
        return std::nullopt;
    }
    if (stringOr(*post, "type", "") != "TemplateProcessing")
        return std::nullopt;
    const auto* single = post->find("single");
    if (!single || !single->asArray() || single->asArray()->empty())
        return std::nullopt;
    const auto* special = single->asArray()->front().find("SpecialToken");
    if (!special)
        return std::nullopt;
    return std::string(stringOr(*special, "id", ""));
}

// tokenizer_config.json writes a token as a string or as {"content": ...}.
std::optional<std::string> tokenText(const Json* v)
{
    if (!v)
        return std::nullopt;
    if (v->asString())
        return *v->asString();
    if (const auto* c = v->find("content"); c && c->asString())
        return *c->asString();
    return std::nullopt;
}

std::expected<void, Error> loadModel(const Json& root, const std::filesystem::path& path,
                                     Tokenizer::Impl& m)
{
    const auto* model = root.find("model");
    if (!model || stringOr(*model, "type", "BPE") != "BPE")
        return std::unexpected(unsupported(path, "the model is not BPE"));
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (const auto* v = model->find(key); v && !v->isNull() && !(v->asString() && v->asString()->empty()))
            return std::unexpected(unsupported(path, std::string("BPE with ") + key));
    const auto* vocab = model->find("vocab");
    if (!vocab || !vocab->asObject())
        return std::unexpected(Error{ErrorCode::Format, path.string() + ": model.vocab is missing"});
    std::vector<std::pair<std::size_t, const std::string*>> entries;
    std::size_t size = 0;
    for (const auto& [text, idValue] : *vocab->asObject()) {
        const auto* id = idValue.asNumber();
        if (!id || *id < 0 || *id >= (1 << 24) || *id != static_cast<double>(static_cast<std::size_t>(*id)))
            return std::unexpected(Error{ErrorCode::Format, path.string() + ": a bad id for '" + text + "'"});
        entries.emplace_back(static_cast<std::size_t>(*id), &text);
        size = std::max(size, static_cast<std::size_t>(*id) + 1);
    }
    const auto* added = root.find("added_tokens");
    if (added && added->asArray())
        for (const auto& a : *added->asArray())
            if (const auto* id = a.find("id");
                id && id->asNumber() && *id->asNumber() >= 0 && *id->asNumber() < (1 << 24))
                size = std::max(size, static_cast<std::size_t>(*id->asNumber()) + 1);
    m.pieces.assign(size, std::string());
    m.kinds.assign(size, TokenKind::Unused);
    for (const auto& [id, text] : entries) {
        auto bytes = tok::byteLevelDecode(*text);
        m.pieces[id] = bytes ? std::move(*bytes) : *text;
        m.kinds[id] = TokenKind::Normal;
    }
    if (added && added->asArray())
        for (const auto& a : *added->asArray()) {
            const auto* id = a.find("id");
            const auto* content = a.find("content");
            if (!id || !id->asNumber() || !content || !content->asString() || *id->asNumber() < 0)
                continue;
            const auto i = static_cast<std::size_t>(*id->asNumber());
            m.pieces[i] = *content->asString();
            m.kinds[i] = boolOr(a, "special", false) ? TokenKind::Control : TokenKind::UserDefined;
        }
    std::vector<bool> mergeable(size);
    for (std::size_t i = 0; i < size; ++i)
        mergeable[i] = m.kinds[i] == TokenKind::Normal && !m.pieces[i].empty();
    m.bpe.setVocabulary(&m.pieces, mergeable);
    m.bpe.setIgnoreMerges(boolOr(*model, "ignore_merges", false));
    const auto* merges = model->find("merges");
    if (!merges || !merges->asArray())
        return std::unexpected(Error{ErrorCode::Format, path.string() + ": model.merges is missing"});
    std::int32_t rank = 0;
    for (const auto& merge : *merges->asArray()) {
        std::string_view left, right;
        if (const auto* s = merge.asString()) {
            const auto space = s->find(' ', 1);
            if (space == std::string::npos)
                return std::unexpected(Error{ErrorCode::Format, path.string() + ": merge " +
                                                                    std::to_string(rank) + " has no space"});
            left = std::string_view(*s).substr(0, space);
            right = std::string_view(*s).substr(space + 1);
        } else if (const auto* pair = merge.asArray();
                   pair && pair->size() == 2 && (*pair)[0].asString() && (*pair)[1].asString()) {
            left = *(*pair)[0].asString();
            right = *(*pair)[1].asString();
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

    if (const auto* norm = root->find("normalizer"); norm && !norm->isNull()) {
        const auto type = stringOr(*norm, "type", "");
        const auto* list = norm->find("normalizers");
        if (type == "NFC")
            m.nfc = true;
        else if (!(type == "Sequence" && list && list->asArray() && list->asArray()->empty()))
            return std::unexpected(unsupported(path, "the normalizer '" + std::string(type) + "'"));
    }
    auto pattern = patternOf(root->find("pre_tokenizer"), path);
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
    if (const auto bos = templateBos(root->find("post_processor"))) {
        m.bos = idOf(*bos);
        m.addBos = m.bos.has_value();
    }
    const std::filesystem::path dir = path.parent_path();
    if (std::filesystem::exists(dir / "tokenizer_config.json", ec)) {
        if (auto cfg = readJson(dir / "tokenizer_config.json")) {
            if (auto t = tokenText(cfg->find("bos_token")))
                m.bos = idOf(*t);
            if (auto t = tokenText(cfg->find("eos_token")))
                m.eos = idOf(*t);
            if (const auto* add = cfg->find("add_bos_token"); add && add->asBool())
                m.addBos = *add->asBool();
        }
    }
    m.finish();
    // config.json may list several end-of-generation ids.
    if (std::filesystem::exists(dir / "config.json", ec))
        if (auto cfg = readJson(dir / "config.json"))
            if (const auto* e = cfg->find("eos_token_id")) {
                std::vector<const Json*> ids{e};
                if (e->asArray()) {
                    ids.clear();
                    for (const auto& x : *e->asArray())
                        ids.push_back(&x);
                }
                for (const auto* x : ids)
                    if (x->asNumber() && *x->asNumber() >= 0 &&
                        *x->asNumber() < static_cast<double>(m.pieces.size())) {
                        const auto id = static_cast<TokenId>(*x->asNumber());
                        if (!m.eos)
                            m.eos = id;
                        if (std::find(m.eog.begin(), m.eog.end(), id) == m.eog.end())
                            m.eog.push_back(id);
                    }
            }
    return TokenizerBuilder::make(std::move(impl));
}

} // namespace quire::inference
