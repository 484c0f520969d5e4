// Dense Llama-family weights from a Hugging Face directory: config.json + *.safetensors.
#include <fstream>
#include <sstream>

#include "model_weights_internal.h"
#include "quire/inference/json.h"
#include "quire/inference/quant.h"
#include "quire/inference/safetensors.h"

namespace quire::inference {

namespace {

std::expected<Json, Error> readJsonFile(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::unexpected(Error{ErrorCode::Io, "cannot read " + path.string()});
    std::stringstream text;
    text << in.rdbuf();
    auto json = Json::parse(text.str());
    if (!json)
        return std::unexpected(
            Error{ErrorCode::Format, path.filename().string() + ": " + json.error().message});
    return json;
}

std::optional<double> number(const Json& j, std::string_view key)
{
    const Json* v = j.find(key);
    return v && v->asNumber() ? std::optional<double>(*v->asNumber()) : std::nullopt;
}

std::expected<TensorView, Error> matrix(const SafetensorsSet& set, const std::string& source,
                                        const std::string& name, bool optional = false)
{
    TensorView view;
    view.name = name;
    const SafeTensor* t = set.tensor(name);
    if (!t) {
        if (optional)
            return view;
        return std::unexpected(weightError(source, "missing tensor " + name));
    }
    if (t->shape.size() != 2)
        return std::unexpected(weightError(source, "tensor " + name + " is not a matrix"));
    if (!t->type)
        return std::unexpected(Error{ErrorCode::Unsupported, source + ": tensor " + name + " has dtype " +
                                                                 t->dtype + "; expected F32, F16 or BF16"});
    view.type = *t->type;
    view.rows = t->shape[0];
    view.cols = t->shape[1];
    view.rowBytes = *rowBytes(view.type, view.cols);
    view.data = t->data.data();
    return view;
}

std::expected<std::vector<float>, Error> vector(const SafetensorsSet& set, const std::string& source,
                                                const std::string& name, bool optional = false)
{
    const SafeTensor* t = set.tensor(name);
    if (!t) {
        if (optional)
            return std::vector<float>{};
        return std::unexpected(weightError(source, "missing tensor " + name));
    }
    if (t->shape.size() != 1 || !t->type)
        return std::unexpected(weightError(source, "tensor " + name + " is not a float vector"));
    std::vector<float> out(static_cast<std::size_t>(t->elements()));
    if (auto ok = dequantizeRow(*t->type, t->data.data(), out.data(), t->elements()); !ok)
        return std::unexpected(ok.error());
    return out;
}

} // namespace

std::expected<ModelConfig, Error> loadHfConfig(const std::filesystem::path& dir)
{
    auto json = readJsonFile(dir / "config.json");
    if (!json)
        return std::unexpected(json.error());
    const std::string source = dir.filename().string() + "/config.json";
    const Json& j = *json;
    ModelConfig c;
    const Json* modelType = j.find("model_type");
    c.archName = modelType && modelType->asString() ? *modelType->asString() : "";
    if (c.archName == "llama" || c.archName == "mistral") {
        c.arch = ModelArch::Llama;
    } else if (c.archName == "qwen2") {
        c.arch = ModelArch::Qwen2;
    } else {
        return std::unexpected(Error{ErrorCode::Unsupported, source + ": model_type '" + c.archName +
                                                                 "' is not a dense Llama-family model"});
    }
    c.ropeStyle = RopeStyle::NeoX; // Hugging Face rotates halves (rotate_half)
    auto intField = [&](std::string_view key, int fallback) -> int {
        const auto v = number(j, key);
        return v ? int(*v) : fallback;
    };
    c.nLayers = intField("num_hidden_layers", 0);
    c.dim = intField("hidden_size", 0);
    c.ffnDim = intField("intermediate_size", 0);
    c.nHeads = intField("num_attention_heads", 0);
    c.nKvHeads = intField("num_key_value_heads", c.nHeads);
    c.headDim = intField("head_dim", c.nHeads > 0 ? c.dim / c.nHeads : 0);
    c.ropeDim = c.headDim;
    c.vocabSize = intField("vocab_size", 0);
    c.contextLength = intField("max_position_embeddings", 4096);
    c.rmsEps = float(number(j, "rms_norm_eps").value_or(1e-6));
    c.ropeTheta = float(number(j, "rope_theta").value_or(10000.0));
    const Json* tie = j.find("tie_word_embeddings");
    c.tiedEmbeddings = tie && tie->asBool() && *tie->asBool();
    if (const Json* mlpBias = j.find("mlp_bias"); mlpBias && mlpBias->asBool() && *mlpBias->asBool())
        return std::unexpected(Error{ErrorCode::Unsupported, source + ": mlp_bias is not supported"});
    // transformers 4 writes rope_theta and rope_scaling; transformers 5 one rope_parameters object.
    const Json* ropeParams = j.find("rope_parameters");
    if (ropeParams && ropeParams->isObject())
        c.ropeTheta = float(number(*ropeParams, "rope_theta").value_or(c.ropeTheta));
    else
        ropeParams = j.find("rope_scaling");
    if (const Json* s = ropeParams; s && s->isObject()) {
        const Json* type = s->find("rope_type") ? s->find("rope_type") : s->find("type");
        const std::string t = type && type->asString() ? *type->asString() : "";
        c.ropeScaling.factor = float(number(*s, "factor").value_or(1.0));
        if (t == "llama3") {
            c.ropeScaling.type = RopeScaling::Type::Llama3;
            c.ropeScaling.lowFreqFactor = float(number(*s, "low_freq_factor").value_or(1.0));
            c.ropeScaling.highFreqFactor = float(number(*s, "high_freq_factor").value_or(4.0));
            c.ropeScaling.originalContext =
                int(number(*s, "original_max_position_embeddings").value_or(8192));
        } else if (t == "linear") {
            c.ropeScaling.type = RopeScaling::Type::Linear;
        } else if (t != "default" && !t.empty()) {
            return std::unexpected(
                Error{ErrorCode::Unsupported, source + ": rope scaling '" + t + "' is not supported"});
        }
    }
    if (auto ok = checkConfig(source, c); !ok)
        return std::unexpected(ok.error());
    return c;
}

std::expected<std::shared_ptr<const ModelWeights>, Error> loadLlamaWeightsHf(const std::filesystem::path& dir)
{
    auto config = loadHfConfig(dir);
    if (!config)
        return std::unexpected(config.error());
    auto set = SafetensorsSet::open(dir);
    if (!set)
        return std::unexpected(set.error());
    auto shared = std::make_shared<SafetensorsSet>(std::move(*set));
    const SafetensorsSet& st = *shared;
    const std::string source = dir.filename().string();

    auto w = std::make_shared<ModelWeights>();
    w->config = *config;
    w->sourceDescription = source;
    w->storage = shared;
    auto fail = [](const Error& e) { return std::unexpected(e); };

    auto embd = matrix(st, source, "model.embed_tokens.weight");
    auto out = matrix(st, source, "lm_head.weight", true);
    auto norm = vector(st, source, "model.norm.weight");
    if (!embd)
        return fail(embd.error());
    if (!out)
        return fail(out.error());
    if (!norm)
        return fail(norm.error());
    w->tokenEmbedding = *embd;
    if (out->empty() && !config->tiedEmbeddings)
        return fail(weightError(source, "missing tensor lm_head.weight (and tie_word_embeddings is false)"));
    w->output = out->empty() ? *embd : *out;
    w->outputNorm = std::move(*norm);

    w->layers.resize(std::size_t(config->nLayers));
    for (int i = 0; i < config->nLayers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        LayerWeights& l = w->layers[std::size_t(i)];
        struct M {
            TensorView* dst;
            const char* name;
        };
        for (const M& m : {M{&l.wq, "self_attn.q_proj.weight"}, M{&l.wk, "self_attn.k_proj.weight"},
                           M{&l.wv, "self_attn.v_proj.weight"}, M{&l.wo, "self_attn.o_proj.weight"},
                           M{&l.wGate, "mlp.gate_proj.weight"}, M{&l.wUp, "mlp.up_proj.weight"},
                           M{&l.wDown, "mlp.down_proj.weight"}}) {
            auto t = matrix(st, source, p + m.name);
            if (!t)
                return fail(t.error());
            *m.dst = std::move(*t);
        }
        struct V {
            std::vector<float>* dst;
            const char* name;
            bool optional;
        };
        for (const V& v :
             {V{&l.attnNorm, "input_layernorm.weight", false},
              V{&l.ffnNorm, "post_attention_layernorm.weight", false},
              V{&l.bq, "self_attn.q_proj.bias", true}, V{&l.bk, "self_attn.k_proj.bias", true},
              V{&l.bv, "self_attn.v_proj.bias", true}, V{&l.bo, "self_attn.o_proj.bias", true}}) {
            auto t = vector(st, source, p + v.name, v.optional);
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
