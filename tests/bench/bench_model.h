// Helpers for the CPU engine benchmarks: a GGUF Llama-family model loaded (or the reason printed)
// and a reproducible pseudo-random prompt over its vocabulary.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "quire/inference/gguf.h"
#include "quire/inference/model_weights.h"

namespace quire::bench {

// Null after printing the error to stderr.
inline std::shared_ptr<const inference::ModelWeights> loadGgufWeights(const std::string& path)
{
    auto file = inference::GgufFile::open(path);
    if (!file) {
        std::fprintf(stderr, "%s\n", file.error().message.c_str());
        return nullptr;
    }
    auto weights = inference::loadLlamaWeights(std::make_shared<const inference::GgufFile>(std::move(*file)));
    if (!weights) {
        std::fprintf(stderr, "%s\n", weights.error().message.c_str());
        return nullptr;
    }
    return std::move(*weights);
}

// n token ids from a fixed linear congruential sequence (the same prompt in every run).
inline std::vector<std::int32_t> randomPrompt(std::size_t n, int vocab)
{
    std::vector<std::int32_t> prompt(n);
    std::uint32_t state = 12345;
    for (auto& t : prompt) {
        state = state * 1664525u + 1013904223u;
        t = std::int32_t((state >> 8) % std::uint32_t(vocab));
    }
    return prompt;
}

} // namespace quire::bench
