// CPU twin of kernels/swiglu.cuh.
#pragma once

#include <cstdint>

namespace quire::inference::cuda::twins {

void swiGlu(const std::uint16_t* gate, long long gateStride, const std::uint16_t* up, long long upStride,
            std::uint16_t* out, long long outStride, int rows, int cols);

} // namespace quire::inference::cuda::twins
