// Helpers of the Llama 4 tests: the transformers goldens written by
// tests/reference/make_tiny_llama4.py, and the error measures the tests use.
#pragma once

#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "quire/inference/safetensors.h"

namespace quire::test {

inline const std::filesystem::path kLlama4Data = std::filesystem::path(QUIRE_TEST_DATA_DIR) / "llama4";

struct Llama4Golden {
    std::vector<std::int32_t> tokens;
    std::vector<float> logits;       // [T][vocab], whole-prompt prefill
    std::vector<float> decodeLogits; // [T - P + 1][vocab]: row k after position P - 1 + k
    int decodePrefix = 0;            // P
    int vocab = 0;
};

inline Llama4Golden loadLlama4Golden(const std::string& name)
{
    using namespace quire::inference;
    auto file = SafetensorsFile::open(kLlama4Data / name / "reference.safetensors");
    if (!file)
        throw std::runtime_error(file.error().message);
    auto get = [&](const char* n, const char* dtype) {
        const SafeTensor* t = file->tensor(n);
        if (!t || t->dtype != dtype)
            throw std::runtime_error(std::string("bad golden tensor ") + n);
        return t;
    };
    Llama4Golden g;
    const SafeTensor* ids = get("input_ids", "I64");
    for (std::int64_t i = 0; i < ids->elements(); ++i) {
        std::int64_t v;
        std::memcpy(&v, ids->data.data() + 8 * i, 8);
        g.tokens.push_back(std::int32_t(v));
    }
    const SafeTensor* logits = get("logits", "F32");
    g.vocab = int(logits->shape.back());
    g.logits.resize(std::size_t(logits->elements()));
    std::memcpy(g.logits.data(), logits->data.data(), logits->data.size());
    const SafeTensor* dec = get("decode_logits", "F32");
    g.decodeLogits.resize(std::size_t(dec->elements()));
    std::memcpy(g.decodeLogits.data(), dec->data.data(), dec->data.size());
    std::int64_t p;
    std::memcpy(&p, get("decode_prefix", "I64")->data.data(), 8);
    g.decodePrefix = int(p);
    return g;
}

// Worst over rows of max|ours - ref| / max|ref| (NaN counts as infinite); `where` gets the row.
inline double worstRelativeError(const float* ours, const float* ref, std::size_t rows, int vocab,
                                 int* where = nullptr)
{
    double worst = 0;
    for (std::size_t t = 0; t < rows; ++t) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < vocab; ++i) {
            const std::size_t k = t * std::size_t(vocab) + std::size_t(i);
            const double d = std::fabs(double(ours[k]) - ref[k]);
            maxDiff = std::isnan(d) ? INFINITY : std::max(maxDiff, d);
            maxRef = std::max(maxRef, std::fabs(double(ref[k])));
        }
        const double rel = maxDiff / maxRef;
        if (!(rel <= worst)) {
            worst = std::isnan(rel) ? INFINITY : rel;
            if (where)
                *where = int(t);
        }
    }
    return worst;
}

// KL(p || q) of the softmax distributions of two logit rows, in nats.
inline double klDivergence(const float* p, const float* q, int vocab)
{
    double mp = -INFINITY, mq = -INFINITY;
    for (int i = 0; i < vocab; ++i) {
        mp = std::max(mp, double(p[i]));
        mq = std::max(mq, double(q[i]));
    }
    double sp = 0, sq = 0;
    for (int i = 0; i < vocab; ++i) {
        sp += std::exp(double(p[i]) - mp);
        sq += std::exp(double(q[i]) - mq);
    }
    const double lp = mp + std::log(sp), lq = mq + std::log(sq);
    double kl = 0;
    for (int i = 0; i < vocab; ++i) {
        const double a = double(p[i]) - lp, b = double(q[i]) - lq;
        kl += std::exp(a) * (a - b);
    }
    return kl;
}

} // namespace quire::test
