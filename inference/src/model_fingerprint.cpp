// ModelFingerprint: what decides whether stored KV bytes fit a loaded model (kv_blocks.h).
#include <cstdio>
#include <map>

#include "quire/inference/engine.h"
#include "quire/inference/kv_blocks.h"
#include "quire/inference/llama4.h"

namespace quire::inference {

namespace {

std::string num(double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

std::string ropeText(const RopeScaling& s)
{
    const char* type = s.type == RopeScaling::Type::None     ? "none"
                       : s.type == RopeScaling::Type::Linear ? "linear"
                                                             : "llama3";
    return std::string(type) + " factor " + num(s.factor) + " low " + num(s.lowFreqFactor) + " high " +
           num(s.highFreqFactor) + " original " + std::to_string(s.originalContext);
}

std::string floatsHash(const std::vector<float>& v)
{
    Hasher128 h;
    h.update(std::as_bytes(std::span(v)));
    return toHex(h.digest()).substr(0, 16);
}

std::string bits(const std::vector<std::uint8_t>& v)
{
    std::string s;
    for (const auto b : v)
        s += b ? '1' : '0';
    return s;
}

// Counts of each stored tensor type of a dense model ("Q4_1 x182, Q6_K x1, ...").
std::string denseQuantization(const ModelWeights& w)
{
    std::map<std::string, int> types;
    auto add = [&](const TensorView& t) {
        if (!t.empty())
            ++types[toString(t.type)];
    };
    add(w.tokenEmbedding);
    add(w.output);
    for (const LayerWeights& l : w.layers)
        for (const TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.wGate, &l.wUp, &l.wDown})
            add(*t);
    std::string s;
    for (const auto& [name, n] : types)
        s += (s.empty() ? "" : ", ") + name + " x" + std::to_string(n);
    return s;
}

std::string llama4Quantization(const Llama4Weights& w)
{
    std::map<std::string, int> formats;
    auto add = [&](const WeightMatrix& m) {
        if (m.empty())
            return;
        std::string f(toString(m.format));
        if (m.format == WeightFormat::Ggml)
            f += std::string(":") + toString(m.ggmlType);
        if (m.format == WeightFormat::Int4)
            f += "/g" + std::to_string(m.groupSize);
        ++formats[f];
    };
    add(w.embedding);
    add(w.lmHead);
    for (const Llama4Layer& l : w.blocks) {
        for (const WeightMatrix* m :
             {&l.wq, &l.wk, &l.wv, &l.wo, &l.sharedGate, &l.sharedUp, &l.sharedDown, &l.gate, &l.up, &l.down})
            add(*m);
        for (const auto* list : {&l.expertGate, &l.expertUp, &l.expertDown})
            for (const WeightMatrix& m : *list)
                add(m);
    }
    std::string s = w.quantization.describe() + ":";
    for (const auto& [name, n] : formats)
        s += " " + name + " x" + std::to_string(n);
    return s;
}

std::string tokenizerIdentity(const Tokenizer& t)
{
    Hasher128 h;
    for (std::size_t id = 0; id < t.vocabSize(); ++id) {
        const std::string_view piece = t.tokenToPiece(TokenId(id));
        h.updateU64(piece.size());
        h.update(piece);
        h.updateU64(std::uint64_t(t.kind(TokenId(id))));
    }
    return t.describe() + ", pieces " + toHex(h.digest()).substr(0, 16);
}

} // namespace

ModelFingerprint modelFingerprint(const Model& model, const KvLayout& kv)
{
    const ModelConfig& c = model.config();
    ModelFingerprint f;
    auto add = [&](std::string name, std::string value) {
        f.fields.emplace_back(std::move(name), std::move(value));
    };
    add("block_format", std::to_string(kKvBlockFormatVersion));
    add("architecture", c.archName);
    if (const Llama4Weights* l4 = asLlama4(*model.weights())) {
        const Llama4Config& x = l4->llama4;
        add("hyperparameters",
            "layers " + std::to_string(x.nLayers) + ", dim " + std::to_string(x.dim) + ", heads " +
                std::to_string(x.nHeads) + "/" + std::to_string(x.nKvHeads) + "x" +
                std::to_string(x.headDim) + ", vocab " + std::to_string(x.vocabSize) + ", experts " +
                std::to_string(x.nExperts) + "x" + std::to_string(x.expertDim) + " top " +
                std::to_string(x.expertsPerToken) + ", dense " + std::to_string(x.denseDim) + ", eps " +
                num(x.rmsEps) + ", qk_norm " + std::to_string(x.qkNorm) + ", temperature " +
                std::to_string(x.temperatureTuning) + " " + num(x.floorScale) + " " + num(x.attnScale) +
                ", moe " + bits(x.moe));
        add("attention", "chunk " + std::to_string(x.chunkSize) + ", chunked layers " + bits(x.chunked));
        add("rope", "theta " + num(x.ropeTheta) + ", " + ropeText(x.ropeScaling) + ", rope layers " +
                        bits(x.useRope) + ", frequencies " + floatsHash(l4->ropeFrequencies));
        add("quantization", llama4Quantization(*l4));
    } else {
        add("hyperparameters", "layers " + std::to_string(c.nLayers) + ", dim " + std::to_string(c.dim) +
                                   ", ffn " + std::to_string(c.ffnDim) + ", heads " +
                                   std::to_string(c.nHeads) + "/" + std::to_string(c.nKvHeads) + "x" +
                                   std::to_string(c.headDim) + ", vocab " + std::to_string(c.vocabSize) +
                                   ", eps " + num(c.rmsEps) + ", tied " + std::to_string(c.tiedEmbeddings));
        add("rope", "theta " + num(c.ropeTheta) + ", dim " + std::to_string(c.ropeDim) + ", " +
                        (c.ropeStyle == RopeStyle::NeoX ? "neox" : "interleaved") + ", " +
                        ropeText(c.ropeScaling) + ", freq factors " +
                        floatsHash(model.weights()->ropeFreqFactors));
        add("quantization", denseQuantization(*model.weights()));
    }
    add("kv_dtype", std::string(toString(kv.dtype)) + " " + std::to_string(kv.nLayers) + " layers " +
                        std::to_string(kv.nKvHeads) + "x" + std::to_string(kv.headDim));
    add("weights", fileIdentity(model.path()));
    add("tokenizer", tokenizerIdentity(model.tokenizer()));
    return f;
}

std::string ModelFingerprint::text() const
{
    std::string s;
    for (const auto& [name, value] : fields)
        s += name + "=" + value + "\n";
    return s;
}

std::string ModelFingerprint::key() const
{
    Hasher128 h;
    h.update(text());
    return h.digest();
}

ModelFingerprint ModelFingerprint::parse(std::string_view text)
{
    ModelFingerprint f;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        const std::size_t eq = line.find('=');
        if (eq != std::string_view::npos)
            f.fields.emplace_back(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    }
    return f;
}

std::vector<std::string> ModelFingerprint::differences(const ModelFingerprint& current) const
{
    std::vector<std::string> out;
    auto find = [](const ModelFingerprint& f, const std::string& name) -> const std::string* {
        for (const auto& [n, v] : f.fields)
            if (n == name)
                return &v;
        return nullptr;
    };
    for (const auto& [name, value] : current.fields) {
        const std::string* stored = find(*this, name);
        if (!stored)
            out.push_back(name + ": not recorded in the snapshot");
        else if (*stored != value)
            out.push_back(name + ": snapshot has \"" + *stored + "\", this model has \"" + value + "\"");
    }
    for (const auto& [name, value] : fields)
        if (!find(current, name))
            out.push_back(name + ": unknown to this build");
    return out;
}

} // namespace quire::inference
