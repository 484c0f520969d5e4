// CPU twin of kernels/rmsnorm.cuh: residual add, then RMSNorm to bf16, on host memory.
#pragma once

#include <cstdint>

namespace quire::inference::cuda::twins {

void rmsNormResidual(float* residual, const std::uint16_t* delta, const float* weight, std::uint16_t* out,
                     int rows, int dim, float eps);

} // namespace quire::inference::cuda::twins
