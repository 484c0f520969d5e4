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
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quire/inference/error.h"
#include "quire/inference/model_weights.h"

namespace quire::inference {

// How a Runner holds its KV cache, for export to and import from the KV block store.
enum class KvDtype : std::uint8_t { F32 = 1, F16 = 2, BF16 = 3, Fp8E4M3 = 4 }; // persisted: never reuse
std::size_t kvDtypeBytes(KvDtype dtype);
std::string_view toString(KvDtype dtype);
// "f32", "f16", "bf16", "fp8" (or "fp8e4m3"); nullopt for any other text.
std::optional<KvDtype> parseKvDtype(std::string_view text);

struct KvLayout {
    KvDtype dtype = KvDtype::F32;
    int nLayers = 0;
    int nKvHeads = 0;
    int headDim = 0;
    // Layers with chunked attention keep only the current chunk of chunkSize positions (a ring);
    // the other layers keep every position. Empty `chunked`: no chunked layer.
    int chunkSize = 0;
    std::vector<std::uint8_t> chunked;

    int kvDim() const { return nKvHeads * headDim; }
    bool isChunked(int layer) const { return !chunked.empty() && chunked[std::size_t(layer)] != 0; }
    std::size_t rowBytes() const { return std::size_t(kvDim()) * kvDtypeBytes(dtype); } // one position
};

struct RunnerOptions {
    int maxContext = 0; // tokens the KV cache may hold; 0 = the model's context length
    int threads = 0;    // CPU worker threads; 0 = hardware concurrency
    // How the KV cache holds K and V. nullopt: the backend's default (CPU: f32; CUDA: bf16, and
    // fp8 for the global layers of Llama 4). The cpu backend holds f32, f16 or bf16 (2 bytes an
    // element, rounded to nearest even as rows are stored); cpu-reference f32 only. A dtype the
    // runner cannot hold is refused with ErrorCode::Unsupported naming the dtype and the backend,
    // never silently replaced.
    std::optional<KvDtype> kvDtype;
    // Device memory the runner may allocate, in bytes; 0: all that is free. A device backend
    // plans its context within it and refuses a longer request; CPU backends ignore it.
    std::uint64_t deviceMemoryBudget = 0;
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

    // KV export and import (the snapshot store). A backend that cannot do it yet keeps these
    // defaults, which return ErrorCode::Unsupported naming the backend.
    virtual std::expected<KvLayout, Error> kvLayout() const;
    // Copies K and V of positions [begin, end) of `layer` ([end - begin][kvDim] each, in the
    // layout's dtype) into `k` and `v`. Positions must be held: below position(), and for a
    // chunked layer inside the chunk that holds position() - 1.
    virtual std::expected<void, Error> readKv(int layer, int begin, int end, std::span<std::byte> k,
                                              std::span<std::byte> v) const;
    // Appends `tokens` at position() without running the model; the caller must then fill their
    // K/V with writeKv() (every non-chunked layer; chunked layers for the positions of the last
    // chunk) before the next forward(). On any failure the caller truncates back.
    virtual std::expected<void, Error> appendUncomputed(std::span<const std::int32_t> tokens);
    virtual std::expected<void, Error> writeKv(int layer, int begin, int end, std::span<const std::byte> k,
                                               std::span<const std::byte> v);
};

// For Runner implementations of readKv/writeKv: layer in [0, nLayers), 0 <= begin <= end <= held,
// and k and v of (end - begin) * rowBytes bytes each; else InvalidArgument saying which.
std::expected<void, Error> checkKvCopy(int layer, int nLayers, int begin, int end, int held, std::size_t kBytes,
                                       std::size_t vBytes, std::size_t rowBytes);
// For Runner implementations of forward/appendUncomputed: every id in [0, vocab) and
// held + tokens.size() <= maxContext; else InvalidArgument naming the id or the context.
std::expected<void, Error> checkAppend(std::span<const std::int32_t> tokens, int held, int maxContext, int vocab);

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
