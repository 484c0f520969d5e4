// The weights and hyperparameters of a dense Llama-family model (Llama 2/3, SmolLM2, Qwen2), as
// read from a GGUF file or a Hugging Face directory. Matrices stay in the memory-mapped file in
// their stored format (TensorView points into the mapping, which `storage` keeps alive); only the
// small vectors (norms, biases, rope factors) are copied to f32. Immutable after loading and
// safe to share between threads and backends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "quire/inference/error.h"
#include "quire/inference/gguf.h"

namespace quire::inference {

enum class ModelArch { Llama, Qwen2, Llama4 };  // Llama4: see llama4.h (Llama4Weights)

// Which elements RoPE rotates together: GGUF Llama files store Q/K permuted for adjacent pairs
// (2i, 2i+1); Hugging Face weights and Qwen2 use the split halves (i, i + d/2), "NeoX" style.
enum class RopeStyle { Interleaved, NeoX };

struct RopeScaling {
    enum class Type { None, Linear, Llama3 };
    Type type = Type::None;
    float factor = 1.0f;
    float lowFreqFactor = 1.0f;
    float highFreqFactor = 4.0f;
    int originalContext = 8192;
};

struct ModelConfig {
    ModelArch arch = ModelArch::Llama;
    std::string archName; // "llama", "qwen2", as named by the file
    int nLayers = 0;
    int dim = 0;    // residual stream width
    int ffnDim = 0; // SwiGLU hidden width
    int nHeads = 0;
    int nKvHeads = 0; // < nHeads: grouped-query attention
    int headDim = 0;
    int vocabSize = 0;
    int contextLength = 0;
    float rmsEps = 1e-5f;
    float ropeTheta = 10000.0f;
    int ropeDim = 0; // rotated dimensions per head (== headDim for this family)
    RopeStyle ropeStyle = RopeStyle::Interleaved;
    RopeScaling ropeScaling;
    bool tiedEmbeddings = false;

    int qDim() const { return nHeads * headDim; }
    int kvDim() const { return nKvHeads * headDim; }
};

// A 2-D weight matrix of `rows` rows of `cols` contiguous elements, in its stored format.
struct TensorView {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::size_t rowBytes = 0;
    const std::byte* data = nullptr;

    const std::byte* row(std::int64_t r) const { return data + std::size_t(r) * rowBytes; }
    bool empty() const { return data == nullptr; }
};

struct LayerWeights {
    std::vector<float> attnNorm;       // [dim]
    TensorView wq, wk, wv, wo;         // [qDim x dim], [kvDim x dim] x2, [dim x qDim]
    std::vector<float> bq, bk, bv, bo; // optional biases (Qwen2: q, k, v)
    std::vector<float> ffnNorm;        // [dim]
    TensorView wGate, wUp, wDown;      // [ffn x dim] x2, [dim x ffn]
};

struct ModelWeights {
    ModelConfig config;
    TensorView tokenEmbedding; // [vocab x dim]
    std::vector<LayerWeights> layers;
    std::vector<float> outputNorm;       // [dim]
    TensorView output;                   // [vocab x dim]; the embedding when tied
    std::vector<float> ropeFreqFactors;  // [ropeDim/2] divisors of each frequency, or empty
    std::string sourceDescription;       // file name and format, for messages and fingerprints
    std::shared_ptr<const void> storage; // keeps the mapped file(s) alive
};

// Loads the weights of a dense Llama-family GGUF file; the file is kept alive by the result.
std::expected<std::shared_ptr<const ModelWeights>, Error>
loadLlamaWeights(std::shared_ptr<const GgufFile> gguf);
// Loads a Hugging Face directory: config.json and *.safetensors (f32, f16, bf16).
std::expected<std::shared_ptr<const ModelWeights>, Error>
loadLlamaWeightsHf(const std::filesystem::path& dir);
// Reads only config.json of a Hugging Face directory.
std::expected<ModelConfig, Error> loadHfConfig(const std::filesystem::path& dir);

// The per-pair rotation frequencies (ropeDim/2 of them) after scaling and freq factors.
std::vector<float> ropeFrequencies(const ModelConfig& config, const std::vector<float>& freqFactors);

} // namespace quire::inference
