// Llama 4 weights from a Hugging Face folder: Llama4ForCausalLM (model.*, lm_head.*) or
// Llama4ForConditionalGeneration (the same under language_model.*, plus vision tensors, which are
// recognised and skipped). Tensor layout: llama4-architecture.md section 2.
#include <fstream>
#include <sstream>

#include "llama4_load.h"
#include "quire/inference/log.h"
#include "quire/inference/quant.h"
#include "quire/inference/safetensors.h"

namespace quire::inference::l4 {

namespace {

class HfReader {
public:
    HfReader(const SafetensorsSet& set, std::string source) : m_set(set), m_source(std::move(source)) {}

    const SafeTensor* find(const std::string& name) const
    {
        if (const SafeTensor* t = m_set.tensor("language_model." + name))
            return t;
        return m_set.tensor(name);
    }

    std::expected<const SafeTensor*, Error> floatTensor(const std::string& name, std::size_t dims) const
    {
        const SafeTensor* t = find(name);
        if (!t)
            return std::unexpected(Error{ErrorCode::Format, m_source + ": missing tensor " + name});
        if (t->shape.size() != dims)
            return std::unexpected(Error{
                ErrorCode::Format, m_source + ": tensor " + name + " has " + std::to_string(t->shape.size()) +
                                       " dimensions, expected " + std::to_string(dims)});
        if (!t->type)
            return std::unexpected(Error{ErrorCode::Unsupported, m_source + ": tensor " + name +
                                                                     " has dtype " + t->dtype +
                                                                     "; expected F32, F16 or BF16"});
        return t;
    }

    // An nn.Linear weight [out, in].
    std::expected<SourceMatrix, Error> linear(const std::string& name) const
    {
        auto t = floatTensor(name, 2);
        if (!t)
            return std::unexpected(t.error());
        SourceMatrix m;
        m.name = name;
        m.type = *(*t)->type;
        m.rows = (*t)->shape[0];
        m.cols = (*t)->shape[1];
        m.rowBytes = *rowBytes(m.type, m.cols);
        m.data = (*t)->data.data();
        return m;
    }

    // Expert e of an [E, in, out] tensor, columns [offset, offset + rows) of `out`, as an
    // [rows x in] matrix.
    std::expected<SourceMatrix, Error> expert(const std::string& name, int e, std::int64_t experts,
                                              std::int64_t rows, std::int64_t in, std::int64_t outTotal,
                                              std::int64_t offset) const
    {
        auto t = floatTensor(name, 3);
        if (!t)
            return std::unexpected(t.error());
        const auto& s = (*t)->shape;
        if (s[0] != experts || s[1] != in || s[2] != outTotal)
            return std::unexpected(
                Error{ErrorCode::Format, m_source + ": tensor " + name + " is [" + std::to_string(s[0]) +
                                             ", " + std::to_string(s[1]) + ", " + std::to_string(s[2]) +
                                             "], expected [" + std::to_string(experts) + ", " +
                                             std::to_string(in) + ", " + std::to_string(outTotal) + "]"});
        SourceMatrix m;
        m.name = name + "[" + std::to_string(e) + "]" + (offset > 0 ? ".up" : "");
        m.type = *(*t)->type;
        const std::size_t eb = m.type == GgmlType::F32 ? 4 : 2;
        m.data = (*t)->data.data() + std::size_t(e) * std::size_t(in) * std::size_t(outTotal) * eb;
        m.rows = rows;
        m.cols = in;
        m.transposed = true;
        m.ld = outTotal;
        m.offset = offset;
        return m;
    }

    std::expected<std::vector<float>, Error> vector(const std::string& name) const
    {
        const SafeTensor* t = find(name);
        if (!t)
            return std::unexpected(Error{ErrorCode::Format, m_source + ": missing tensor " + name});
        if (!t->type)
            return std::unexpected(
                Error{ErrorCode::Format, m_source + ": tensor " + name + " is not a float tensor"});
        std::vector<float> out(static_cast<std::size_t>(t->elements()));
        if (auto ok = dequantizeRow(*t->type, t->data.data(), out.data(), t->elements()); !ok)
            return std::unexpected(ok.error());
        return out;
    }

private:
    const SafetensorsSet& m_set;
    std::string m_source;
};

std::expected<std::string, Error> readText(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::unexpected(Error{ErrorCode::Io, "cannot read " + path.string()});
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

bool startsWith(std::string_view s, std::string_view prefix)
{
    return s.substr(0, prefix.size()) == prefix;
}

} // namespace

std::expected<std::shared_ptr<const Llama4Weights>, Error> loadHf(const std::filesystem::path& dir,
                                                                  const Llama4LoadOptions& options)
{
    const std::string source = dir.filename().string();
    auto text = readText(dir / "config.json");
    if (!text)
        return std::unexpected(text.error());
    auto config = parseLlama4Config(*text, source + "/config.json");
    if (!config)
        return std::unexpected(config.error());
    auto set = SafetensorsSet::open(dir);
    if (!set)
        return std::unexpected(set.error());
    auto shared = std::make_shared<SafetensorsSet>(std::move(*set));
    const HfReader r(*shared, source);
    const Llama4Config& c = *config;

    std::size_t vision = 0;
    for (const std::string& name : shared->names())
        if (startsWith(name, "vision_model.") || startsWith(name, "multi_modal_projector.") ||
            startsWith(name, "model.vision_model.") || startsWith(name, "model.multi_modal_projector."))
            ++vision;
    if (vision > 0)
        logMessage(LogLevel::Info, source + ": skipping " + std::to_string(vision) +
                                       " vision tensors (image input is not supported yet)");

    auto w = std::make_shared<Llama4Weights>();
    w->llama4 = c;
    w->sourceDescription = source;
    w->storage = shared;
    w->quantization = options.quantization;
    MatrixBuilder builder(*w, options);
    const Llama4Quantization& q = options.quantization;
    WeightFiller fill(builder);
    const auto matrix = [&](WeightMatrix& dst, auto src, WeightFormat format) {
        fill.matrix(dst, std::move(src), format);
    };
    const auto vector = [&](std::vector<float>& dst, const std::string& name) {
        if (fill.ok()) // read only while nothing failed
            fill.vector(dst, r.vector(name));
    };

    matrix(w->embedding, r.linear("model.embed_tokens.weight"), WeightFormat::Source);
    if (r.find("lm_head.weight") || !c.tiedEmbeddings)
        matrix(w->lmHead, r.linear("lm_head.weight"), q.lmHead);
    else
        matrix(w->lmHead, r.linear("model.embed_tokens.weight"), q.lmHead);
    vector(w->outputNorm, "model.norm.weight");

    w->blocks.resize(std::size_t(c.nLayers));
    const std::int64_t E = c.nExperts, I = c.expertDim, D = c.dim;
    for (int i = 0; i < c.nLayers && fill.ok(); ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        Llama4Layer& l = w->blocks[std::size_t(i)];
        vector(l.attnNorm, p + "input_layernorm.weight");
        vector(l.ffnNorm, p + "post_attention_layernorm.weight");
        matrix(l.wq, r.linear(p + "self_attn.q_proj.weight"), q.attention);
        matrix(l.wk, r.linear(p + "self_attn.k_proj.weight"), q.attention);
        matrix(l.wv, r.linear(p + "self_attn.v_proj.weight"), q.attention);
        matrix(l.wo, r.linear(p + "self_attn.o_proj.weight"), q.attention);
        const std::string f = p + "feed_forward.";
        if (c.moe[std::size_t(i)]) {
            vector(l.router, f + "router.weight");
            l.expertGate.resize(std::size_t(E));
            l.expertUp.resize(std::size_t(E));
            l.expertDown.resize(std::size_t(E));
            for (int e = 0; e < E; ++e) {
                const auto k = std::size_t(e);
                // gate_up_proj [E, D, 2I]: gate = columns 0..I-1, up = I..2I-1; down_proj [E, I, D].
                matrix(l.expertGate[k], r.expert(f + "experts.gate_up_proj", e, E, I, D, 2 * I, 0),
                       q.experts);
                matrix(l.expertUp[k], r.expert(f + "experts.gate_up_proj", e, E, I, D, 2 * I, I), q.experts);
                matrix(l.expertDown[k], r.expert(f + "experts.down_proj", e, E, D, I, D, 0), q.experts);
            }
            matrix(l.sharedGate, r.linear(f + "shared_expert.gate_proj.weight"), q.sharedFfn);
            matrix(l.sharedUp, r.linear(f + "shared_expert.up_proj.weight"), q.sharedFfn);
            matrix(l.sharedDown, r.linear(f + "shared_expert.down_proj.weight"), q.sharedFfn);
        } else {
            matrix(l.gate, r.linear(f + "gate_proj.weight"), q.sharedFfn);
            matrix(l.up, r.linear(f + "up_proj.weight"), q.sharedFfn);
            matrix(l.down, r.linear(f + "down_proj.weight"), q.sharedFfn);
        }
    }
    if (!fill.ok())
        return std::unexpected(fill.error());
    if (auto ok = builder.run(); !ok)
        return std::unexpected(ok.error());
    if (auto ok = finishWeights(*w); !ok)
        return std::unexpected(ok.error());
    logMessage(LogLevel::Info, source + ": Llama 4, " + std::to_string(c.nLayers) + " layers (" +
                                   std::to_string(c.chunkedLayerCount()) + " chunked), " +
                                   std::to_string(c.nExperts) + " experts, weights " + q.describe());
    return std::shared_ptr<const Llama4Weights>(std::move(w));
}

} // namespace quire::inference::l4
