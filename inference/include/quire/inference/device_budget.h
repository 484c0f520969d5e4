// Context sizing for a KV cache held in device memory: how much a context of N tokens costs, the
// longest context a memory budget allows, and the choice (or refusal, with the numbers) of the
// context a runner allocates. Pure arithmetic on figures the caller measures (the CUDA runners:
// cudaMemGetInfo and their own buffer sizes), so that CPU unit tests can check it. Thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <string_view>

#include "quire/inference/backend.h"
#include "quire/inference/error.h"

namespace quire::inference {

// What a context costs on the device: a fixed part (working memory that does not grow with the
// context) plus bytesPerToken for every token, allocated in whole multiples of `granularity` tokens.
struct DeviceContextCost {
    std::uint64_t availableBytes = 0; // what the KV cache and the working memory may take together
    std::uint64_t fixedBytes = 0;
    std::uint64_t bytesPerToken = 0;
    int granularity = 1;
};

// The device memory a runner may plan with: the free memory, or the budget when one is set (> 0)
// and smaller.
std::uint64_t budgetedFreeBytes(std::uint64_t freeBytes, std::uint64_t budget);

// Bytes of a KV cache of `layers` layers holding K and V of kvDim values per token each.
std::uint64_t kvBytesPerToken(int layers, int kvDim, KvDtype dtype);

// fixedBytes + bytesPerToken x tokens rounded up to the granularity.
std::uint64_t contextBytes(const DeviceContextCost& cost, std::int64_t tokens);

// The longest context (a multiple of the granularity, at most `cap` when cap > 0) whose bytes fit
// availableBytes; 0 when not even the fixed part and one granule fit.
std::int64_t longestContext(const DeviceContextCost& cost, std::int64_t cap);

// The context to allocate: `requested` when > 0 and it fits, else the longest that fits capped at
// modelMax (> 0: the model's context length). A request longer than what fits, or no room at all,
// is an OutOfMemory error whose message names `what` (e.g. "the cuda backend's KV cache") and
// gives the numbers: the bytes per token, the fixed part, the memory available and the longest
// context that fits.
std::expected<int, Error> chooseDeviceContext(const DeviceContextCost& cost, int requested, int modelMax,
                                              std::string_view what);

} // namespace quire::inference
