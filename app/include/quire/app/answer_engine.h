// The engine side of answering: one loaded model and one engine Session whose KV cache holds the
// workspace context, a prefill that reuses the longest prefix already held, and ask(): the
// question appended after the context, the answer streamed token by token, then its citations
// parsed, resolved and verified (citation.h), with timings.
//
// Prefix reuse goes through PrefixCache. InMemoryPrefixCache keeps the KV in memory in this
// process (the session's own cache: a second question, or a context with documents appended,
// recomputes only what follows the common prefix). StoredPrefixCache (kv_snapshots.h) also
// restores the longest stored prefix from the KV block store and saves each prefilled block.
//
// Never truncates: a context that does not fit the session's window with room for the question
// and the answer is refused (EngineError::DoesNotFit) with the numbers, so the user can leave
// documents out (budget.h).
//
// Threads: an AnswerEngine is used by one thread at a time (the AnswerService's worker); the
// cancel flags may be set from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "quire/app/citation.h"
#include "quire/app/context_assembly.h"
#include "quire/inference/engine.h"

namespace quire::app {

struct EngineOptions {
    std::filesystem::path modelPath;
    std::string backend = "cpu";
    int threads = 0;        // 0: all cores
    int maxContext = 0;     // 0: the model's context length
    int prefillBlock = 256; // tokens per prefill step (progress and cancel granularity)
    // Llama 4 models: quantization on load, a Llama4Quantization preset ("none", "int4-fp8",
    // "int4-int8", "int8", "fp8"); other models load as stored.
    std::string quantization = "none";
    // How the engine holds its KV cache: "auto" (the backend's default), "f32", "f16", "bf16",
    // "fp8". A dtype the backend cannot hold is refused when the engine opens, by name.
    std::string kvDtype = "auto";
    // Device memory the engine may use, bytes; 0: all that is free. Device backends only.
    std::uint64_t gpuMemoryBytes = 0;
};

struct EngineError {
    enum class Code { Model, DoesNotFit, Cancelled, Engine, Invalid };
    Code code = Code::Engine;
    std::string message;
};

// Where a prefix of the context can come from instead of being computed.
class PrefixCache {
public:
    virtual ~PrefixCache() = default;
    virtual std::string describe() const = 0;
    // Leaves `session` holding the longest prefix of `tokens` this cache can provide (possibly
    // none) and returns its length. Tokens the session holds beyond it are dropped. A cache that
    // reads from storage reports progress (tokens of `tokens` held) and stops early when cancelled.
    virtual std::size_t restore(inference::Session& session, std::span<const inference::TokenId> tokens,
                                const inference::ProgressFn& progress, const std::atomic<bool>* cancel) = 0;
    // The session now holds `tokens` (a finished or cancelled prefill); a persistent cache saves
    // what it does not have yet.
    virtual void store(inference::Session& session) = 0;
    // Prefills context[session.position():]; progress counts tokens of the whole context. A
    // persistent cache saves blocks as they finish.
    virtual std::expected<void, inference::Error> prefill(inference::Session& session,
                                                          std::span<const inference::TokenId> context,
                                                          const inference::ProgressFn& progress,
                                                          const std::atomic<bool>* cancel);
    // The workspace the next contexts belong to (persistent caches name snapshots per workspace).
    virtual void setWorkspace(std::int64_t) {}
    // Messages for the user since the last call (e.g. why a stored snapshot was not loaded).
    virtual std::vector<std::string> takeNotes() { return {}; }
    // Replaces the session's context with the named snapshot of `workspace`; returns what was
    // restored, in words. A cache without stored snapshots says so.
    // Progress counts tokens of the snapshot; a cancelled restore keeps what it imported and says so.
    virtual std::expected<std::string, std::string> restoreNamed(inference::Session&, std::int64_t workspace,
                                                                 const std::string& name,
                                                                 const inference::ProgressFn& progress,
                                                                 const std::atomic<bool>* cancel);
};

// The session's own KV, in memory, for the life of the process.
class InMemoryPrefixCache : public PrefixCache {
public:
    std::string describe() const override { return "in memory (this process)"; }
    std::size_t restore(inference::Session& session, std::span<const inference::TokenId> tokens,
                        const inference::ProgressFn& progress, const std::atomic<bool>* cancel) override;
    void store(inference::Session&) override {}
};

struct PrefillStats {
    std::int64_t contextTokens = 0;
    std::int64_t reusedTokens = 0; // from the prefix cache
    std::int64_t computedTokens = 0;
    double seconds = 0;
    double tokensPerSecond = 0; // of the computed part (0 when nothing was computed)
    bool cancelled = false;
    std::vector<std::string> notes; // from the prefix cache
};

struct AskOptions {
    int maxTokens = 200;
    inference::SamplerConfig sampler = defaultSampler();
    CheckOptions check;

    static inference::SamplerConfig defaultSampler()
    {
        inference::SamplerConfig c; // greedy: the same question gives the same answer
        c.repetitionPenalty = 1.1f; // small models loop without it
        return c;
    }
};

struct AnswerTimings {
    std::int64_t contextTokens = 0;
    std::int64_t questionTokens = 0;
    std::int64_t answerTokens = 0;
    std::int64_t reusedTokens = 0; // context tokens the prefix cache provided
    std::int64_t prefillMs = 0;    // context (the part not reused) and question
    std::int64_t firstTokenMs = 0; // from the call to the first answer token
    std::int64_t totalMs = 0;
};

struct AnswerOutcome {
    std::string question;
    std::string text;
    AnswerCheck check;
    AnswerTimings timings;
    inference::StopReason stop = inference::StopReason::MaxTokens;
    std::vector<std::string> notes; // from the prefix cache (restored, saved, refused snapshots)
};

// Receives answer text as it completes (UTF-8, whole characters).
using TextSink = std::function<void(std::string_view text)>;

class AnswerEngine {
public:
    static std::expected<std::unique_ptr<AnswerEngine>, EngineError>
    open(const EngineOptions& options, std::unique_ptr<PrefixCache> cache = {});

    const inference::Model& model() const { return *m_model; }
    const inference::Tokenizer& tokenizer() const { return m_model->tokenizer(); }
    const inference::ChatTemplate& chatTemplate() const { return m_model->chatTemplate(); }
    const EngineOptions& options() const { return m_options; }
    int contextWindow() const { return m_session->maxContext(); }
    // Identifies the model (inference::modelFingerprint) and the backend (sessions in storage
    // record it).
    const std::string& fingerprint() const { return m_fingerprint; }
    const PrefixCache& prefixCache() const { return *m_cache; }
    void setWorkspace(std::int64_t workspace) { m_cache->setWorkspace(workspace); }
    // Context tokens the session holds now.
    std::int64_t heldTokens() const { return m_session->position(); }
    // The session holds the named snapshot of `workspace` afterwards (see PrefixCache).
    std::expected<std::string, std::string> restoreSnapshot(std::int64_t workspace, const std::string& name,
                                                            const inference::ProgressFn& progress = {},
                                                            const std::atomic<bool>* cancel = nullptr)
    {
        return m_cache->restoreNamed(*m_session, workspace, name, progress, cancel);
    }

    // Tokens a question and its answer need after the context (a conservative bound).
    std::int64_t reserveTokens(const Preset& preset, int maxAnswerTokens) const;

    // Makes the session hold `context` (reusing the longest prefix it can). Refuses a context
    // that does not leave `reserve` tokens free.
    std::expected<PrefillStats, EngineError> prefill(std::span<const inference::TokenId> context,
                                                     std::int64_t reserve,
                                                     const inference::ProgressFn& progress,
                                                     const std::atomic<bool>* cancel);

    // Prefills the context if needed, asks, streams the answer to `sink`, checks its citations.
    // The session is rolled back to the context afterwards, ready for the next question.
    std::expected<AnswerOutcome, EngineError> ask(const AssembledContext& context, const Preset& preset,
                                                  const std::string& question, const AskOptions& options,
                                                  const TextSink& sink, const inference::ProgressFn& progress,
                                                  const std::atomic<bool>* cancel);

private:
    AnswerEngine() = default;
    EngineOptions m_options;
    std::shared_ptr<const inference::Model> m_model;
    std::unique_ptr<inference::Session> m_session;
    std::unique_ptr<PrefixCache> m_cache;
    std::string m_fingerprint;
};

} // namespace quire::app
