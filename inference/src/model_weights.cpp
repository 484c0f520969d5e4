// Shared parts of weight loading: shape validation and RoPE frequencies.
#include "model_weights_internal.h"

#include <cmath>
#include <numbers>

#include "quire/inference/quant.h"

namespace quire::inference {

namespace {

std::string shapeText(const TensorView& t)
{
    std::string s = "[";
    s += std::to_string(t.rows);
    s += " x ";
    s += std::to_string(t.cols);
    s += ']';
    return s;
}

} // namespace

Error weightError(const std::string& source, const std::string& what)
{
    return Error{ErrorCode::Format, source + ": " + what};
}

std::expected<void, Error> checkMatrix(const std::string& source, const TensorView& t, std::int64_t rows,
                                       std::int64_t cols)
{
    if (t.empty())
        return std::unexpected(weightError(source, "missing tensor " + t.name));
    if (t.rows != rows || t.cols != cols)
        return std::unexpected(weightError(source, "tensor " + t.name + " has shape " + shapeText(t) +
                                                       ", expected [" + std::to_string(rows) + " x " +
                                                       std::to_string(cols) + "]"));
    if (!isSupportedWeightType(t.type))
        return std::unexpected(Error{ErrorCode::Unsupported, source + ": tensor " + t.name + " has type " +
                                                                 toString(t.type) +
                                                                 ", which this engine cannot run"});
    const auto bytes = rowBytes(t.type, t.cols);
    if (!bytes || *bytes != t.rowBytes)
        return std::unexpected(weightError(source, "tensor " + t.name + " row size does not match its type"));
    return {};
}

std::expected<void, Error> checkVector(const std::string& source, const std::string& name,
                                       const std::vector<float>& v, std::size_t n, bool optional)
{
    if (v.empty() && optional)
        return {};
    if (v.size() != n)
        return std::unexpected(weightError(source, "tensor " + name + " has " + std::to_string(v.size()) +
                                                       " elements, expected " + std::to_string(n)));
    for (const float x : v)
        if (!std::isfinite(x))
            return std::unexpected(weightError(source, "tensor " + name + " contains NaN or infinity"));
    return {};
}

std::expected<void, Error> checkConfig(const std::string& source, const ModelConfig& c)
{
    auto bad = [&](const std::string& what) { return std::unexpected(weightError(source, what)); };
    if (c.nLayers <= 0 || c.nLayers > 1024)
        return bad("absurd layer count " + std::to_string(c.nLayers));
    if (c.dim <= 0 || c.dim > (1 << 17) || c.ffnDim <= 0 || c.ffnDim > (1 << 20))
        return bad("absurd model width");
    if (c.nHeads <= 0 || c.nKvHeads <= 0 || c.nHeads % c.nKvHeads != 0 || c.nHeads > 1024)
        return bad("head counts " + std::to_string(c.nHeads) + "/" + std::to_string(c.nKvHeads) +
                   " are not a valid grouped-query layout");
    if (c.headDim <= 0 || c.headDim > 1024 || c.headDim % 2 != 0)
        return bad("absurd head dimension " + std::to_string(c.headDim));
    if (c.ropeDim <= 0 || c.ropeDim > c.headDim || c.ropeDim % 2 != 0)
        return bad("rope dimension " + std::to_string(c.ropeDim) + " does not fit the head dimension");
    if (c.vocabSize <= 0 || c.vocabSize > (1 << 24))
        return bad("absurd vocabulary size");
    if (!(c.rmsEps > 0) || !std::isfinite(c.rmsEps) || !(c.ropeTheta > 0) || !std::isfinite(c.ropeTheta))
        return bad("rms epsilon and rope base must be positive numbers");
    if (c.contextLength <= 0)
        return bad("context length must be positive");
    return {};
}

std::expected<void, Error> checkWeights(const ModelWeights& w)
{
    const auto& c = w.config;
    const std::string& src = w.sourceDescription;
    if (auto ok = checkConfig(src, c); !ok)
        return ok;
    if (auto ok = checkMatrix(src, w.tokenEmbedding, c.vocabSize, c.dim); !ok)
        return ok;
    if (auto ok = checkMatrix(src, w.output, c.vocabSize, c.dim); !ok)
        return ok;
    if (auto ok = checkVector(src, "output_norm", w.outputNorm, std::size_t(c.dim), false); !ok)
        return ok;
    if (!w.ropeFreqFactors.empty() && w.ropeFreqFactors.size() != std::size_t(c.ropeDim / 2))
        return std::unexpected(weightError(src, "rope_freqs has the wrong length"));
    if (std::int64_t(w.layers.size()) != c.nLayers)
        return std::unexpected(weightError(src, "layer count does not match the configuration"));
    for (std::size_t i = 0; i < w.layers.size(); ++i) {
        const LayerWeights& l = w.layers[i];
        std::string n = "layer ";
        n += std::to_string(i);
        n += ' ';
        for (const auto& check : {
                 checkVector(src, n + "attn_norm", l.attnNorm, std::size_t(c.dim), false),
                 checkVector(src, n + "ffn_norm", l.ffnNorm, std::size_t(c.dim), false),
                 checkVector(src, n + "q bias", l.bq, std::size_t(c.qDim()), true),
                 checkVector(src, n + "k bias", l.bk, std::size_t(c.kvDim()), true),
                 checkVector(src, n + "v bias", l.bv, std::size_t(c.kvDim()), true),
                 checkVector(src, n + "output bias", l.bo, std::size_t(c.dim), true),
                 checkMatrix(src, l.wq, c.qDim(), c.dim),
                 checkMatrix(src, l.wk, c.kvDim(), c.dim),
                 checkMatrix(src, l.wv, c.kvDim(), c.dim),
                 checkMatrix(src, l.wo, c.dim, c.qDim()),
                 checkMatrix(src, l.wGate, c.ffnDim, c.dim),
                 checkMatrix(src, l.wUp, c.ffnDim, c.dim),
                 checkMatrix(src, l.wDown, c.dim, c.ffnDim),
             })
            if (!check)
                return check;
    }
    return {};
}

std::vector<float> ropeFrequencies(const ModelConfig& c, const std::vector<float>& freqFactors)
{
    const int half = c.ropeDim / 2;
    std::vector<float> freqs(static_cast<std::size_t>(half));
    for (int i = 0; i < half; ++i) {
        double f = std::pow(double(c.ropeTheta), -2.0 * i / double(c.ropeDim));
        const RopeScaling& s = c.ropeScaling;
        if (!freqFactors.empty()) {
            f /= freqFactors[std::size_t(i)]; // GGUF llama3 files carry the factors precomputed
        } else if (s.type == RopeScaling::Type::Llama3) {
            const double wavelen = 2.0 * std::numbers::pi / f;
            const double lowWavelen = s.originalContext / s.lowFreqFactor;
            const double highWavelen = s.originalContext / s.highFreqFactor;
            if (wavelen > lowWavelen) {
                f /= s.factor;
            } else if (wavelen >= highWavelen) {
                const double smooth =
                    (s.originalContext / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
                f = (1.0 - smooth) * f / s.factor + smooth * f;
            }
        }
        if (s.type == RopeScaling::Type::Linear)
            f /= s.factor;
        freqs[std::size_t(i)] = float(f);
    }
    return freqs;
}

} // namespace quire::inference
