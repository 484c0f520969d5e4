// The CUDA runner of Llama 4 text models (private to the backend; see quire/inference/cuda/backend.h).
#pragma once

#include <expected>
#include <memory>

#include "quire/inference/backend.h"

namespace quire::inference::cuda {

std::expected<std::unique_ptr<Runner>, Error>
makeLlama4CudaRunner(std::shared_ptr<const ModelWeights> weights, const RunnerOptions& options);

} // namespace quire::inference::cuda
