// KV export/import helpers of the CUDA runners (kv_copy.h).
#include "kv_copy.h"

#include <cuda_runtime.h>

#include <string>

namespace quire::inference::cuda {

std::expected<void, Error> checkKvRange(int layer, int nLayers, int begin, int end, int held,
                                        std::size_t kBytes, std::size_t vBytes, std::size_t rowBytes)
{
    if (layer < 0 || layer >= nLayers)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "KV copy: no layer " + std::to_string(layer)});
    if (begin < 0 || begin > end || end > held)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "KV copy: positions [" + std::to_string(begin) + ", " +
                                                  std::to_string(end) + ") are not held (" +
                                                  std::to_string(held) + " tokens)"});
    const std::size_t need = std::size_t(end - begin) * rowBytes;
    if (kBytes != need || vBytes != need)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "KV copy: buffers of the wrong size"});
    return {};
}

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
