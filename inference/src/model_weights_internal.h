// Helpers shared by the GGUF and Hugging Face weight loaders.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "quire/inference/model_weights.h"

namespace quire::inference {

Error weightError(const std::string& source, const std::string& what);
std::expected<void, Error> checkConfig(const std::string& source, const ModelConfig& config);
std::expected<void, Error> checkMatrix(const std::string& source, const TensorView& t, std::int64_t rows,
                                       std::int64_t cols);
std::expected<void, Error> checkVector(const std::string& source, const std::string& name,
                                       const std::vector<float>& v, std::size_t n, bool optional);
// Shapes, types and finiteness of every tensor against the configuration.
std::expected<void, Error> checkWeights(const ModelWeights& weights);

} // namespace quire::inference
