// Llama 4 weights from a llama.cpp `llama4` GGUF file. llama.cpp's converter splits HF's
// gate_up_proj into ffn_gate_exps / ffn_up_exps and stores every expert tensor as [E][out][in]
// (row-major rows of `in`), the router as ffn_gate_inp, the shared expert as ffn_*_shexp, leaves
// Q/K unpermuted (Llama 4 rotates interleaved pairs) and writes the llama3 RoPE scaling as the
// per-frequency divisors rope_freqs.weight.
#include "llama4_load.h"
#include "quire/inference/log.h"
#include "quire/inference/quant.h"

namespace quire::inference {

namespace {

class GgufReader {
public:
    GgufReader(const GgufFile& file, std::string source) : m_file(file), m_source(std::move(source)) {}

    const GgufTensor* find(const std::string& name) const { return m_file.tensor(name); }

    // A 2-D tensor (ne0 = cols, ne1 = rows), or slice `index` of a 3-D one.
    std::expected<l4::SourceMatrix, Error> matrix(const std::string& name, int index = -1) const
    {
        const GgufTensor* t = m_file.tensor(name);
        if (!t)
            return std::unexpected(Error{ErrorCode::Format, m_source + ": missing tensor " + name});
        const std::size_t dims = index < 0 ? 2 : 3;
        if (t->shape.size() != dims)
            return std::unexpected(Error{
                ErrorCode::Format, m_source + ": tensor " + name + " has " + std::to_string(t->shape.size()) +
                                       " dimensions, expected " + std::to_string(dims)});
        l4::SourceMatrix m;
        m.name = index < 0 ? name : name + "[" + std::to_string(index) + "]";
        m.type = t->type;
        m.cols = t->shape[0];
        m.rows = t->shape[1];
        const auto bytes = rowBytes(t->type, m.cols);
        if (!bytes)
            return std::unexpected(Error{ErrorCode::Unsupported, m_source + ": tensor " + name +
                                                                     " has type " + toString(t->type) +
                                                                     ", which this engine cannot run"});
        m.rowBytes = *bytes;
        const std::size_t slice = *bytes * std::size_t(m.rows);
        const std::size_t count = index < 0 ? 1 : std::size_t(t->shape[2]);
        if (index >= 0 && std::size_t(index) >= count)
            return std::unexpected(
                Error{ErrorCode::Format, m_source + ": tensor " + name + " has too few experts"});
        if (slice * count > t->data.size())
            return std::unexpected(
                Error{ErrorCode::Format, m_source + ": tensor " + name + " data is shorter than its shape"});
        m.data = t->data.data() + (index < 0 ? 0 : std::size_t(index) * slice);
        return m;
    }

    std::expected<std::vector<float>, Error> vector(const std::string& name, bool optional = false) const
    {
        const GgufTensor* t = m_file.tensor(name);
        if (!t) {
            if (optional)
                return std::vector<float>{};
            return std::unexpected(Error{ErrorCode::Format, m_source + ": missing tensor " + name});
        }
        const std::int64_t n = t->elements();
        const auto bytes = rowBytes(t->type, n);
        if (!bytes || *bytes > t->data.size())
            return std::unexpected(
                Error{ErrorCode::Format, m_source + ": tensor " + name + " is not a float tensor"});
        std::vector<float> out(static_cast<std::size_t>(n));
        if (auto ok = dequantizeRow(t->type, t->data.data(), out.data(), n); !ok)
            return std::unexpected(ok.error());
        return out;
    }

private:
    const GgufFile& m_file;
    std::string m_source;
};

} // namespace

std::expected<std::shared_ptr<const Llama4Weights>, Error>
loadLlama4WeightsGguf(std::shared_ptr<const GgufFile> gguf, const Llama4LoadOptions& options)
{
    if (!gguf)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "no GGUF file"});
    const std::string source = gguf->file().path().filename().string();
    auto config = llama4ConfigFromGguf(*gguf);
    if (!config)
        return std::unexpected(config.error());
    const Llama4Config& c = *config;
    const GgufReader r(*gguf, source);

    auto w = std::make_shared<Llama4Weights>();
    w->llama4 = c;
    w->sourceDescription = source;
    w->storage = gguf;
    w->quantization = options.quantization;
    l4::MatrixBuilder builder(*w, options);
    const Llama4Quantization& q = options.quantization;
    l4::WeightFiller fill(builder);
    const auto matrix = [&](WeightMatrix& dst, auto src, WeightFormat format) {
        fill.matrix(dst, std::move(src), format);
    };
    const auto vector = [&](std::vector<float>& dst, const std::string& name) {
        if (fill.ok()) // read only while nothing failed
            fill.vector(dst, r.vector(name));
    };

    matrix(w->embedding, r.matrix("token_embd.weight"), WeightFormat::Source);
    const bool tied = r.find("output.weight") == nullptr;
    w->llama4.tiedEmbeddings = tied;
    matrix(w->lmHead, r.matrix(tied ? "token_embd.weight" : "output.weight"), q.lmHead);
    vector(w->outputNorm, "output_norm.weight");
    if (fill.ok()) {
        // llama3 scaling comes as divisors of the unscaled frequencies.
        auto factors = r.vector("rope_freqs.weight", true);
        if (!factors) {
            fill.fail(factors.error());
        } else if (!factors->empty()) {
            Llama4Config plain = c;
            plain.ropeScaling = RopeScaling{};
            w->ropeFrequencies = llama4RopeFrequencies(plain);
            if (factors->size() != w->ropeFrequencies.size())
                fill.fail(Error{ErrorCode::Format, source + ": rope_freqs has the wrong length"});
            else
                for (std::size_t j = 0; j < factors->size(); ++j)
                    w->ropeFrequencies[j] /= (*factors)[j];
        }
    }

    w->blocks.resize(std::size_t(c.nLayers));
    for (int i = 0; i < c.nLayers && fill.ok(); ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        Llama4Layer& l = w->blocks[std::size_t(i)];
        vector(l.attnNorm, p + "attn_norm.weight");
        vector(l.ffnNorm, p + "ffn_norm.weight");
        matrix(l.wq, r.matrix(p + "attn_q.weight"), q.attention);
        matrix(l.wk, r.matrix(p + "attn_k.weight"), q.attention);
        matrix(l.wv, r.matrix(p + "attn_v.weight"), q.attention);
        matrix(l.wo, r.matrix(p + "attn_output.weight"), q.attention);
        if (c.moe[std::size_t(i)]) {
            vector(l.router, p + "ffn_gate_inp.weight");
            l.expertGate.resize(std::size_t(c.nExperts));
            l.expertUp.resize(std::size_t(c.nExperts));
            l.expertDown.resize(std::size_t(c.nExperts));
            for (int e = 0; e < c.nExperts; ++e) {
                const auto k = std::size_t(e);
                matrix(l.expertGate[k], r.matrix(p + "ffn_gate_exps.weight", e), q.experts);
                matrix(l.expertUp[k], r.matrix(p + "ffn_up_exps.weight", e), q.experts);
                matrix(l.expertDown[k], r.matrix(p + "ffn_down_exps.weight", e), q.experts);
            }
            matrix(l.sharedGate, r.matrix(p + "ffn_gate_shexp.weight"), q.sharedFfn);
            matrix(l.sharedUp, r.matrix(p + "ffn_up_shexp.weight"), q.sharedFfn);
            matrix(l.sharedDown, r.matrix(p + "ffn_down_shexp.weight"), q.sharedFfn);
        } else {
            matrix(l.gate, r.matrix(p + "ffn_gate.weight"), q.sharedFfn);
            matrix(l.up, r.matrix(p + "ffn_up.weight"), q.sharedFfn);
            matrix(l.down, r.matrix(p + "ffn_down.weight"), q.sharedFfn);
        }
    }
    if (!fill.ok())
        return std::unexpected(fill.error());
    if (auto ok = builder.run(); !ok)
        return std::unexpected(ok.error());
    if (auto ok = l4::finishWeights(*w); !ok)
        return std::unexpected(ok.error());
    logMessage(LogLevel::Info, source + ": Llama 4 (GGUF), " + std::to_string(c.nLayers) + " layers, " +
                                   std::to_string(c.nExperts) + " experts, weights " + q.describe());
    return std::shared_ptr<const Llama4Weights>(std::move(w));
}

} // namespace quire::inference
