// Dense Llama-family weights from a GGUF file (llama.cpp's tensor names and metadata keys).
#include <cmath>

#include "model_weights_internal.h"
#include "quire/inference/quant.h"

namespace quire::inference {

namespace {

struct GgufReader {
    const GgufFile& file;
    std::string source;
    std::string arch;

    std::optional<std::int64_t> archInt(const std::string& key) const
    {
        return file.getInt(arch + "." + key);
    }
    std::optional<double> archFloat(const std::string& key) const { return file.getFloat(arch + "." + key); }

    std::expected<TensorView, Error> matrix(const std::string& name, bool optional = false) const
    {
        const GgufTensor* t = file.tensor(name);
        TensorView view;
        view.name = name;
        if (!t) {
            if (optional)
                return view;
            return std::unexpected(weightError(source, "missing tensor " + name));
        }
        if (t->shape.size() != 2)
            return std::unexpected(weightError(source, "tensor " + name + " is not a matrix"));
        view.type = t->type;
        view.cols = t->shape[0];
        view.rows = t->shape[1];
        const auto bytes = rowBytes(t->type, view.cols);
        if (!bytes)
            return std::unexpected(Error{ErrorCode::Unsupported, source + ": tensor " + name + " has type " +
                                                                     toString(t->type) +
                                                                     ", which this engine cannot run"});
        if (*bytes * std::size_t(view.rows) > t->data.size())
            return std::unexpected(weightError(source, "tensor " + name + " data is shorter than its shape"));
        view.rowBytes = *bytes;
        view.data = t->data.data();
        return view;
    }

    std::expected<std::vector<float>, Error> vector(const std::string& name, bool optional = false) const
    {
        const GgufTensor* t = file.tensor(name);
        if (!t) {
            if (optional)
                return std::vector<float>{};
            return std::unexpected(weightError(source, "missing tensor " + name));
        }
        const std::int64_t n = t->elements();
        const auto bytes = rowBytes(t->type, n);
        if (t->shape.size() != 1 || !bytes || *bytes > t->data.size())
            return std::unexpected(
                weightError(source, "tensor " + name + " is not a vector of a float type"));
        std::vector<float> out(static_cast<std::size_t>(n));
        if (auto ok = dequantizeRow(t->type, t->data.data(), out.data(), n); !ok)
            return std::unexpected(ok.error());
        return out;
    }
};

std::expected<ModelConfig, Error> readConfig(const GgufReader& r)
{
    ModelConfig c;
    c.archName = r.arch;
    if (r.arch == "llama") {
        c.arch = ModelArch::Llama;
        c.ropeStyle = RopeStyle::Interleaved; // llama.cpp's converter permutes Q and K for this
    } else if (r.arch == "qwen2") {
        c.arch = ModelArch::Qwen2;
        c.ropeStyle = RopeStyle::NeoX;
    } else {
        return std::unexpected(Error{ErrorCode::Unsupported, r.source + ": architecture '" + r.arch +
                                                                 "' is not a dense Llama-family model"});
    }
    const auto need = [&](const std::string& key) -> std::expected<int, Error> {
        const auto v = r.archInt(key);
        if (!v || *v <= 0 || *v > (std::int64_t(1) << 30))
            return std::unexpected(
                weightError(r.source, "missing or invalid metadata " + r.arch + "." + key));
        return int(*v);
    };
    auto layers = need("block_count");
    auto dim = need("embedding_length");
    auto ffn = need("feed_forward_length");
    auto heads = need("attention.head_count");
    for (const auto* v : {&layers, &dim, &ffn, &heads})
        if (!*v)
            return std::unexpected(v->error());
    c.nLayers = *layers;
    c.dim = *dim;
    c.ffnDim = *ffn;
    c.nHeads = *heads;
    c.nKvHeads = int(r.archInt("attention.head_count_kv").value_or(c.nHeads));
    c.headDim = int(r.archInt("attention.key_length").value_or(c.nHeads > 0 ? c.dim / c.nHeads : 0));
    c.ropeDim = int(r.archInt("rope.dimension_count").value_or(c.headDim));
    c.contextLength = int(r.archInt("context_length").value_or(4096));
    c.rmsEps = float(r.archFloat("attention.layer_norm_rms_epsilon").value_or(1e-5));
    c.ropeTheta = float(r.archFloat("rope.freq_base").value_or(10000.0));
    const auto scalingType = r.file.getString(r.arch + ".rope.scaling.type");
    if (scalingType && *scalingType == "linear") {
        c.ropeScaling.type = RopeScaling::Type::Linear;
        c.ropeScaling.factor = float(r.archFloat("rope.scaling.factor").value_or(1.0));
    } else if (scalingType && *scalingType != "none") {
        return std::unexpected(Error{ErrorCode::Unsupported,
                                     r.source + ": rope scaling '" + *scalingType + "' is not supported"});
    }
    const GgufTensor* embd = r.file.tensor("token_embd.weight");
    if (!embd || embd->shape.size() != 2)
        return std::unexpected(weightError(r.source, "missing tensor token_embd.weight"));
    c.vocabSize = int(embd->shape[1]);
    if (const auto v = r.archInt("vocab_size"); v && *v != c.vocabSize)
        return std::unexpected(weightError(r.source, "vocab_size does not match token_embd.weight"));
    return c;
}

} // namespace

std::expected<std::shared_ptr<const ModelWeights>, Error>
loadLlamaWeights(std::shared_ptr<const GgufFile> gguf)
{
    if (!gguf)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "no GGUF file"});
    GgufReader r{*gguf, gguf->file().path().filename().string(),
                 gguf->getString("general.architecture").value_or("")};
    if (r.arch.empty())
        return std::unexpected(weightError(r.source, "no general.architecture in the metadata"));
    auto config = readConfig(r);
    if (!config)
        return std::unexpected(config.error());
    if (auto ok = checkConfig(r.source, *config); !ok)
        return std::unexpected(ok.error());

    auto w = std::make_shared<ModelWeights>();
    w->config = *config;
    w->sourceDescription = r.source;
    w->storage = gguf;

    auto fail = [](const Error& e) { return std::unexpected(e); };
    auto embd = r.matrix("token_embd.weight");
    auto out = r.matrix("output.weight", true);
    auto outNorm = r.vector("output_norm.weight");
    auto ropeFreqs = r.vector("rope_freqs.weight", true);
    if (!embd)
        return fail(embd.error());
    if (!out)
        return fail(out.error());
    if (!outNorm)
        return fail(outNorm.error());
    if (!ropeFreqs)
        return fail(ropeFreqs.error());
    w->tokenEmbedding = *embd;
    w->config.tiedEmbeddings = out->empty();
    w->output = out->empty() ? *embd : *out;
    w->outputNorm = std::move(*outNorm);
    w->ropeFreqFactors = std::move(*ropeFreqs);

    w->layers.resize(std::size_t(config->nLayers));
    for (int i = 0; i < config->nLayers; ++i) {
        const std::string p = "blk." + std::to_string(i) + ".";
        LayerWeights& l = w->layers[std::size_t(i)];
        struct M {
            TensorView* dst;
            const char* name;
        };
        for (const M& m : {M{&l.wq, "attn_q.weight"}, M{&l.wk, "attn_k.weight"}, M{&l.wv, "attn_v.weight"},
                           M{&l.wo, "attn_output.weight"}, M{&l.wGate, "ffn_gate.weight"},
                           M{&l.wUp, "ffn_up.weight"}, M{&l.wDown, "ffn_down.weight"}}) {
            auto t = r.matrix(p + m.name);
            if (!t)
                return fail(t.error());
            *m.dst = std::move(*t);
        }
        struct V {
            std::vector<float>* dst;
            const char* name;
            bool optional;
        };
        for (const V& v : {V{&l.attnNorm, "attn_norm.weight", false}, V{&l.ffnNorm, "ffn_norm.weight", false},
                           V{&l.bq, "attn_q.bias", true}, V{&l.bk, "attn_k.bias", true},
                           V{&l.bv, "attn_v.bias", true}, V{&l.bo, "attn_output.bias", true}}) {
            auto t = r.vector(p + v.name, v.optional);
            if (!t)
                return fail(t.error());
            *v.dst = std::move(*t);
        }
    }
    if (auto ok = checkWeights(*w); !ok)
        return fail(ok.error());
    return std::shared_ptr<const ModelWeights>(std::move(w));
}

} // namespace quire::inference
