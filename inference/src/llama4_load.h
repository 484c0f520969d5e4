// Shared machinery of the Llama 4 loaders (Hugging Face safetensors and GGUF): every matrix is
// described by where its elements sit in the mapped file; matrices kept as stored become views,
// the rest (quantized, converted, or HF expert tensors, which are stored [in, out]) become jobs
// that fill buffers owned by the weights, run on a few threads with progress and cancel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "quire/inference/llama4.h"

namespace quire::inference::l4 {

// Where a matrix's elements are. Row-major: element (r, c) is in row r (rowBytes apart), of any
// GGML type. Transposed (HF experts, F32/F16/BF16 only): element (r, c) = src[c * ld + offset + r].
struct SourceMatrix {
    std::string name;
    GgmlType type = GgmlType::F32;
    const std::byte* data = nullptr;
    std::int64_t rows = 0, cols = 0;
    std::size_t rowBytes = 0; // row-major
    bool transposed = false;
    std::int64_t ld = 0, offset = 0; // transposed, in elements
};

class MatrixBuilder {
public:
    MatrixBuilder(Llama4Weights& weights, const Llama4LoadOptions& options) : m_w(weights), m_options(options)
    {
    }

    // The matrix in `format` (Source: as stored when it is row-major, else its float type).
    // Views are ready at once; other matrices are filled by run().
    std::expected<WeightMatrix, Error> add(const SourceMatrix& src, WeightFormat format);
    // Fills every pending matrix; the WeightMatrix values returned by add() stay valid.
    std::expected<void, Error> run();

private:
    struct Job {
        SourceMatrix src;
        WeightMatrix dst;
        std::int64_t r0 = 0, r1 = 0;
    };
    void runJob(const Job& job, std::vector<float>& scratch) const;

    Llama4Weights& m_w;
    const Llama4LoadOptions& m_options;
    std::vector<Job> m_jobs;
};

// Fills the weights' fields one after another, keeping the first error: after it, later calls do
// nothing, and the loader reports it once it has walked the tensor list.
class WeightFiller {
public:
    explicit WeightFiller(MatrixBuilder& builder) : m_builder(builder) {}

    void matrix(WeightMatrix& dst, std::expected<SourceMatrix, Error> src, WeightFormat format)
    {
        if (!ok())
            return;
        if (!src)
            return fail(src.error());
        auto m = m_builder.add(*src, format);
        if (!m)
            return fail(m.error());
        dst = std::move(*m);
    }
    void vector(std::vector<float>& dst, std::expected<std::vector<float>, Error> src)
    {
        if (!ok())
            return;
        if (!src)
            return fail(src.error());
        dst = std::move(*src);
    }
    void fail(Error e)
    {
        if (ok())
            m_status = std::unexpected(std::move(e));
    }
    bool ok() const { return m_status.has_value(); }
    const Error& error() const { return m_status.error(); }

private:
    MatrixBuilder& m_builder;
    std::expected<void, Error> m_status;
};

// The format a Source request gives for a row-major stored type.
WeightFormat storedFormat(GgmlType type);

// Fills the base ModelWeights fields from the Llama 4 configuration, computes the RoPE table and
// checks every matrix and vector against the configuration.
std::expected<void, Error> finishWeights(Llama4Weights& w);

// A Hugging Face folder: config.json and *.safetensors (model_llama4_hf.cpp).
std::expected<std::shared_ptr<const Llama4Weights>, Error> loadHf(const std::filesystem::path& dir,
                                                                  const Llama4LoadOptions& options);

} // namespace quire::inference::l4
