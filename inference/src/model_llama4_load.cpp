// Llama 4 loading, format-independent parts: quantization and transposition jobs, the final
// checks, and the entry points that pick the file format.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "llama4_formats.h"
#include "llama4_load.h"
#include "quire/inference/json.h"
#include "quire/inference/log.h"
#include "quire/inference/quant.h"

namespace quire::inference {

namespace l4 {

namespace {

constexpr std::int64_t kJobRows = 2048; // rows per job: big matrices spread over threads
constexpr std::int64_t kTransposeBlock = 32;

float elementToFloat(GgmlType type, const std::byte* p)
{
    switch (type) {
    case GgmlType::F16:
        return fp16ToFp32(*reinterpret_cast<const std::uint16_t*>(p));
    case GgmlType::BF16:
        return bf16ToFp32(*reinterpret_cast<const std::uint16_t*>(p));
    default:
        return *reinterpret_cast<const float*>(p);
    }
}

std::size_t elementBytes(GgmlType type)
{
    return type == GgmlType::F32 ? 4 : 2;
}

} // namespace

WeightFormat storedFormat(GgmlType type)
{
    switch (type) {
    case GgmlType::F32:
        return WeightFormat::F32;
    case GgmlType::F16:
        return WeightFormat::F16;
    case GgmlType::BF16:
        return WeightFormat::BF16;
    default:
        return WeightFormat::Ggml;
    }
}

std::expected<WeightMatrix, Error> MatrixBuilder::add(const SourceMatrix& src, WeightFormat format)
{
    WeightMatrix m;
    m.name = src.name;
    m.rows = src.rows;
    m.cols = src.cols;
    if (src.transposed && src.type != GgmlType::F32 && src.type != GgmlType::F16 &&
        src.type != GgmlType::BF16)
        return std::unexpected(
            Error{ErrorCode::Unsupported, src.name + ": expert tensors must be F32, F16 or BF16"});
    if (format == WeightFormat::Source || format == storedFormat(src.type)) {
        format = storedFormat(src.type);
        if (!src.transposed) { // a view into the file
            m.format = format;
            m.ggmlType = src.type;
            m.rowBytes = src.rowBytes;
            m.data = src.data;
            return m;
        }
    }
    if (format == WeightFormat::Ggml)
        return std::unexpected(
            Error{ErrorCode::Unsupported, src.name + ": cannot convert to a GGML block type"});
    m.format = format;
    m.groupSize = format == WeightFormat::Int4 ? std::max(1, m_options.quantization.groupSize) : 0;
    m.rowBytes = weightRowBytes(format, m.cols, m.groupSize);
    const std::size_t bytes = m.rowBytes * std::size_t(m.rows);
    std::unique_ptr<std::byte[]> buffer(new (std::nothrow) std::byte[bytes]);
    if (!buffer)
        return std::unexpected(Error{ErrorCode::OutOfMemory, "out of memory preparing " + src.name + " (" +
                                                                 std::to_string(bytes >> 20) + " MiB)"});
    m.data = buffer.get();
    m_w.owned.push_back(std::move(buffer));
    for (std::int64_t r = 0; r < m.rows; r += kJobRows)
        m_jobs.push_back(Job{src, m, r, std::min(m.rows, r + kJobRows)});
    return m;
}

void MatrixBuilder::runJob(const Job& job, std::vector<float>& scratch) const
{
    const SourceMatrix& s = job.src;
    const WeightMatrix& d = job.dst;
    const auto cols = std::size_t(s.cols);
    auto* out = const_cast<std::byte*>(d.data); // the buffer this builder allocated
    if (!s.transposed) {
        scratch.resize(cols);
        for (std::int64_t r = job.r0; r < job.r1; ++r) {
            (void)dequantizeRow(s.type, s.data + std::size_t(r) * s.rowBytes, scratch.data(), s.cols);
            encodeRow(d.format, scratch.data(), out + std::size_t(r) * d.rowBytes, s.cols, d.groupSize);
        }
        return;
    }
    // Transposed: read each source row (one input index) once per block of output rows.
    const std::size_t eb = elementBytes(s.type);
    scratch.resize(std::size_t(kTransposeBlock) * cols);
    for (std::int64_t r0 = job.r0; r0 < job.r1; r0 += kTransposeBlock) {
        const std::int64_t n = std::min(kTransposeBlock, job.r1 - r0);
        for (std::size_t c = 0; c < cols; ++c) {
            const std::byte* p = s.data + (c * std::size_t(s.ld) + std::size_t(s.offset + r0)) * eb;
            for (std::int64_t i = 0; i < n; ++i)
                scratch[std::size_t(i) * cols + c] = elementToFloat(s.type, p + std::size_t(i) * eb);
        }
        for (std::int64_t i = 0; i < n; ++i)
            encodeRow(d.format, scratch.data() + std::size_t(i) * cols,
                      out + std::size_t(r0 + i) * d.rowBytes, s.cols, d.groupSize);
    }
}

std::expected<void, Error> MatrixBuilder::run()
{
    const std::int64_t total = std::int64_t(m_jobs.size());
    if (total == 0)
        return {};
    int threads = m_options.threads > 0 ? m_options.threads : int(std::thread::hardware_concurrency());
    threads = int(std::clamp<std::int64_t>(threads, 1, std::min<std::int64_t>(total, 64)));
    std::atomic<std::int64_t> next{0}, done{0};
    std::atomic<bool> cancelled{false};
    auto work = [&](bool reportProgress) {
        std::vector<float> scratch;
        for (;;) {
            if (m_options.cancel && m_options.cancel->load(std::memory_order_relaxed)) {
                cancelled = true;
                return;
            }
            const std::int64_t i = next.fetch_add(1);
            if (i >= total)
                return;
            runJob(m_jobs[std::size_t(i)], scratch);
            const std::int64_t d = done.fetch_add(1) + 1;
            if (reportProgress && m_options.progress)
                m_options.progress(d, total);
        }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t)
        pool.emplace_back(work, false);
    work(true);
    for (auto& t : pool)
        t.join();
    if (cancelled)
        return std::unexpected(Error{ErrorCode::Cancelled, "model loading cancelled"});
    if (m_options.progress)
        m_options.progress(total, total);
    m_jobs.clear();
    return {};
}

namespace {

std::expected<void, Error> checkMatrix(const std::string& src, const WeightMatrix& m, std::int64_t rows,
                                       std::int64_t cols)
{
    if (m.empty())
        return std::unexpected(Error{ErrorCode::Format, src + ": missing tensor " + m.name});
    if (m.rows != rows || m.cols != cols)
        return std::unexpected(
            Error{ErrorCode::Format, src + ": tensor " + m.name + " is [" + std::to_string(m.rows) + " x " +
                                         std::to_string(m.cols) + "], expected [" + std::to_string(rows) +
                                         " x " + std::to_string(cols) + "]"});
    if (m.format == WeightFormat::Ggml && !isSupportedWeightType(m.ggmlType))
        return std::unexpected(Error{ErrorCode::Unsupported, src + ": tensor " + m.name + " has type " +
                                                                 toString(m.ggmlType) +
                                                                 ", which this engine cannot run"});
    if (weightRowBytes(m.format, m.cols, m.groupSize, m.ggmlType) != m.rowBytes)
        return std::unexpected(
            Error{ErrorCode::Format, src + ": tensor " + m.name + " row size does not match its type"});
    return {};
}

std::expected<void, Error> checkVector(const std::string& src, const std::string& name,
                                       const std::vector<float>& v, std::size_t n)
{
    if (v.size() != n)
        return std::unexpected(Error{ErrorCode::Format, src + ": tensor " + name + " has " +
                                                            std::to_string(v.size()) +
                                                            " elements, expected " + std::to_string(n)});
    for (const float x : v)
        if (!std::isfinite(x))
            return std::unexpected(
                Error{ErrorCode::Format, src + ": tensor " + name + " contains NaN or infinity"});
    return {};
}

} // namespace

std::expected<void, Error> finishWeights(Llama4Weights& w)
{
    const Llama4Config& c = w.llama4;
    ModelConfig& b = w.config;
    b.arch = ModelArch::Llama4;
    b.archName = "llama4";
    b.nLayers = c.nLayers;
    b.dim = c.dim;
    b.ffnDim = c.expertDim > 0 ? c.expertDim : c.denseDim;
    b.nHeads = c.nHeads;
    b.nKvHeads = c.nKvHeads;
    b.headDim = c.headDim;
    b.vocabSize = c.vocabSize;
    b.contextLength = int(std::min<std::int64_t>(c.contextLength, 1 << 30));
    b.rmsEps = c.rmsEps;
    b.ropeTheta = c.ropeTheta;
    b.ropeDim = c.headDim;
    b.ropeStyle = RopeStyle::Interleaved;
    b.ropeScaling = c.ropeScaling;
    b.tiedEmbeddings = c.tiedEmbeddings;
    if (w.ropeFrequencies.empty())
        w.ropeFrequencies = llama4RopeFrequencies(c);
    // The base view of the embedding, for code that only knows ModelWeights.
    w.tokenEmbedding.name = w.embedding.name;
    w.tokenEmbedding.type = w.embedding.ggmlType;
    w.tokenEmbedding.rows = w.embedding.rows;
    w.tokenEmbedding.cols = w.embedding.cols;
    w.tokenEmbedding.rowBytes = w.embedding.rowBytes;
    w.tokenEmbedding.data = w.embedding.data;

    const std::string& src = w.sourceDescription;
    auto all = [&](std::initializer_list<std::expected<void, Error>> checks) -> std::expected<void, Error> {
        for (const auto& check : checks)
            if (!check)
                return check;
        return {};
    };
    if (auto ok = all({checkMatrix(src, w.embedding, c.vocabSize, c.dim),
                       checkMatrix(src, w.lmHead, c.vocabSize, c.dim),
                       checkVector(src, "final norm", w.outputNorm, std::size_t(c.dim))});
        !ok)
        return ok;
    if (w.ropeFrequencies.size() != std::size_t(c.headDim / 2))
        return std::unexpected(Error{ErrorCode::Format, src + ": rope_freqs has the wrong length"});
    if (w.blocks.size() != std::size_t(c.nLayers))
        return std::unexpected(
            Error{ErrorCode::Format, src + ": layer count does not match the configuration"});
    for (int i = 0; i < c.nLayers; ++i) {
        const Llama4Layer& l = w.blocks[std::size_t(i)];
        const std::string n = "layer " + std::to_string(i) + " ";
        if (auto ok =
                all({checkVector(src, n + "attention norm", l.attnNorm, std::size_t(c.dim)),
                     checkVector(src, n + "ffn norm", l.ffnNorm, std::size_t(c.dim)),
                     checkMatrix(src, l.wq, c.qDim(), c.dim), checkMatrix(src, l.wk, c.kvDim(), c.dim),
                     checkMatrix(src, l.wv, c.kvDim(), c.dim), checkMatrix(src, l.wo, c.dim, c.qDim())});
            !ok)
            return ok;
        if (c.moe[std::size_t(i)]) {
            if (auto ok = all(
                    {checkVector(src, n + "router", l.router, std::size_t(c.nExperts) * std::size_t(c.dim)),
                     checkMatrix(src, l.sharedGate, c.expertDim, c.dim),
                     checkMatrix(src, l.sharedUp, c.expertDim, c.dim),
                     checkMatrix(src, l.sharedDown, c.dim, c.expertDim)});
                !ok)
                return ok;
            if (l.expertGate.size() != std::size_t(c.nExperts) ||
                l.expertUp.size() != std::size_t(c.nExperts) ||
                l.expertDown.size() != std::size_t(c.nExperts))
                return std::unexpected(
                    Error{ErrorCode::Format, src + ": " + n + "does not have every expert"});
            for (int e = 0; e < c.nExperts; ++e) {
                const auto k = std::size_t(e);
                if (auto ok = all({checkMatrix(src, l.expertGate[k], c.expertDim, c.dim),
                                   checkMatrix(src, l.expertUp[k], c.expertDim, c.dim),
                                   checkMatrix(src, l.expertDown[k], c.dim, c.expertDim)});
                    !ok)
                    return ok;
            }
        } else if (auto ok = all({checkMatrix(src, l.gate, c.denseDim, c.dim),
                                  checkMatrix(src, l.up, c.denseDim, c.dim),
                                  checkMatrix(src, l.down, c.dim, c.denseDim)});
                   !ok) {
            return ok;
        }
    }
    return {};
}

} // namespace l4

const Llama4Weights* asLlama4(const ModelWeights& weights)
{
    // Only the Llama 4 loaders create weights of this architecture, always as Llama4Weights.
    return weights.config.arch == ModelArch::Llama4 ? static_cast<const Llama4Weights*>(&weights) : nullptr;
}

bool isLlama4Model(const std::filesystem::path& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        std::ifstream in(path / "config.json", std::ios::binary);
        if (!in)
            return false;
        std::stringstream text;
        text << in.rdbuf();
        auto json = Json::parse(text.str());
        if (!json)
            return false;
        const Json* type = json->find("model_type");
        const std::string t = type && type->asString() ? *type->asString() : "";
        return t == "llama4" || t == "llama4_text";
    }
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    if (!in.read(magic, 4) || std::string_view(magic, 4) != "GGUF")
        return false;
    auto file = GgufFile::open(path);
    return file && file->getString("general.architecture").value_or("") == "llama4";
}

std::expected<std::shared_ptr<const Llama4Weights>, Error>
loadLlama4Weights(const std::filesystem::path& path, const Llama4LoadOptions& options)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return l4::loadHf(path, options);
    if (!std::filesystem::exists(path, ec))
        return std::unexpected(Error{ErrorCode::Io, "model not found: " + path.string()});
    auto file = GgufFile::open(path);
    if (!file)
        return std::unexpected(file.error());
    return loadLlama4WeightsGguf(std::make_shared<const GgufFile>(std::move(*file)), options);
}

} // namespace quire::inference

namespace quire::inference {

namespace {

std::expected<std::shared_ptr<const ModelWeights>, Error>
upcast(std::expected<std::shared_ptr<const Llama4Weights>, Error> w)
{
    if (!w)
        return std::unexpected(w.error());
    return std::shared_ptr<const ModelWeights>(std::move(*w));
}

} // namespace

std::expected<std::shared_ptr<const ModelWeights>, Error>
loadLlama4ModelWeights(const std::filesystem::path& path, const Llama4LoadOptions& options)
{
    return upcast(loadLlama4Weights(path, options));
}

std::expected<std::shared_ptr<const ModelWeights>, Error>
loadLlama4ModelWeights(std::shared_ptr<const GgufFile> gguf, const Llama4LoadOptions& options)
{
    return upcast(loadLlama4WeightsGguf(std::move(gguf), options));
}

} // namespace quire::inference
