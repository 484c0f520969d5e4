// CUDA device discovery and RAII device memory for the CUDA backend. Plain types only, so the
// app and tests can include this without the CUDA headers. Thread-safe.
#pragma once

#include <cstddef>
#include <expected>
#include <string>

#include "quire/inference/error.h"

namespace quire::inference::cuda {

struct DeviceInfo {
    int index = 0;
    std::string name;
    int computeMajor = 0;
    int computeMinor = 0;
    std::size_t totalBytes = 0;
    std::size_t freeBytes = 0;
    int multiprocessors = 0;
};

// Number of usable CUDA devices; 0 when there is no driver or no device (never an error).
int deviceCount();
std::expected<DeviceInfo, Error> deviceInfo(int index);

// Device memory owned by one object; freed on destruction.
class DeviceBuffer {
public:
    static std::expected<DeviceBuffer, Error> allocate(std::size_t bytes);
    DeviceBuffer() = default;
    DeviceBuffer(DeviceBuffer&& other) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer();

    void* data() const { return m_ptr; }
    std::size_t size() const { return m_bytes; }
    std::expected<void, Error> upload(const void* host, std::size_t bytes);
    std::expected<void, Error> download(void* host, std::size_t bytes) const;

private:
    void* m_ptr = nullptr;
    std::size_t m_bytes = 0;
};

}  // namespace quire::inference::cuda
