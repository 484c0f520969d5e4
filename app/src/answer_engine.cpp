#include "quire/app/answer_engine.h"

#include <algorithm>

namespace quire::app {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t msSince(Clock::time_point t0)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// The model's fingerprint (architecture, hyperparameters, weight files, quantization, KV dtype,
// RoPE, tokenizer) and the backend, as 32 hex digits.
std::string fingerprintOf(const inference::Session& session, const EngineOptions& o)
{
    inference::KvLayout kv;
    if (auto l = session.kvLayout())
        kv = *l;
    else { // a backend without KV export: describe its cache by the model's shape
        const auto& c = session.model().config();
        kv.nLayers = c.nLayers;
        kv.nKvHeads = c.nKvHeads;
        kv.headDim = c.headDim;
    }
    inference::Hasher128 h;
    h.update(inference::modelFingerprint(session.model(), kv).text());
    h.update("backend=" + o.backend);
    if (!session.kvLayout()) // the layout above is a guess: the requested dtype tells caches apart
        h.update("kv=" + o.kvDtype);
    return inference::toHex(h.digest());
}

EngineError fromInference(const inference::Error& e)
{
    if (e.code == inference::ErrorCode::Cancelled)
        return {EngineError::Code::Cancelled, "cancelled"};
    return {EngineError::Code::Engine, e.message};
}

} // namespace

std::expected<void, inference::Error> PrefixCache::prefill(inference::Session& session,
                                                           std::span<const inference::TokenId> context,
                                                           const inference::ProgressFn& progress,
                                                           const std::atomic<bool>* cancel)
{
    const std::size_t held = std::size_t(session.position());
    return session.prefill(
        context.subspan(held),
        [&](std::int64_t done, std::int64_t) {
            if (progress)
                progress(std::int64_t(held) + done, std::int64_t(context.size()));
        },
        cancel);
}

std::size_t InMemoryPrefixCache::restore(inference::Session& session,
                                         std::span<const inference::TokenId> tokens, const inference::ProgressFn&,
                                         const std::atomic<bool>*)
{
    const auto& held = session.tokens();
    const std::size_t limit = std::min({held.size(), tokens.size(), std::size_t(session.position())});
    std::size_t n = 0;
    while (n < limit && held[n] == tokens[n])
        ++n;
    if (n < std::size_t(session.position()))
        session.truncate(int(n));
    return n;
}

std::expected<std::unique_ptr<AnswerEngine>, EngineError>
AnswerEngine::open(const EngineOptions& options, std::unique_ptr<PrefixCache> cache)
{
    if (options.modelPath.empty() || !std::filesystem::exists(options.modelPath))
        return std::unexpected(
            EngineError{EngineError::Code::Model, "model not found: " + options.modelPath.string() +
                                                      " (run ./quire.sh setup, or pass --model)"});
    auto quantization = inference::Llama4Quantization::preset(options.quantization);
    if (!quantization)
        return std::unexpected(EngineError{EngineError::Code::Invalid, quantization.error().message});
    std::optional<inference::KvDtype> kvDtype;
    if (options.kvDtype != "auto" && !options.kvDtype.empty()) {
        kvDtype = inference::parseKvDtype(options.kvDtype);
        if (!kvDtype)
            return std::unexpected(EngineError{EngineError::Code::Invalid,
                                               "unknown KV dtype \"" + options.kvDtype +
                                                   "\" (have: auto, f32, f16, bf16, fp8)"});
    }
    inference::Llama4LoadOptions load;
    load.quantization = *quantization;
    load.threads = options.threads;
    auto model = inference::Model::load(options.modelPath, load);
    if (!model)
        return std::unexpected(EngineError{EngineError::Code::Model, model.error().message});
    inference::SessionOptions so;
    so.backend = options.backend;
    so.threads = options.threads;
    so.maxContext = options.maxContext > 0 ? std::min(options.maxContext, (*model)->config().contextLength)
                                           : (*model)->config().contextLength;
    so.prefillBlock = options.prefillBlock;
    so.kvDtype = kvDtype;
    so.deviceMemoryBudget = options.gpuMemoryBytes;
    auto session = inference::Session::create(*model, so);
    if (!session)
        return std::unexpected(EngineError{EngineError::Code::Model, session.error().message});
    std::unique_ptr<AnswerEngine> e(new AnswerEngine());
    e->m_options = options;
    e->m_model = std::move(*model);
    e->m_session = std::move(*session);
    e->m_cache = cache ? std::move(cache) : std::make_unique<InMemoryPrefixCache>();
    e->m_fingerprint = fingerprintOf(*e->m_session, options);
    return e;
}

std::int64_t AnswerEngine::reserveTokens(const Preset& preset, int maxAnswerTokens) const
{
    // The question prompt without the question, plus room for a question of a few lines.
    const auto frame = encodeQuestion(preset, "", tokenizer(), chatTemplate());
    return std::int64_t(frame.size()) + 128 + maxAnswerTokens;
}

std::expected<std::string, std::string> PrefixCache::restoreNamed(inference::Session&, std::int64_t,
                                                                  const std::string& name,
                                                                  const inference::ProgressFn&,
                                                                  const std::atomic<bool>*)
{
    return std::unexpected("snapshot \"" + name + "\" cannot be restored: the prefix cache is " + describe());
}

std::expected<PrefillStats, EngineError> AnswerEngine::prefill(std::span<const inference::TokenId> context,
                                                               std::int64_t reserve,
                                                               const inference::ProgressFn& progress,
                                                               const std::atomic<bool>* cancel)
{
    const std::int64_t window = contextWindow();
    if (std::int64_t(context.size()) + reserve > window) {
        return std::unexpected(EngineError{
            EngineError::Code::DoesNotFit,
            "the context needs " + std::to_string(context.size()) + " tokens plus " +
                std::to_string(reserve) + " for the question and answer, but the model's window is " +
                std::to_string(window) +
                " tokens; nothing was cut: leave documents out (quire-cli budget WORKSPACE --exclude N)"});
    }
    PrefillStats st;
    st.contextTokens = std::int64_t(context.size());
    const auto t0 = Clock::now();
    const std::size_t reused = m_cache->restore(*m_session, context, progress, cancel);
    st.reusedTokens = std::int64_t(reused);
    const auto rest = context.subspan(reused);
    if (!rest.empty()) {
        auto ok = m_cache->prefill(*m_session, context, progress, cancel);
        st.computedTokens = m_session->position() - std::int64_t(reused);
        m_cache->store(*m_session);
        st.notes = m_cache->takeNotes();
        if (!ok) {
            if (ok.error().code == inference::ErrorCode::Cancelled) {
                st.cancelled = true;
                st.seconds = double(msSince(t0)) / 1000.0;
                return st;
            }
            return std::unexpected(fromInference(ok.error()));
        }
    } else if (progress) {
        progress(std::int64_t(context.size()), std::int64_t(context.size()));
    }
    if (rest.empty())
        st.notes = m_cache->takeNotes();
    st.seconds = double(msSince(t0)) / 1000.0;
    if (st.computedTokens > 0 && st.seconds > 0)
        st.tokensPerSecond = double(st.computedTokens) / st.seconds;
    return st;
}

std::expected<AnswerOutcome, EngineError> AnswerEngine::ask(const AssembledContext& context,
                                                            const Preset& preset, const std::string& question,
                                                            const AskOptions& options, const TextSink& sink,
                                                            const inference::ProgressFn& progress,
                                                            const std::atomic<bool>* cancel)
{
    if (question.empty())
        return std::unexpected(EngineError{EngineError::Code::Invalid, "the question is empty"});
    const auto t0 = Clock::now();
    AnswerOutcome out;
    out.question = question;
    const auto q = encodeQuestion(preset, question, tokenizer(), chatTemplate());
    const std::int64_t reserve = std::int64_t(q.size()) + options.maxTokens;
    auto pre = prefill(context.tokens, reserve, progress, cancel);
    if (!pre)
        return std::unexpected(pre.error());
    if (pre->cancelled)
        return std::unexpected(EngineError{EngineError::Code::Cancelled, "cancelled during the prefill"});
    out.timings.contextTokens = pre->contextTokens;
    out.timings.reusedTokens = pre->reusedTokens;
    out.notes = pre->notes;
    out.timings.questionTokens = std::int64_t(q.size());

    // The session holds exactly the context now; roll back to it whatever happens next.
    const int contextEnd = m_session->position();
    struct Rollback {
        inference::Session& s;
        int to;
        ~Rollback() { s.truncate(to); }
    } rollback{*m_session, contextEnd};

    if (auto ok = m_session->prefill(q, {}, cancel); !ok)
        return std::unexpected(fromInference(ok.error()));
    out.timings.prefillMs = msSince(t0);

    inference::Sampler sampler(options.sampler);
    inference::GenerateOptions go;
    go.maxTokens = options.maxTokens;
    go.stopStrings = chatTemplate().stopStrings();
    bool first = true;
    auto result = m_session->generate(
        sampler, go,
        [&](inference::TokenId, std::string_view text) {
            if (first) {
                out.timings.firstTokenMs = msSince(t0);
                first = false;
            }
            if (!text.empty() && sink)
                sink(text);
            return true;
        },
        cancel);
    if (!result)
        return std::unexpected(fromInference(result.error()));
    out.text = result->text;
    out.stop = result->reason;
    out.timings.answerTokens = std::int64_t(result->tokens.size());
    out.timings.totalMs = msSince(t0);
    if (result->reason == inference::StopReason::Cancelled)
        return std::unexpected(EngineError{EngineError::Code::Cancelled, "cancelled during the answer"});
    out.check = checkAnswer(out.text, context.map, options.check);
    return out;
}

} // namespace quire::app
