// The token budget of a workspace's context, shown before any prefill: per source its token count
// (an estimate from the text size until the text has been tokenized, exact after), the total
// against the model's context window with room kept for the question and the answer, the KV
// memory the context needs, and the prefill time estimated from measured tokens per second.
// When it does not fit, the report says by how much and which documents the user may leave out;
// nothing is ever cut silently: the answer service refuses a context that does not fit.
//
// KV memory comes from a KvEstimator chosen by architecture. The dense estimate is per token
// layers x kv heads x head dim x 2 (K and V) x bytes per element. For Llama 4 the budget uses
// Inference II's estimate (llama4_memory.h): global layers hold every token, chunked layers at
// most one attention chunk; set BudgetInput::llama4 (llama4ConfigOf() gives it for a loaded model).
// Other architectures may register an estimator through registerKvEstimator().
//
// Pure functions and values; registerKvEstimator() is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "quire/inference/llama4.h"
#include "quire/inference/model_weights.h"
#include "quire/ingest/model/types.h"

namespace quire::app {

struct KvEstimate {
    std::int64_t bytesPerToken = 0; // averaged over the context where layers differ
    std::int64_t totalBytes = 0;
    std::string formula; // how it was computed, for people
};

// config, context tokens, bytes per K/V element (4 for the CPU engine's f32 cache).
using KvEstimator =
    std::function<KvEstimate(const inference::ModelConfig&, std::int64_t tokens, int bytesPerElement)>;

KvEstimate denseKvEstimate(const inference::ModelConfig& config, std::int64_t tokens, int bytesPerElement);
// The estimator for the model's architecture (the dense one unless another was registered).
KvEstimate estimateKv(const inference::ModelConfig& config, std::int64_t tokens, int bytesPerElement);
void registerKvEstimator(inference::ModelArch arch, KvEstimator estimator);
// The KV of a Llama 4 context: Inference II's estimate (global + one chunk of chunked layers), the
// chunked layers' elements chunkedBytesPerElement bytes when given (else bytesPerElement).
KvEstimate llama4KvEstimate(const inference::Llama4Config& config, std::int64_t tokens, int bytesPerElement,
                            int chunkedBytesPerElement = 0);
// The Llama 4 configuration of loaded weights (nullopt for other architectures).
std::optional<inference::Llama4Config> llama4ConfigOf(const inference::ModelWeights& weights);
// Bytes per KV element of a backend's cache for an EngineOptions::kvDtype: the dtype's size when
// one is named, else the backend's default ("cpu"/"cpu-reference": f32; "cuda": bf16).
int kvBytesPerElement(const std::string& backend, const std::string& kvDtype = "auto");
// The same for a Llama 4 model, whose two kinds of layers may differ: on CUDA the global layers' pages
// are fp8 unless bf16 is asked for, and the chunked layers' ring is always bf16; on the CPU both are
// kvBytesPerElement's.
struct Llama4KvBytes {
    int global = 4;
    int chunked = 4;
};
Llama4KvBytes llama4KvBytesPerElement(const std::string& backend, const std::string& kvDtype = "auto");

// A token estimate for text not tokenized yet: one token per 4 bytes, rounded up.
std::int64_t estimateTokens(std::int64_t textBytes);

struct SourceBudget {
    int number = 0; // "doc N"; 0 for a source without a document
    std::string path;
    std::string displayPath; // relative to its batch's folder
    ingest::SourceKind kind = ingest::SourceKind::Unknown;
    ingest::SourceStatus status = ingest::SourceStatus::Pending;
    std::int64_t estimatedTokens = 0;        // from the text size
    std::optional<std::int64_t> exactTokens; // after tokenization: header and marks included
    bool excluded = false;                   // left out by the user
    bool inContext = false;                  // has text and is not excluded
    std::string note;                        // e.g. why a source has no text
    std::int64_t tokens() const { return exactTokens.value_or(estimatedTokens); }
};

struct BudgetInput {
    std::vector<SourceBudget> sources; // context order
    std::int64_t promptTokens = 0;     // template opening, system prompt, overviews
    std::int64_t contextWindow = 0;    // tokens the session holds
    std::int64_t reserveTokens = 0;    // kept for the question and the answer
    inference::ModelConfig config;
    std::optional<inference::Llama4Config> llama4; // set for Llama 4 models
    int kvBytesPerElement = 4;        // for Llama 4: the global layers'
    int chunkedKvBytesPerElement = 0; // Llama 4's chunked layers, when they differ (0: the same)
    std::optional<double> prefillTokensPerSecond; // measured
    std::string throughputNote;                   // where the speed comes from
};

struct BudgetReport {
    BudgetInput input;
    std::int64_t contextTokens = 0; // prompt + included documents
    std::int64_t neededTokens = 0;  // context + reserve
    bool fits = false;
    bool allExact = false;   // every included source has an exact count
    std::int64_t overBy = 0; // needed - window when it does not fit
    KvEstimate kv;           // for neededTokens
    std::optional<double> prefillSeconds;
    // When it does not fit: documents whose exclusion would make it fit, largest first (a
    // suggestion; the user chooses).
    std::vector<int> suggestExclude;
};

BudgetReport computeBudget(BudgetInput input);

// "1.5 GiB", "312 MiB", "12 KiB".
std::string formatBytes(std::int64_t bytes);
// "2 h 05 min", "3 min 12 s", "4.2 s".
std::string formatDuration(double seconds);

} // namespace quire::app
