// Llama 4 configuration: config.json (flat and nested forms), GGUF metadata, the per-layer
// schedule, RoPE frequencies and the NoPE query temperature (llama4-architecture.md 1.1, 6.3, 6.5).
#include <algorithm>
#include <cmath>
#include <numbers>

#include "quire/inference/json.h"
#include "quire/inference/llama4.h"

namespace quire::inference {

namespace {

Error configError(const std::string& source, const std::string& what)
{
    return Error{ErrorCode::Format, source + ": " + what};
}

std::optional<double> number(const Json& j, std::string_view key)
{
    const Json* v = j.find(key);
    return v && v->asNumber() ? std::optional<double>(*v->asNumber()) : std::nullopt;
}

// A list of integers (null, absent or empty: nullopt).
std::optional<std::vector<std::int64_t>> intList(const Json& j, std::string_view key)
{
    const Json* v = j.find(key);
    if (!v || !v->asArray() || v->asArray()->empty())
        return std::nullopt;
    std::vector<std::int64_t> out;
    for (const Json& e : *v->asArray()) {
        if (const auto i = e.asInt())
            out.push_back(*i);
        else if (const auto* b = e.asBool())
            out.push_back(*b ? 1 : 0);
        else
            return std::nullopt;
    }
    return out;
}

// A flag written as a bool or as a number (attn_temperature_tuning: 4 in the original upload).
std::optional<bool> flag(const Json& j, std::string_view key)
{
    const Json* v = j.find(key);
    if (!v)
        return std::nullopt;
    if (const auto* b = v->asBool())
        return *b;
    if (const auto* d = v->asNumber())
        return *d != 0.0;
    return std::nullopt;
}

// Fills the schedule fields that depend only on the counts; `useRope` / `moe` may be preset.
std::expected<void, Error> finishSchedule(Llama4Config& c, const std::string& source, int noRopeInterval,
                                          int moeStep,
                                          const std::optional<std::vector<std::int64_t>>& moeLayers,
                                          const std::vector<std::string>& layerTypes)
{
    const auto L = std::size_t(c.nLayers);
    if (c.useRope.empty()) {
        if (noRopeInterval <= 0)
            return std::unexpected(configError(source, "no_rope_layer_interval must be positive"));
        for (std::size_t l = 0; l < L; ++l)
            c.useRope.push_back((l + 1) % std::size_t(noRopeInterval) != 0 ? 1 : 0);
    }
    if (c.useRope.size() != L)
        return std::unexpected(configError(source, "no_rope_layers has " + std::to_string(c.useRope.size()) +
                                                       " entries for " + std::to_string(L) + " layers"));
    c.moe.assign(L, 0);
    if (moeLayers) {
        for (const std::int64_t l : *moeLayers) {
            if (l < 0 || l >= c.nLayers)
                return std::unexpected(configError(source, "moe_layers names layer " + std::to_string(l)));
            c.moe[std::size_t(l)] = 1;
        }
    } else {
        if (moeStep <= 0)
            return std::unexpected(configError(source, "interleave_moe_layer_step must be positive"));
        for (std::size_t l = std::size_t(moeStep - 1); l < L; l += std::size_t(moeStep))
            c.moe[l] = 1;
    }
    c.chunked.assign(L, 0);
    for (std::size_t l = 0; l < L; ++l) {
        bool chunked = c.useRope[l] && c.chunkSize > 0;
        if (!layerTypes.empty()) {
            if (layerTypes.size() != L)
                return std::unexpected(configError(source, "layer_types does not list every layer"));
            if (layerTypes[l] == "chunked_attention")
                chunked = c.chunkSize > 0;
            else if (layerTypes[l] == "full_attention")
                chunked = false;
            else
                return std::unexpected(
                    Error{ErrorCode::Unsupported,
                          source + ": layer type '" + layerTypes[l] + "' is not supported"});
        }
        c.chunked[l] = chunked ? 1 : 0;
    }
    return {};
}

std::expected<void, Error> validate(const Llama4Config& c, const std::string& source)
{
    auto bad = [&](const std::string& what) { return std::unexpected(configError(source, what)); };
    if (c.nLayers <= 0 || c.nLayers > 1024)
        return bad("absurd layer count " + std::to_string(c.nLayers));
    if (c.dim <= 0 || c.dim > (1 << 17))
        return bad("absurd hidden size " + std::to_string(c.dim));
    if (c.nHeads <= 0 || c.nKvHeads <= 0 || c.nHeads % c.nKvHeads != 0 || c.nHeads > 1024)
        return bad("head counts " + std::to_string(c.nHeads) + "/" + std::to_string(c.nKvHeads) +
                   " are not a valid grouped-query layout");
    if (c.headDim <= 0 || c.headDim > 1024 || c.headDim % 2 != 0)
        return bad("absurd head dimension " + std::to_string(c.headDim));
    if (c.vocabSize <= 0 || c.vocabSize > (1 << 24))
        return bad("absurd vocabulary size");
    const bool anyMoe = std::ranges::any_of(c.moe, [](std::uint8_t m) { return m != 0; });
    const bool anyDense = std::ranges::any_of(c.moe, [](std::uint8_t m) { return m == 0; });
    if (anyMoe && (c.nExperts <= 0 || c.nExperts > 4096 || c.expertDim <= 0 || c.expertDim > (1 << 20)))
        return bad("MoE layers need num_local_experts and intermediate_size");
    if (anyMoe && (c.expertsPerToken <= 0 || c.expertsPerToken > c.nExperts))
        return bad("num_experts_per_tok must lie in 1.." + std::to_string(c.nExperts));
    if (anyDense && (c.denseDim <= 0 || c.denseDim > (1 << 20)))
        return bad("dense layers need intermediate_size_mlp");
    if (!(c.rmsEps > 0) || !std::isfinite(c.rmsEps) || !(c.ropeTheta > 0) || !std::isfinite(c.ropeTheta))
        return bad("rms_norm_eps and rope_theta must be positive numbers");
    if (c.chunkSize < 0)
        return bad("attention_chunk_size must be positive");
    if (c.temperatureTuning && !(c.floorScale >= 1))
        return bad("floor_scale must be at least 1");
    const RopeScaling& s = c.ropeScaling;
    if (s.type != RopeScaling::Type::None &&
        (!(s.factor > 0) || !(s.lowFreqFactor > 0) || !(s.highFreqFactor > 0) || s.originalContext <= 0))
        return bad("rope scaling parameters must be positive");
    if (s.type == RopeScaling::Type::Llama3 && s.highFreqFactor < s.lowFreqFactor)
        return bad("llama3 rope scaling needs high_freq_factor >= low_freq_factor");
    return {};
}

} // namespace

int Llama4Config::chunkedLayerCount() const
{
    return int(std::ranges::count_if(chunked, [](std::uint8_t c) { return c != 0; }));
}

KvLayout llama4KvLayout(const Llama4Config& c, KvDtype dtype)
{
    KvLayout l;
    l.dtype = dtype;
    l.nLayers = c.nLayers;
    l.nKvHeads = c.nKvHeads;
    l.headDim = c.headDim;
    if (c.chunkSize > 0 && c.chunkedLayerCount() > 0) {
        l.chunkSize = c.chunkSize;
        l.chunked = c.chunked;
    }
    return l;
}

std::expected<Llama4Config, Error> parseLlama4Config(std::string_view jsonText, const std::string& source)
{
    auto json = Json::parse(jsonText);
    if (!json)
        return std::unexpected(configError(source, json.error().message));
    const Json* root = &*json;
    const Json* type = root->find("model_type");
    const std::string modelType = type && type->asString() ? *type->asString() : "";
    // Nested form (Llama4ForConditionalGeneration): the text model's keys sit in text_config.
    if (const Json* text = root->find("text_config"); text && text->isObject()) {
        root = text;
    } else if (modelType != "llama4_text" && modelType != "llama4") {
        return std::unexpected(Error{ErrorCode::Unsupported,
                                     source + ": model_type '" + modelType + "' is not a Llama 4 model"});
    }
    const Json& j = *root;
    auto intField = [&](std::string_view key, std::int64_t fallback) -> std::int64_t {
        const auto v = number(j, key);
        return v ? std::int64_t(*v) : fallback;
    };

    Llama4Config c;
    c.nLayers = int(intField("num_hidden_layers", 48));
    c.dim = int(intField("hidden_size", 5120));
    c.nHeads = int(intField("num_attention_heads", 40));
    c.nKvHeads = int(intField("num_key_value_heads", c.nHeads));
    c.headDim = int(intField("head_dim", c.nHeads > 0 ? c.dim / c.nHeads : 0));
    c.vocabSize = int(intField("vocab_size", 202048));
    c.contextLength = intField("max_position_embeddings", 131072);
    c.expertDim = int(intField("intermediate_size", 8192));
    c.denseDim = int(intField("intermediate_size_mlp", 16384));
    c.nExperts = int(intField("num_local_experts", 16));
    c.expertsPerToken = int(intField("num_experts_per_tok", 1));
    c.rmsEps = float(number(j, "rms_norm_eps").value_or(1e-5));
    c.qkNorm = flag(j, "use_qk_norm").value_or(true);
    c.temperatureTuning = flag(j, "attn_temperature_tuning").value_or(true);
    c.floorScale = float(number(j, "floor_scale").value_or(8192.0));
    c.attnScale = float(number(j, "attn_scale").value_or(0.1));
    c.tiedEmbeddings = flag(j, "tie_word_embeddings").value_or(false);
    c.bosId = int(intField("bos_token_id", -1));
    if (const Json* eos = j.find("eos_token_id")) {
        if (const auto id = eos->asInt())
            c.eosIds.push_back(int(*id));
        else if (const auto* list = eos->asArray())
            for (const Json& e : *list)
                if (const auto id = e.asInt())
                    c.eosIds.push_back(int(*id));
    }
    // attention_chunk_size: absent means the class default 8192; null means no chunking.
    if (const Json* chunk = j.find("attention_chunk_size"))
        c.chunkSize = chunk->isNull() ? 0 : int(chunk->asNumber() ? *chunk->asNumber() : -1);
    else
        c.chunkSize = 8192;

    if (const Json* act = j.find("hidden_act"); act && act->asString() && *act->asString() != "silu")
        return std::unexpected(Error{ErrorCode::Unsupported, source + ": hidden_act '" + *act->asString() +
                                                                 "' is not supported (Llama 4 uses silu)"});
    if (flag(j, "attention_bias").value_or(false))
        return std::unexpected(Error{ErrorCode::Unsupported, source + ": attention_bias is not supported"});

    // rope_theta + rope_scaling (transformers 4) or one rope_parameters object (transformers 5);
    // the type key is rope_type or, in older files, type.
    c.ropeTheta = float(number(j, "rope_theta").value_or(500000.0));
    const Json* rope = j.find("rope_parameters");
    if (rope && rope->isObject())
        c.ropeTheta = float(number(*rope, "rope_theta").value_or(c.ropeTheta));
    else
        rope = j.find("rope_scaling");
    if (rope && rope->isObject()) {
        const Json* t = rope->find("rope_type") ? rope->find("rope_type") : rope->find("type");
        const std::string kind = t && t->asString() ? *t->asString() : "default";
        RopeScaling& s = c.ropeScaling;
        s.factor = float(number(*rope, "factor").value_or(1.0));
        if (kind == "llama3") {
            s.type = RopeScaling::Type::Llama3;
            s.lowFreqFactor = float(number(*rope, "low_freq_factor").value_or(1.0));
            s.highFreqFactor = float(number(*rope, "high_freq_factor").value_or(4.0));
            s.originalContext = int(number(*rope, "original_max_position_embeddings").value_or(8192));
        } else if (kind == "linear") {
            s.type = RopeScaling::Type::Linear;
        } else if (kind != "default") {
            return std::unexpected(
                Error{ErrorCode::Unsupported, source + ": rope scaling '" + kind + "' is not supported"});
        }
    }

    if (const auto list = intList(j, "no_rope_layers"))
        for (const std::int64_t v : *list)
            c.useRope.push_back(v != 0 ? 1 : 0);
    std::vector<std::string> layerTypes;
    if (const Json* lt = j.find("layer_types"); lt && lt->asArray())
        for (const Json& e : *lt->asArray())
            layerTypes.push_back(e.asString() ? *e.asString() : "");
    const Json* moeList = j.find("moe_layers");
    std::optional<std::vector<std::int64_t>> moeLayers;
    if (moeList && moeList->asArray()) { // an explicit list, possibly empty (no MoE layer)
        moeLayers.emplace();
        for (const Json& e : *moeList->asArray())
            if (const auto i = e.asInt())
                moeLayers->push_back(*i);
    }
    if (c.nLayers <= 0 || c.nLayers > 1024)
        return std::unexpected(configError(source, "absurd layer count " + std::to_string(c.nLayers)));
    if (auto ok = finishSchedule(c, source, int(intField("no_rope_layer_interval", 4)),
                                 int(intField("interleave_moe_layer_step", 1)), moeLayers, layerTypes);
        !ok)
        return std::unexpected(ok.error());
    if (auto ok = validate(c, source); !ok)
        return std::unexpected(ok.error());
    return c;
}

std::expected<Llama4Config, Error> llama4ConfigFromGguf(const GgufFile& f)
{
    const std::string source = f.file().path().filename().string();
    const std::string arch = f.getString("general.architecture").value_or("");
    if (arch != "llama4")
        return std::unexpected(
            Error{ErrorCode::Unsupported, source + ": architecture '" + arch + "' is not llama4"});
    auto key = [&](const std::string& k) { return "llama4." + k; };
    auto need = [&](const std::string& k) -> std::expected<std::int64_t, Error> {
        const auto v = f.getInt(key(k));
        if (!v || *v <= 0 || *v > (std::int64_t(1) << 40))
            return std::unexpected(configError(source, "missing or invalid metadata " + key(k)));
        return *v;
    };
    Llama4Config c;
    auto layers = need("block_count");
    auto dim = need("embedding_length");
    auto heads = need("attention.head_count");
    for (const auto* v : {&layers, &dim, &heads})
        if (!*v)
            return std::unexpected(v->error());
    c.nLayers = int(*layers);
    c.dim = int(*dim);
    c.nHeads = int(*heads);
    c.nKvHeads = int(f.getInt(key("attention.head_count_kv")).value_or(c.nHeads));
    c.headDim = int(f.getInt(key("attention.key_length")).value_or(c.dim / c.nHeads));
    c.contextLength = f.getInt(key("context_length")).value_or(131072);
    c.denseDim = int(f.getInt(key("feed_forward_length")).value_or(0));
    c.expertDim = int(f.getInt(key("expert_feed_forward_length")).value_or(0));
    c.nExperts = int(f.getInt(key("expert_count")).value_or(0));
    c.expertsPerToken = int(f.getInt(key("expert_used_count")).value_or(1));
    c.rmsEps = float(f.getFloat(key("attention.layer_norm_rms_epsilon")).value_or(1e-5));
    c.ropeTheta = float(f.getFloat(key("rope.freq_base")).value_or(500000.0));
    const GgufTensor* embd = f.tensor("token_embd.weight");
    if (!embd || embd->shape.size() != 2)
        return std::unexpected(configError(source, "missing tensor token_embd.weight"));
    c.vocabSize = int(embd->shape[1]);
    // llama.cpp fixes these for llama4 (chunk 8192, NoPE every 4th layer, floor scale 8192,
    // attn scale 0.1, QK norm unless 128 experts) and treats sliding_window == 0 as "no chunking,
    // RoPE everywhere". The chunk_size / temperature keys are Quire's own, read when present
    // (the tiny test file needs a chunk of 16); llama.cpp ignores them.
    c.chunkSize = int(f.getInt(key("attention.chunk_size")).value_or(8192));
    int noRopeInterval = 4;
    if (const auto swa = f.getInt(key("attention.sliding_window")); swa && *swa == 0) {
        c.chunkSize = 0;
        noRopeInterval = c.nLayers + 1;
    }
    c.floorScale = float(f.getFloat(key("attention.temperature_floor_scale")).value_or(8192.0));
    c.attnScale = float(f.getFloat(key("attention.temperature_scale")).value_or(0.1));
    c.temperatureTuning = c.chunkSize > 0;
    c.qkNorm = c.nExperts != 128;
    if (const auto v = f.getInt(key("attention.use_qk_norm")))
        c.qkNorm = *v != 0;
    c.bosId = int(f.getInt("tokenizer.ggml.bos_token_id").value_or(-1));
    if (const auto eos = f.getInt("tokenizer.ggml.eos_token_id"))
        c.eosIds.push_back(int(*eos));
    const auto step = f.getInt(key("interleave_moe_layer_step")).value_or(1);
    if (c.nLayers <= 0 || c.nLayers > 1024)
        return std::unexpected(configError(source, "absurd layer count"));
    if (auto ok = finishSchedule(c, source, noRopeInterval, int(step), std::nullopt, {}); !ok)
        return std::unexpected(ok.error());
    if (c.nExperts == 0) // a file without experts: every layer dense
        std::ranges::fill(c.moe, std::uint8_t(0));
    if (auto ok = validate(c, source); !ok)
        return std::unexpected(ok.error());
    return c;
}

std::vector<float> llama4RopeFrequencies(const Llama4Config& c)
{
    // transformers, in fp32: inv_freq = 1 / theta^(arange(0, d, 2) / d); llama3 scaling keeps
    // wavelengths below N0/hi, divides those above N0/lo by the factor and blends in between.
    const int half = c.headDim / 2;
    const RopeScaling& s = c.ropeScaling;
    std::vector<float> freqs(std::size_t(half), 0.0f);
    for (int j = 0; j < half; ++j) {
        const float exponent = float(2 * j) / float(c.headDim);
        const float base = float(std::pow(double(c.ropeTheta), double(exponent)));
        float f = 1.0f / base;
        if (s.type == RopeScaling::Type::Llama3) {
            const float wavelen = float(2.0 * std::numbers::pi) / f;
            const float lowWavelen = float(s.originalContext) / s.lowFreqFactor;
            const float highWavelen = float(s.originalContext) / s.highFreqFactor;
            if (wavelen > lowWavelen) {
                f = f / s.factor;
            } else if (!(wavelen < highWavelen) && s.highFreqFactor != s.lowFreqFactor) {
                // Medium band; empty (and never evaluated) when high == low.
                const float smooth = (float(s.originalContext) / wavelen - s.lowFreqFactor) /
                                     (s.highFreqFactor - s.lowFreqFactor);
                f = (1.0f - smooth) * f / s.factor + smooth * f;
            }
        } else if (s.type == RopeScaling::Type::Linear) {
            f = f / s.factor;
        }
        freqs[std::size_t(j)] = f;
    }
    return freqs;
}

float llama4QueryTemperature(const Llama4Config& c, std::int64_t position)
{
    if (!c.temperatureTuning)
        return 1.0f;
    const float steps = std::floor((float(position) + 1.0f) / c.floorScale);
    return std::log1p(steps) * c.attnScale + 1.0f;
}

} // namespace quire::inference
