// KV export/import helpers of the CUDA runners (kv_copy.h).
#include "kv_copy.h"

#include <cuda_runtime.h>

#include <string>

namespace quire::inference::cuda {

std::expected<void, Error> copyKv(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                                  cudaStream_t stream)
{
    if (bytes == 0)
        return {};
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return std::unexpected(Error{ErrorCode::Device, std::string("KV copy: ") + cudaGetErrorString(e)});
    }
    return {};
}

} // namespace quire::inference::cuda
