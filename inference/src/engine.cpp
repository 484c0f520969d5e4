#include "quire/inference/engine.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "quire/inference/gguf.h"
#include "quire/inference/json.h"
#include "quire/inference/llama4.h"
#include "quire/inference/log.h"

namespace quire::inference {

namespace {

// The chat template text of a Hugging Face directory (tokenizer_config.json), if any.
std::string hfChatTemplate(const std::filesystem::path& dir)
{
    std::ifstream in(dir / "tokenizer_config.json", std::ios::binary);
    if (!in)
        return {};
    std::stringstream text;
    text << in.rdbuf();
    auto json = Json::parse(text.str());
    if (!json)
        return {};
    const Json* t = json->find("chat_template");
    if (!t)
        return {};
    if (const auto* s = t->asString())
        return *s;
    if (const auto* list = t->asArray()) // [{name, template}, ...]: take "default" or the first
        for (const Json& entry : *list) {
            const Json* name = entry.find("name");
            const Json* tmpl = entry.find("template");
            if (tmpl && tmpl->asString() && (!name || !name->asString() || *name->asString() == "default"))
                return *tmpl->asString();
        }
    return {};
}

std::expected<void, Error> checkVocab(const Tokenizer& tokenizer, const ModelConfig& config,
                                      const std::string& source)
{
    if (tokenizer.vocabSize() > std::size_t(config.vocabSize))
        return std::unexpected(Error{ErrorCode::Format, source + ": the tokenizer has " +
                                                            std::to_string(tokenizer.vocabSize()) +
                                                            " tokens but the model's embedding only " +
                                                            std::to_string(config.vocabSize)});
    return {};
}

bool isGgufFile(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    return in.read(magic, 4) && std::string_view(magic, 4) == "GGUF";
}

// Keeps the text of a generation that cannot yet be shown because it might begin a stop string.
class StopStringFilter {
public:
    explicit StopStringFilter(std::vector<std::string> stops) : m_stops(std::move(stops))
    {
        std::erase_if(m_stops, [](const std::string& s) { return s.empty(); });
    }

    // Adds text; returns what may be shown now and whether a stop string was hit.
    std::pair<std::string, bool> push(std::string_view piece)
    {
        m_text += piece;
        std::size_t cut = std::string::npos;
        for (const std::string& s : m_stops) {
            const std::size_t from = m_shown > s.size() ? m_shown - s.size() : 0;
            const std::size_t at = m_text.find(s, from);
            if (at != std::string::npos)
                cut = std::min(cut, at);
        }
        if (cut != std::string::npos) {
            m_text.resize(cut);
            return {emit(m_text.size()), true};
        }
        // Hold back the longest tail that is a prefix of some stop string.
        std::size_t hold = 0;
        for (const std::string& s : m_stops)
            for (std::size_t n = std::min(s.size() - 1, m_text.size() - m_shown); n > hold; --n)
                if (m_text.compare(m_text.size() - n, n, s, 0, n) == 0) {
                    hold = n;
                    break;
                }
        return {emit(m_text.size() - hold), false};
    }
    std::string flush() { return emit(m_text.size()); }
    const std::string& text() const { return m_text; }

private:
    std::string emit(std::size_t upTo)
    {
        if (upTo <= m_shown)
            return {};
        std::string out = m_text.substr(m_shown, upTo - m_shown);
        m_shown = upTo;
        return out;
    }
    std::vector<std::string> m_stops;
    std::string m_text;
    std::size_t m_shown = 0;
};

} // namespace

Model::Model(std::shared_ptr<const ModelWeights> weights, Tokenizer tokenizer, ChatTemplate chatTemplate,
             std::string name, std::filesystem::path path)
    : m_weights(std::move(weights)), m_tokenizer(std::move(tokenizer)),
      m_chatTemplate(std::move(chatTemplate)), m_name(std::move(name)), m_path(std::move(path))
{
    m_stopTokens = m_tokenizer.endOfGeneration();
    // The template's end-of-turn marker, when it is one token, stops generation too.
    for (const std::string& s : m_chatTemplate.stopStrings())
        if (const auto id = m_tokenizer.tokenId(s);
            id && std::ranges::find(m_stopTokens, *id) == m_stopTokens.end())
            m_stopTokens.push_back(*id);
}

std::expected<std::shared_ptr<const Model>, Error> Model::load(const std::filesystem::path& path,
                                                               const Llama4LoadOptions& llama4)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        auto weights = isLlama4Model(path) ? loadLlama4ModelWeights(path, llama4) : loadLlamaWeightsHf(path);
        if (!weights)
            return std::unexpected(weights.error());
        auto tokenizer = Tokenizer::fromHuggingFace(path);
        if (!tokenizer)
            return std::unexpected(tokenizer.error());
        if (auto ok = checkVocab(*tokenizer, (*weights)->config, path.filename().string()); !ok)
            return std::unexpected(ok.error());
        auto tmpl = ChatTemplate::detect(hfChatTemplate(path), (*weights)->config.archName);
        return std::make_shared<const Model>(*weights, std::move(*tokenizer), std::move(tmpl),
                                             path.filename().string(), path);
    }
    if (!std::filesystem::exists(path, ec))
        return std::unexpected(Error{ErrorCode::Io, "model not found: " + path.string()});
    if (!isGgufFile(path))
        return std::unexpected(Error{
            ErrorCode::Format, path.string() + " is neither a GGUF file nor a Hugging Face model folder"});
    auto file = GgufFile::open(path);
    if (!file)
        return std::unexpected(file.error());
    auto gguf = std::make_shared<const GgufFile>(std::move(*file));
    auto weights = gguf->getString("general.architecture") == "llama4" ? loadLlama4ModelWeights(gguf, llama4)
                                                                        : loadLlamaWeights(gguf);
    if (!weights)
        return std::unexpected(weights.error());
    auto tokenizer = Tokenizer::fromGguf(*gguf);
    if (!tokenizer)
        return std::unexpected(tokenizer.error());
    if (auto ok = checkVocab(*tokenizer, (*weights)->config, path.filename().string()); !ok)
        return std::unexpected(ok.error());
    auto tmpl = ChatTemplate::detect(gguf->getString("tokenizer.chat_template").value_or(""),
                                     (*weights)->config.archName);
    const std::string name = gguf->getString("general.name").value_or(path.stem().string());
    logMessage(LogLevel::Info, "loaded " + path.filename().string() + ": " + (*weights)->config.archName +
                                   ", " + std::to_string((*weights)->config.nLayers) + " layers, " +
                                   tokenizer->describe() + ", chat format " + std::string(tmpl.name()));
    return std::make_shared<const Model>(*weights, std::move(*tokenizer), std::move(tmpl), name, path);
}

std::vector<TokenId> Model::encodeChat(std::span<const ChatMessage> messages, bool addAssistantPrompt) const
{
    return m_tokenizer.encode(m_chatTemplate.render(messages, addAssistantPrompt), false, true);
}

Session::Session(std::shared_ptr<const Model> model, std::unique_ptr<Runner> runner, SessionOptions options)
    : m_model(std::move(model)), m_runner(std::move(runner)), m_options(std::move(options))
{
}

std::expected<std::unique_ptr<Session>, Error> Session::create(std::shared_ptr<const Model> model,
                                                               const SessionOptions& options)
{
    if (!model)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "no model"});
    auto backend = findBackend(options.backend);
    if (!backend)
        return std::unexpected(backend.error());
    RunnerOptions ro;
    ro.maxContext = options.maxContext;
    ro.threads = options.threads;
    ro.kvDtype = options.kvDtype;
    ro.deviceMemoryBudget = options.deviceMemoryBudget;
    auto runner = (*backend)->createRunner(model->weights(), ro);
    if (!runner)
        return std::unexpected(runner.error());
    return std::unique_ptr<Session>(new Session(std::move(model), std::move(*runner), options));
}

std::expected<void, Error> Session::prefill(std::span<const TokenId> tokens, const ProgressFn& progress,
                                            const std::atomic<bool>* cancel)
{
    if (tokens.empty())
        return {};
    if (std::size_t(position()) + tokens.size() > std::size_t(maxContext()))
        return std::unexpected(Error{ErrorCode::InvalidArgument,
                                     "the context would hold " + std::to_string(position() + tokens.size()) +
                                         " tokens; this session allows " + std::to_string(maxContext())});
    const std::size_t block = std::size_t(std::max(1, m_options.prefillBlock));
    const std::size_t vocab = std::size_t(m_model->config().vocabSize);
    std::vector<float> last(vocab);
    for (std::size_t done = 0; done < tokens.size();) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return std::unexpected(
                Error{ErrorCode::Cancelled, "prefill cancelled after " + std::to_string(done) + " of " +
                                                std::to_string(tokens.size()) + " tokens"});
        const std::size_t n = std::min(block, tokens.size() - done);
        const bool final = done + n == tokens.size();
        auto ok = m_runner->forward(tokens.subspan(done, n),
                                    final ? std::span<float>(last) : std::span<float>(), false);
        if (!ok)
            return ok;
        m_tokens.insert(m_tokens.end(), tokens.begin() + std::ptrdiff_t(done),
                        tokens.begin() + std::ptrdiff_t(done + n));
        done += n;
        m_logits.clear(); // stale until the final block
        if (final)
            m_logits = std::move(last);
        if (progress)
            progress(std::int64_t(done), std::int64_t(tokens.size()));
    }
    return {};
}

std::expected<GenerateResult, Error> Session::generate(Sampler& sampler, const GenerateOptions& options,
                                                       const TokenCallback& onToken,
                                                       const std::atomic<bool>* cancel)
{
    if (m_logits.empty())
        return std::unexpected(Error{ErrorCode::InvalidArgument, "generate() needs a prefilled context"});
    GenerateResult result;
    const Tokenizer& tok = m_model->tokenizer();
    TokenStreamDecoder decoder(tok);
    StopStringFilter filter(options.stopStrings);
    std::vector<TokenId> stops = m_model->stopTokens();
    stops.insert(stops.end(), options.extraStopTokens.begin(), options.extraStopTokens.end());

    // Shows whatever is still held back (unless a stop string ended the reply) and fills in the
    // result. Trailing text is passed to the callback with id -1.
    auto finish = [&](StopReason reason) {
        if (reason != StopReason::StopString) {
            auto [tail, hit] = filter.push(decoder.flush());
            if (hit)
                reason = StopReason::StopString;
            else
                tail += filter.flush();
            if (onToken && !tail.empty())
                onToken(-1, tail);
        }
        result.text = filter.text();
        result.reason = reason;
        return result;
    };

    for (int i = 0; i < options.maxTokens; ++i) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return finish(StopReason::Cancelled);
        const TokenId next = sampler.sample(m_logits, m_tokens);
        if (std::ranges::find(stops, next) != stops.end())
            return finish(StopReason::StopToken);
        result.tokens.push_back(next);
        const auto [shown, hitStop] = filter.push(decoder.push(next));
        if (onToken && !onToken(next, shown))
            return finish(StopReason::Callback);
        if (hitStop)
            return finish(StopReason::StopString);
        if (position() + 1 > maxContext())
            return finish(StopReason::ContextFull);
        const TokenId one[1] = {next};
        if (auto ok = m_runner->forward(one, m_logits, false); !ok)
            return std::unexpected(ok.error());
        m_tokens.push_back(next);
    }
    return finish(StopReason::MaxTokens);
}

void Session::truncate(int position)
{
    position = std::clamp(position, 0, this->position());
    m_runner->truncate(position);
    m_tokens.resize(std::size_t(position));
    m_logits.clear();
}

} // namespace quire::inference
