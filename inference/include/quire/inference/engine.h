// The engine API. A Model is loaded weights + tokenizer + chat format, immutable and shared
// (std::shared_ptr<const Model>) by any number of Sessions and threads. A Session is one
// conversation state: a KV cache on one backend, fed by prefill() and extended by generate().
// A Session is used by one thread at a time; cancel flags may be set from any thread.
//
// Long calls take a progress callback and a cancel flag and check them once per prefill block
// or generated token. Every failure comes back as an Error; nothing is thrown across this API.
// exportBlock()/importBlock() move the KV of a token range out of and into a Session in the
// block format of kv_blocks.h (the snapshot store).
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quire/inference/backend.h"
#include "quire/inference/chat_template.h"
#include "quire/inference/error.h"
#include "quire/inference/kv_blocks.h"
#include "quire/inference/llama4.h"
#include "quire/inference/model_weights.h"
#include "quire/inference/sampler.h"
#include "quire/inference/tokenizer.h"

namespace quire::inference {

class Model {
public:
    // A GGUF file or a Hugging Face directory (config.json, tokenizer.json, *.safetensors).
    // `llama4` applies to Llama 4 models only (quantization on load).
    static std::expected<std::shared_ptr<const Model>, Error> load(const std::filesystem::path& path,
                                                                   const Llama4LoadOptions& llama4 = {});

    const ModelConfig& config() const { return m_weights->config; }
    const std::shared_ptr<const ModelWeights>& weights() const { return m_weights; }
    const Tokenizer& tokenizer() const { return m_tokenizer; }
    const ChatTemplate& chatTemplate() const { return m_chatTemplate; }
    const std::string& name() const { return m_name; }
    const std::filesystem::path& path() const { return m_path; }
    // Tokens that end generation (end of text, end of turn).
    const std::vector<TokenId>& stopTokens() const { return m_stopTokens; }

    // Renders the chat with the model's template and tokenizes it (special tokens parsed).
    std::vector<TokenId> encodeChat(std::span<const ChatMessage> messages,
                                    bool addAssistantPrompt = true) const;

    Model(std::shared_ptr<const ModelWeights> weights, Tokenizer tokenizer, ChatTemplate chatTemplate,
          std::string name, std::filesystem::path path);

private:
    std::shared_ptr<const ModelWeights> m_weights;
    Tokenizer m_tokenizer;
    ChatTemplate m_chatTemplate;
    std::string m_name;
    std::filesystem::path m_path;
    std::vector<TokenId> m_stopTokens;
};

struct SessionOptions {
    std::string backend = "cpu"; // a name known to findBackend()
    int maxContext = 0;          // 0: the model's context length
    int threads = 0;             // CPU threads; 0: all cores
    int prefillBlock = 256;      // tokens per prefill step (progress and cancel granularity)
    std::optional<KvDtype> kvDtype;        // RunnerOptions::kvDtype
    std::uint64_t deviceMemoryBudget = 0;  // RunnerOptions::deviceMemoryBudget
};

// Progress of a long call: units done of total (tokens for prefill).
using ProgressFn = std::function<void(std::int64_t done, std::int64_t total)>;

struct GenerateOptions {
    int maxTokens = 256;
    std::vector<std::string> stopStrings; // generation ends before any of these texts
    std::vector<TokenId> extraStopTokens; // in addition to the model's stop tokens
};

enum class StopReason { StopToken, StopString, MaxTokens, Cancelled, ContextFull, Callback };

struct GenerateResult {
    std::string text;            // the reply, stop string excluded
    std::vector<TokenId> tokens; // generated ids, stop token excluded
    StopReason reason = StopReason::MaxTokens;
};

// Called with each new token and the text it completes (possibly empty: a UTF-8 character or a
// possible stop string may still be pending). Text still held back when generation ends comes
// with id -1. Return false to stop generating.
using TokenCallback = std::function<bool(TokenId id, std::string_view text)>;

class Session {
public:
    static std::expected<std::unique_ptr<Session>, Error> create(std::shared_ptr<const Model> model,
                                                                 const SessionOptions& options = {});

    // Appends tokens to the context in blocks of options.prefillBlock; progress is reported and
    // cancel checked after each block (a cancelled prefill keeps the blocks already done).
    std::expected<void, Error> prefill(std::span<const TokenId> tokens, const ProgressFn& progress = {},
                                       const std::atomic<bool>* cancel = nullptr);
    // Samples tokens after the current context until a stop token or string, maxTokens, the
    // context limit, the callback or cancel. Needs logits: call prefill() first. Generated
    // tokens join the context; the final stop token does not.
    std::expected<GenerateResult, Error> generate(Sampler& sampler, const GenerateOptions& options = {},
                                                  const TokenCallback& onToken = {},
                                                  const std::atomic<bool>* cancel = nullptr);

    // Next-token logits after the last context token (empty before the first prefill).
    std::span<const float> logits() const { return m_logits; }
    int position() const { return m_runner->position(); }
    int maxContext() const { return m_runner->maxContext(); }
    const std::vector<TokenId>& tokens() const { return m_tokens; }
    // Forgets the context from `position` on; logits are gone until the next prefill.
    void truncate(int position);

    // KV blocks (kv_blocks.h). kvLayout() fails with ErrorCode::Unsupported on a backend that
    // cannot export yet.
    std::expected<KvLayout, Error> kvLayout() const { return m_runner->kvLayout(); }
    // The KV of positions [begin, end) (end <= position()) as one block; for a model with
    // chunked attention, `end` must be position() when it falls inside a chunk.
    std::expected<std::vector<std::byte>, Error> exportBlock(int begin, int end) const;
    // Appends the block's tokens with its KV (exported at this position under the same model
    // fingerprint) instead of computing them. On failure the session is as before. Logits stay
    // empty until the next prefill.
    std::expected<void, Error> importBlock(std::span<const std::byte> block);

    const Model& model() const { return *m_model; }
    std::string_view backendName() const { return m_runner->backendName(); }

private:
    Session(std::shared_ptr<const Model> model, std::unique_ptr<Runner> runner, SessionOptions options);
    std::shared_ptr<const Model> m_model;
    std::unique_ptr<Runner> m_runner;
    SessionOptions m_options;
    std::vector<TokenId> m_tokens;
    std::vector<float> m_logits;
};

} // namespace quire::inference
