// The dense matrix products of the CUDA backend: bf16 operands, fp32 accumulation, through cuBLASLt.
// One Blas object owns a cuBLASLt handle, a workspace on the device and a cache of the algorithm
// picked per shape. Use one Blas per thread (it is not thread-safe); the CUDA handles are released
// when it is destroyed.
#pragma once

#include <cstddef>
#include <expected>
#include <memory>

#include "quire/inference/error.h"

struct CUstream_st;

namespace quire::inference::cuda {

enum class GemmOut { Bf16, F32 };

class Blas {
public:
    static std::expected<Blas, Error> create(std::size_t workspaceBytes = std::size_t(32) << 20);
    Blas(Blas&&) noexcept;
    Blas& operator=(Blas&&) noexcept;
    ~Blas();

    // y[t][n] = x[t][k] . w[n][k]^T (+ beta * y): x and w are row-major bf16 (w as weights are
    // stored: one row per output feature), y row-major bf16 or f32, accumulation in fp32. All
    // pointers are device pointers aligned to 16 bytes; k and n must be multiples of 8.
    std::expected<void, Error> gemm(const void* x, const void* w, void* y, int t, int n, int k, GemmOut out,
                                    CUstream_st* stream, float beta = 0.0f);

    // Number of distinct shapes whose algorithm is cached (tests).
    std::size_t cachedPlans() const;

private:
    struct Impl;
    explicit Blas(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace quire::inference::cuda
