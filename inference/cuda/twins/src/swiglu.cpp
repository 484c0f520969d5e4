#include "quire/inference/cuda/twins/swiglu.h"

#include <cmath>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

void swiGlu(const std::uint16_t* gate, long long gateStride, const std::uint16_t* up, long long upStride,
            std::uint16_t* out, long long outStride, int rows, int cols)
{
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const float g = bf16ToFloat(gate[r * gateStride + c]);
            const float u = bf16ToFloat(up[r * upStride + c]);
            out[r * outStride + c] = floatToBf16(g / (1.0f + std::exp(-g)) * u);
        }
}

} // namespace quire::inference::cuda::twins
