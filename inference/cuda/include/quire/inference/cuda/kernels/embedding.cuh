// Embedding gather: out[i][:] = table[ids[i]][:] as fp32 (the residual stream). The table is bf16 or
// f32, row-major [vocab][dim]. An id outside [0, vocab) yields a row of zeros (the tokenizer never
// produces one; the kernel must not read out of bounds if it does). CPU twin: twins/embedding.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

// table: device [vocab][dim] (bf16 bits when tableIsBf16, else float); ids: device [count];
// out: device [count][dim] float. Returns the launch status.
cudaError_t launchEmbeddingGather(const void* table, bool tableIsBf16, int vocab, int dim,
                                  const std::int32_t* ids, int count, float* out, cudaStream_t stream);

} // namespace quire::inference::cuda
