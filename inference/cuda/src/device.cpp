#include "quire/inference/cuda/device.h"

#include <cuda_runtime.h>

#include <utility>

namespace quire::inference::cuda {

namespace {
Error deviceError(cudaError_t e, const char* what)
{
    return Error{ErrorCode::Device, std::string(what) + ": " + cudaGetErrorString(e)};
}
}  // namespace

int deviceCount()
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky "no driver" error
        return 0;
    }
    return n;
}

std::expected<DeviceInfo, Error> deviceInfo(int index)
{
    cudaDeviceProp prop{};
    if (auto e = cudaGetDeviceProperties(&prop, index); e != cudaSuccess)
        return std::unexpected(deviceError(e, "cudaGetDeviceProperties"));
    DeviceInfo info;
    info.index = index;
    info.name = prop.name;
    info.computeMajor = prop.major;
    info.computeMinor = prop.minor;
    info.totalBytes = prop.totalGlobalMem;
    info.multiprocessors = prop.multiProcessorCount;
    int previous = 0;
    cudaGetDevice(&previous);
    if (cudaSetDevice(index) == cudaSuccess) {
        size_t freeBytes = 0, total = 0;
        if (cudaMemGetInfo(&freeBytes, &total) == cudaSuccess)
            info.freeBytes = freeBytes;
        cudaSetDevice(previous);
    }
    return info;
}

std::expected<DeviceBuffer, Error> DeviceBuffer::allocate(std::size_t bytes)
{
    DeviceBuffer b;
    if (bytes == 0)
        return b;
    if (auto e = cudaMalloc(&b.m_ptr, bytes); e != cudaSuccess) {
        cudaGetLastError();
        return std::unexpected(Error{e == cudaErrorMemoryAllocation ? ErrorCode::OutOfMemory : ErrorCode::Device,
                                     "cannot allocate " + std::to_string(bytes) + " bytes on the GPU: " +
                                         cudaGetErrorString(e)});
    }
    b.m_bytes = bytes;
    return b;
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : m_ptr(std::exchange(other.m_ptr, nullptr)), m_bytes(std::exchange(other.m_bytes, 0))
{
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept
{
    if (this != &other) {
        if (m_ptr)
            cudaFree(m_ptr);
        m_ptr = std::exchange(other.m_ptr, nullptr);
        m_bytes = std::exchange(other.m_bytes, 0);
    }
    return *this;
}

DeviceBuffer::~DeviceBuffer()
{
    if (m_ptr)
        cudaFree(m_ptr);
}

std::expected<void, Error> DeviceBuffer::upload(const void* host, std::size_t bytes)
{
    if (bytes > m_bytes)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "upload larger than the buffer"});
    if (auto e = cudaMemcpy(m_ptr, host, bytes, cudaMemcpyHostToDevice); e != cudaSuccess)
        return std::unexpected(deviceError(e, "upload"));
    return {};
}

std::expected<void, Error> DeviceBuffer::download(void* host, std::size_t bytes) const
{
    if (bytes > m_bytes)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "download larger than the buffer"});
    if (auto e = cudaMemcpy(host, m_ptr, bytes, cudaMemcpyDeviceToHost); e != cudaSuccess)
        return std::unexpected(deviceError(e, "download"));
    return {};
}

}  // namespace quire::inference::cuda
