// Llama 4 text models (Scout 17B-16E and its family): the configuration with its per-layer
// schedule, the weights, and loading from Hugging Face safetensors (Llama4ForCausalLM and
// Llama4ForConditionalGeneration, whose vision tensors are recognised and skipped) or from a
// llama.cpp `llama4` GGUF file, with optional quantization on load (int4 group-wise for the
// experts, fp8 e4m3 or int8 for attention and the LM head). shared/spec/llama4-architecture.md is
// the specification; Hugging Face transformers is the reference.
//
// Ownership: a Llama4Weights keeps the memory-mapped file(s) alive and owns every matrix it
// quantized or transposed on load. Immutable after loading; safe to share between threads and
// backends. The free functions are pure and thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quire/inference/backend.h"
#include "quire/inference/error.h"
#include "quire/inference/gguf.h"
#include "quire/inference/model_weights.h"

namespace quire::inference {

struct Llama4Config {
    int nLayers = 0;
    int dim = 0; // hidden_size
    int nHeads = 0;
    int nKvHeads = 0;
    int headDim = 0;
    int vocabSize = 0;
    std::int64_t contextLength = 0; // max_position_embeddings (not used by the math)
    int expertDim = 0;              // intermediate_size: each routed expert and the shared expert
    int denseDim = 0;               // intermediate_size_mlp: dense MLP layers
    int nExperts = 0;               // num_local_experts
    int expertsPerToken = 1;
    float rmsEps = 1e-5f; // also the QK norm's epsilon
    float ropeTheta = 500000.0f;
    RopeScaling ropeScaling; // None or Llama3 (Linear is accepted too)
    int chunkSize = 0;       // attention_chunk_size; 0: every layer attends globally
    bool qkNorm = true;
    bool temperatureTuning = true;
    float floorScale = 8192.0f;
    float attnScale = 0.1f;
    bool tiedEmbeddings = false;
    int bosId = -1;
    std::vector<int> eosIds;
    // Per layer: 1 when the layer uses RoPE (HF's misnamed no_rope_layers), 1 when its FFN is
    // MoE, 1 when its attention is chunked (RoPE layers, unless layer_types says otherwise).
    std::vector<std::uint8_t> useRope, moe, chunked;

    int qDim() const { return nHeads * headDim; }
    int kvDim() const { return nKvHeads * headDim; }
    int chunkedLayerCount() const;
    int globalLayerCount() const { return nLayers - chunkedLayerCount(); }
};

// The KV layout of a Llama 4 runner whose cache holds `dtype` elements: the chunked layers marked
// when the model has any (their rows are a ring of one chunk). The CPU and CUDA runners share it.
KvLayout llama4KvLayout(const Llama4Config& c, KvDtype dtype);

// Storage formats of Llama 4 weight matrices, [rows = outputs][cols = inputs], row by row.
enum class WeightFormat : std::uint8_t {
    Source, // load option only: keep what the file holds
    F32,
    F16,
    BF16,
    Ggml,    // a GGUF block type (Q4_K, Q8_0, ...), computed by dequantising rows
    Int8,    // row: f32 scale, then cols int8; w = q * scale (symmetric, per row)
    Fp8E4M3, // row: f32 scale, then cols e4m3fn bytes; w = e4m3(b) * scale (per row, |w|max -> 448)
    Int4,    // row: ceil(cols/G) f32 scales, then cols/2 bytes (element 2i low nibble, 2i+1
             // high); w = (q - 8) * scale[group], q in 0..15 (symmetric: no offset; the scale
             // is the least-squares choice near |w|max / 7)
};
std::string_view toString(WeightFormat format);

// Bytes of one row of `cols` inputs in `format` (Ggml: of `ggmlType`); 0 when impossible.
std::size_t weightRowBytes(WeightFormat format, std::int64_t cols, int groupSize = 128,
                           GgmlType ggmlType = GgmlType::F32);

// Which formats the matrices take on load. Source keeps the file's own; F32/F16/BF16 convert;
// Int4/Int8/Fp8E4M3 quantize (rounding to nearest). The router, norms and the token embedding
// are never quantized (the router decides top-1 routing and is tiny).
struct Llama4Quantization {
    WeightFormat experts = WeightFormat::Source;   // routed experts
    WeightFormat sharedFfn = WeightFormat::Source; // the shared expert and dense MLP layers
    WeightFormat attention = WeightFormat::Source; // q, k, v, o
    WeightFormat lmHead = WeightFormat::Source;
    // Int4 group along the input dimension. A row whose length is not a multiple keeps a
    // shorter last group (the tiny test model's expert width 48 is one group of 48).
    int groupSize = 128;

    // "none" (Source everywhere), "int4-fp8" (experts and shared FFN int4, attention and LM head
    // fp8), "int4-int8" (the same with int8), "int8", "fp8".
    static std::expected<Llama4Quantization, Error> preset(std::string_view name);
    bool any() const;
    std::string describe() const;
};

// A weight matrix in one of the formats above; `data` points into the mapped file or into a
// buffer owned by the Llama4Weights.
struct WeightMatrix {
    std::string name;
    WeightFormat format = WeightFormat::F32;
    GgmlType ggmlType = GgmlType::F32; // the block type when format == Ggml
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::size_t rowBytes = 0;
    int groupSize = 0; // Int4 only
    const std::byte* data = nullptr;

    const std::byte* row(std::int64_t r) const { return data + std::size_t(r) * rowBytes; }
    bool empty() const { return data == nullptr; }
    std::uint64_t bytes() const { return std::uint64_t(rows) * rowBytes; }
};

struct Llama4Layer {
    std::vector<float> attnNorm; // [dim]
    std::vector<float> ffnNorm;  // [dim]
    WeightMatrix wq, wk, wv, wo; // [qDim x dim], [kvDim x dim] x2, [dim x qDim]
    // MoE layers: router [nExperts][dim] (f32), per expert gate/up [expertDim x dim] and down
    // [dim x expertDim] (transposed from HF's [in, out] storage), and the shared expert.
    std::vector<float> router;
    std::vector<WeightMatrix> expertGate, expertUp, expertDown;
    WeightMatrix sharedGate, sharedUp, sharedDown;
    // Dense layers: [denseDim x dim] x2 and [dim x denseDim].
    WeightMatrix gate, up, down;
};

// ModelWeights with config.arch == ModelArch::Llama4. The base class carries the common
// hyperparameters (so Model and Session work unchanged), the token embedding and the final norm;
// its dense `layers` and `output` stay empty. Only the loaders below create these.
struct Llama4Weights : ModelWeights {
    Llama4Config llama4;
    std::vector<Llama4Layer> blocks;
    WeightMatrix embedding;                          // [vocab x dim]
    WeightMatrix lmHead;                             // [vocab x dim]
    std::vector<float> ropeFrequencies;              // [headDim/2] after llama3 scaling (spec 6.3)
    Llama4Quantization quantization;                 // what was applied on load
    std::vector<std::unique_ptr<std::byte[]>> owned; // quantized or transposed matrices
};

// The Llama 4 view of weights loaded by the functions below; nullptr for any other model.
const Llama4Weights* asLlama4(const ModelWeights& weights);

struct Llama4LoadOptions {
    Llama4Quantization quantization;
    int threads = 0; // for quantizing on load; 0: all cores
    std::function<void(std::int64_t done, std::int64_t total)> progress; // matrices prepared
    const std::atomic<bool>* cancel = nullptr;
};

// True when `path` is a Hugging Face folder whose config.json says llama4 / llama4_text, or a
// GGUF file whose general.architecture is llama4.
bool isLlama4Model(const std::filesystem::path& path);

// A Hugging Face folder (config.json + *.safetensors) or a GGUF file.
std::expected<std::shared_ptr<const Llama4Weights>, Error>
loadLlama4Weights(const std::filesystem::path& path, const Llama4LoadOptions& options = {});
std::expected<std::shared_ptr<const Llama4Weights>, Error>
loadLlama4WeightsGguf(std::shared_ptr<const GgufFile> gguf, const Llama4LoadOptions& options = {});

// The same, typed as the engine's ModelWeights (for Model::load and the backends).
std::expected<std::shared_ptr<const ModelWeights>, Error>
loadLlama4ModelWeights(const std::filesystem::path& path, const Llama4LoadOptions& options = {});
std::expected<std::shared_ptr<const ModelWeights>, Error>
loadLlama4ModelWeights(std::shared_ptr<const GgufFile> gguf, const Llama4LoadOptions& options = {});

// config.json text: the flat `llama4_text` form or the nested `llama4` form (text_config);
// rope_scaling / rope_parameters with rope_type or type; attn_temperature_tuning as a bool or a
// number; no_rope_layers or no_rope_layer_interval; moe_layers or interleave_moe_layer_step.
std::expected<Llama4Config, Error> parseLlama4Config(std::string_view jsonText,
                                                     const std::string& source = "config.json");
std::expected<Llama4Config, Error> llama4ConfigFromGguf(const GgufFile& file);

// The per-pair RoPE frequencies (headDim/2, fp32 as transformers computes them, llama3 scaling
// applied with the blend band only when high != low), and the NoPE-layer query temperature
// 1 + attnScale * log1p(floor((pos + 1) / floorScale)) (1 when tuning is off).
std::vector<float> llama4RopeFrequencies(const Llama4Config& config);
float llama4QueryTemperature(const Llama4Config& config, std::int64_t position);

} // namespace quire::inference
