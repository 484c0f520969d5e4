#include "quire/inference/cuda/twins/rope.h"

#include <cmath>
#include <numbers>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

std::vector<float> ropeInvFreq(int headDim, float theta, const Llama3RopeScaling* scaling)
{
    const int half = headDim / 2;
    std::vector<float> inv(static_cast<std::size_t>(half));
    for (int i = 0; i < half; ++i) {
        double f = std::pow(static_cast<double>(theta), -2.0 * i / headDim);
        if (scaling) {
            // Wavelengths longer than the original context divided by lowFreqFactor are stretched by
            // `factor`, those shorter than it divided by highFreqFactor are kept, and the band in between
            // is interpolated.
            const double oldCtx = scaling->originalMaxPosition;
            const double lowWavelen = oldCtx / scaling->lowFreqFactor;
            const double highWavelen = oldCtx / scaling->highFreqFactor;
            const double wavelen = 2.0 * std::numbers::pi / f;
            if (wavelen > lowWavelen) {
                f /= scaling->factor;
            } else if (wavelen >= highWavelen) {
                const double smooth = (oldCtx / wavelen - scaling->lowFreqFactor) /
                                      (scaling->highFreqFactor - scaling->lowFreqFactor);
                f = (1.0 - smooth) * f / scaling->factor + smooth * f;
            }
        }
        inv[static_cast<std::size_t>(i)] = static_cast<float>(f);
    }
    return inv;
}

void rope(std::uint16_t* x, int tokens, int heads, int headDim, long long rowStride,
          const std::int32_t* positions, const float* invFreq, RopeMode mode)
{
    const int half = headDim / 2;
    for (int t = 0; t < tokens; ++t)
        for (int h = 0; h < heads; ++h) {
            std::uint16_t* head = x + t * rowStride + static_cast<long long>(h) * headDim;
            for (int i = 0; i < half; ++i) {
                const float angle = static_cast<float>(positions[t]) * invFreq[i];
                const float s = static_cast<float>(std::sin(static_cast<double>(angle)));
                const float c = static_cast<float>(std::cos(static_cast<double>(angle)));
                const int ia = mode == RopeMode::NeoxHalves ? i : 2 * i;
                const int ib = mode == RopeMode::NeoxHalves ? i + half : 2 * i + 1;
                const float a = bf16ToFloat(head[ia]);
                const float b = bf16ToFloat(head[ib]);
                head[ia] = floatToBf16(a * c - b * s);
                head[ib] = floatToBf16(b * c + a * s);
            }
        }
}

} // namespace quire::inference::cuda::twins
