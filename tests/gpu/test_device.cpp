// The CUDA runtime works end to end: device properties, allocation, a round trip of bytes.
#include <cstdint>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/device.h"

using namespace quire::inference::cuda;

GPU_TEST(deviceReportsHopperOrNewer)
{
    auto info = deviceInfo(0);
    GPU_CHECK(info.has_value());
    GPU_CHECK_MSG(info->computeMajor >= 9, "sm_" << info->computeMajor << info->computeMinor
                                                 << ": the backend is built for sm_90a");
    GPU_CHECK(info->freeBytes > 0 && info->freeBytes <= info->totalBytes);
}

GPU_TEST(bufferRoundTrip)
{
    std::vector<std::uint32_t> host(1 << 20), back(host.size(), 0xDEADBEEF);
    for (size_t i = 0; i < host.size(); ++i)
        host[i] = static_cast<std::uint32_t>(i * 2654435761u);
    auto buf = DeviceBuffer::allocate(host.size() * 4);
    GPU_CHECK(buf.has_value());
    GPU_CHECK(buf->upload(host.data(), host.size() * 4).has_value());
    GPU_CHECK(buf->download(back.data(), back.size() * 4).has_value());
    GPU_CHECK(back == host);
    GPU_CHECK(!buf->upload(host.data(), host.size() * 8).has_value());  // larger than the buffer
}

GPU_TEST(absurdAllocationIsAnErrorNotACrash)
{
    auto huge = DeviceBuffer::allocate(std::size_t(1) << 50);
    GPU_CHECK(!huge.has_value());
    GPU_CHECK(huge.error().code == quire::inference::ErrorCode::OutOfMemory);
    auto ok = DeviceBuffer::allocate(1024);  // the context still works afterwards
    GPU_CHECK(ok.has_value());
}
