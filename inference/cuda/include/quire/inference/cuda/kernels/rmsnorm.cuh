// RMSNorm fused with the residual add, the step between every two blocks of a transformer layer:
//   residual[r][:] += delta[r][:]            (when delta is given)
//   out[r][:] = bf16(residual[r][:] / sqrt(mean(residual[r][:]^2) + eps) * weight[:])
// residual is fp32 [rows][dim] (updated in place), delta and out are bf16 [rows][dim], weight is fp32
// [dim] or null (all ones: Llama 4's QK norm). Rows are contiguous. CPU twin: twins/rmsnorm.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace quire::inference::cuda {

cudaError_t launchRmsNormResidual(float* residual, const std::uint16_t* delta, const float* weight,
                                  std::uint16_t* out, int rows, int dim, float eps, cudaStream_t stream);

} // namespace quire::inference::cuda
