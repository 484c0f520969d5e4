// KV export and import of the CUDA runners (Runner::readKv / writeKv): the device <-> host copies
// of rows of K and V (the range checks are checkKvCopy in backend.h). Private to the CUDA backend.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <expected>

#include "quire/inference/error.h"

namespace quire::inference::cuda {

// `bytes` between host and device on `stream`, then waits for it (the host buffer may die after).
std::expected<void, Error> copyKv(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                                  cudaStream_t stream);

} // namespace quire::inference::cuda
