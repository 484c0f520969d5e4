#include "quire/inference/cuda/kernels/rmsnorm.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kMaxChunksPerThread = 4; // 8 values per chunk: rows up to 8 * 4 * blockDim values

__device__ float blockSum(float v, float* scratch)
{
    v = warpSum(v);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    const int warps = blockDim.x / 32;
    v = lane < warps ? scratch[lane] : 0.f;
    v = warpSum(v);
    __syncthreads(); // scratch may be reused
    return v;
}

// Vector path: each thread keeps its (at most kMaxChunksPerThread) chunks of 8 values in registers.
__global__ void rmsNormVecKernel(float* residual, const std::uint16_t* delta, const float* weight,
                                 std::uint16_t* out, int dim, float eps)
{
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    float* x = residual + row * dim;
    const int chunks = dim / 8;
    float v[kMaxChunksPerThread][8];
    float sumSq = 0.f;
#pragma unroll
    for (int j = 0; j < kMaxChunksPerThread; ++j) {
        const int c = threadIdx.x + j * blockDim.x;
        if (c < chunks) {
            const float4 a = reinterpret_cast<const float4*>(x)[2 * c];
            const float4 b = reinterpret_cast<const float4*>(x)[2 * c + 1];
            v[j][0] = a.x;
            v[j][1] = a.y;
            v[j][2] = a.z;
            v[j][3] = a.w;
            v[j][4] = b.x;
            v[j][5] = b.y;
            v[j][6] = b.z;
            v[j][7] = b.w;
            if (delta) {
                const uint4 d = reinterpret_cast<const uint4*>(delta + row * dim)[c];
                v[j][0] += bf16Lo(d.x);
                v[j][1] += bf16Hi(d.x);
                v[j][2] += bf16Lo(d.y);
                v[j][3] += bf16Hi(d.y);
                v[j][4] += bf16Lo(d.z);
                v[j][5] += bf16Hi(d.z);
                v[j][6] += bf16Lo(d.w);
                v[j][7] += bf16Hi(d.w);
                reinterpret_cast<float4*>(x)[2 * c] = make_float4(v[j][0], v[j][1], v[j][2], v[j][3]);
                reinterpret_cast<float4*>(x)[2 * c + 1] = make_float4(v[j][4], v[j][5], v[j][6], v[j][7]);
            }
#pragma unroll
            for (int e = 0; e < 8; ++e)
                sumSq += v[j][e] * v[j][e];
        }
    }
    const float total = blockSum(sumSq, scratch);
    const float inv = 1.0f / sqrtf(total / static_cast<float>(dim) + eps);
#pragma unroll
    for (int j = 0; j < kMaxChunksPerThread; ++j) {
        const int c = threadIdx.x + j * blockDim.x;
        if (c < chunks) {
            float w[8] = {1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f};
            if (weight) {
                const float4 a = reinterpret_cast<const float4*>(weight)[2 * c];
                const float4 b = reinterpret_cast<const float4*>(weight)[2 * c + 1];
                w[0] = a.x;
                w[1] = a.y;
                w[2] = a.z;
                w[3] = a.w;
                w[4] = b.x;
                w[5] = b.y;
                w[6] = b.z;
                w[7] = b.w;
            }
            uint4 o;
            o.x = packBf16(v[j][0] * inv * w[0], v[j][1] * inv * w[1]);
            o.y = packBf16(v[j][2] * inv * w[2], v[j][3] * inv * w[3]);
            o.z = packBf16(v[j][4] * inv * w[4], v[j][5] * inv * w[5]);
            o.w = packBf16(v[j][6] * inv * w[6], v[j][7] * inv * w[7]);
            reinterpret_cast<uint4*>(out + row * dim)[c] = o;
        }
    }
}

// Any shape: two passes over the row, the second re-reading what the first wrote.
__global__ void rmsNormScalarKernel(float* residual, const std::uint16_t* delta, const float* weight,
                                    std::uint16_t* out, int dim, float eps)
{
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    float* x = residual + row * dim;
    float sumSq = 0.f;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float v = x[d];
        if (delta) {
            v += bf16Bits(delta[row * dim + d]);
            x[d] = v;
        }
        sumSq += v * v;
    }
    const float total = blockSum(sumSq, scratch);
    const float inv = 1.0f / sqrtf(total / static_cast<float>(dim) + eps);
    for (int d = threadIdx.x; d < dim; d += blockDim.x)
        out[row * dim + d] = toBf16(x[d] * inv * (weight ? weight[d] : 1.0f));
}

} // namespace

cudaError_t launchRmsNormResidual(float* residual, const std::uint16_t* delta, const float* weight,
                                  std::uint16_t* out, int rows, int dim, float eps, cudaStream_t stream)
{
    if (rows == 0)
        return cudaSuccess;
    if (!residual || !out || rows < 0 || dim <= 0)
        return cudaErrorInvalidValue;
    const bool aligned = detail::aligned16(residual) && detail::aligned16(out) &&
                         (!delta || detail::aligned16(delta)) && (!weight || detail::aligned16(weight));
    const int chunks = dim / 8;
    if (dim % 8 == 0 && aligned && chunks <= kMaxChunksPerThread * 1024) {
        int threads = 32;
        while (threads < 1024 && threads * kMaxChunksPerThread < chunks)
            threads *= 2;
        if (threads < 128 && chunks >= 128)
            threads = 128;
        rmsNormVecKernel<<<rows, threads, 0, stream>>>(residual, delta, weight, out, dim, eps);
    } else {
        rmsNormScalarKernel<<<rows, 256, 0, stream>>>(residual, delta, weight, out, dim, eps);
    }
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
