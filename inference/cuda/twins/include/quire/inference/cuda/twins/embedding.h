// CPU twin of kernels/embedding.cuh: the same gather, on host memory.
#pragma once

#include <cstdint>

namespace quire::inference::cuda::twins {

void embeddingGather(const void* table, bool tableIsBf16, int vocab, int dim, const std::int32_t* ids,
                     int count, float* out);

} // namespace quire::inference::cuda::twins
