#include "quire/inference/cuda/twins/llama4_ops.h"

#include <cmath>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

void headRmsNorm(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride, float eps)
{
    for (int t = 0; t < tokens; ++t)
        for (int h = 0; h < heads; ++h) {
            std::uint16_t* row = x + (long long)t * rowStride + (long long)h * headDim;
            double ss = 0;
            for (int i = 0; i < headDim; ++i)
                ss += double(bf16ToFloat(row[i])) * bf16ToFloat(row[i]);
            const float denom = std::sqrt(float(ss / headDim) + eps);
            for (int i = 0; i < headDim; ++i)
                row[i] = floatToBf16(bf16ToFloat(row[i]) / denom);
        }
}

float queryTemperatureOf(std::int32_t position, float attnScale, float floorScale)
{
    return 1.0f + attnScale * std::log1p(std::floor(float(position + 1) / floorScale));
}

void queryTemperature(std::uint16_t* q, int tokens, int heads, int headDim, long long rowStride,
                      const std::int32_t* positions, float attnScale, float floorScale)
{
    for (int t = 0; t < tokens; ++t) {
        const float tau = queryTemperatureOf(positions[t], attnScale, floorScale);
        for (int h = 0; h < heads; ++h)
            for (int i = 0; i < headDim; ++i) {
                std::uint16_t& v = q[(long long)t * rowStride + (long long)h * headDim + i];
                v = floatToBf16(bf16ToFloat(v) * tau);
            }
    }
}

} // namespace quire::inference::cuda::twins
