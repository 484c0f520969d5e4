// Factories of the CPU runners (the reference oracle and the fast path) and their shared
// argument checks.
#pragma once

#include <expected>
#include <memory>
#include <span>

#include "cpu/kernels.h"
#include "cpu/llama_common.h"
#include "quire/inference/backend.h"

namespace quire::inference::cpu {

// Validates a forward() call and makes room in the cache for the new tokens.
std::expected<void, Error> checkForward(std::span<const std::int32_t> tokens, std::span<float> logits,
                                        bool allLogits, int position, KvCache& cache, int vocab);

std::expected<std::unique_ptr<Runner>, Error>
makeLlamaReferenceRunner(std::shared_ptr<const ModelWeights> weights, const RunnerOptions& options);
// `kernels` null: the best table for this CPU.
std::expected<std::unique_ptr<Runner>, Error> makeLlamaCpuRunner(std::shared_ptr<const ModelWeights> weights,
                                                                 const RunnerOptions& options,
                                                                 const Kernels* kernels = nullptr);

} // namespace quire::inference::cpu
