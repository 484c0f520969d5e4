// KV export and import of the CUDA runners (Runner::readKv / writeKv): the range checks and the
// device <-> host copies of rows of K and V. Private to the CUDA backend.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <expected>

#include "quire/inference/error.h"

namespace quire::inference::cuda {

// layer in [0, nLayers), 0 <= begin <= end <= held, and k and v of (end - begin) * rowBytes bytes each.
std::expected<void, Error> checkKvRange(int layer, int nLayers, int begin, int end, int held,
                                        std::size_t kBytes, std::size_t vBytes, std::size_t rowBytes);

// `bytes` between host and device on `stream`, then waits for it (the host buffer may die after).
std::expected<void, Error> copyKv(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                                  cudaStream_t stream);

} // namespace quire::inference::cuda
