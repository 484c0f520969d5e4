#include "quire/inference/cuda/twins/rmsnorm.h"

#include <cmath>

#include "quire/inference/cuda/bf16.h"

namespace quire::inference::cuda::twins {

void rmsNormResidual(float* residual, const std::uint16_t* delta, const float* weight, std::uint16_t* out,
                     int rows, int dim, float eps)
{
    for (int r = 0; r < rows; ++r) {
        float* x = residual + static_cast<long long>(r) * dim;
        double sumSq = 0;
        for (int d = 0; d < dim; ++d) {
            if (delta)
                x[d] = x[d] + bf16ToFloat(delta[static_cast<long long>(r) * dim + d]);
            sumSq += static_cast<double>(x[d]) * x[d];
        }
        const float inv = 1.0f / std::sqrt(static_cast<float>(sumSq / dim) + eps);
        for (int d = 0; d < dim; ++d) {
            const float w = weight ? weight[d] : 1.0f;
            out[static_cast<long long>(r) * dim + d] = floatToBf16(x[d] * inv * w);
        }
    }
}

} // namespace quire::inference::cuda::twins
