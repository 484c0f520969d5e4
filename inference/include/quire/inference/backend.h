// The seam between the engine API and the hardware. A Backend turns shared model weights into
// Runners; a Runner owns one KV cache on its device and runs the forward pass over a batch of
// tokens appended at its current position. The CPU backend ("cpu": threads + SIMD on quantized
// blocks; "cpu-reference": the readable oracle) is built in; the CUDA backend registers itself
// with registerBackend() when the app links it.
//
// Thread-safety: a Backend is immutable and may be shared; a Runner is used by one thread at a
// time. The registry functions are thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quire/inference/error.h"
#include "quire/inference/model_weights.h"

namespace quire::inference {

struct RunnerOptions {
    int maxContext = 0; // tokens the KV cache may hold; 0 = the model's context length
    int threads = 0;    // CPU worker threads; 0 = hardware concurrency
};

class Runner {
public:
    virtual ~Runner() = default;

    virtual std::string_view backendName() const = 0;
    // Appends `tokens` at position() and runs the model over them. `logits` receives vocab
    // floats for the last token (nothing when `logits` is empty), or tokens.size() * vocab when
    // allLogits (row t for token t).
    virtual std::expected<void, Error> forward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                               bool allLogits) = 0;
    // Tokens held in the KV cache.
    virtual int position() const = 0;
    virtual int maxContext() const = 0;
    // Forgets every token at or after `position` (for re-generation and rollback).
    virtual void truncate(int position) = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string_view name() const = 0;
    virtual std::expected<std::unique_ptr<Runner>, Error>
    createRunner(std::shared_ptr<const ModelWeights> weights, const RunnerOptions& options) const = 0;
};

// The optimised CPU path, and the reference forward pass it is checked against.
std::shared_ptr<const Backend> cpuBackend();
std::shared_ptr<const Backend> cpuReferenceBackend();

// Backends by name: "cpu" and "cpu-reference" always; others once registered.
void registerBackend(std::string name, std::shared_ptr<const Backend> backend);
std::expected<std::shared_ptr<const Backend>, Error> findBackend(std::string_view name);
std::vector<std::string> backendNames();

} // namespace quire::inference
