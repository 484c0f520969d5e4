#include "quire/inference/cuda/kernels/embedding.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

// One block per token; 16-byte loads of the table row when dim % 8 == 0 and the table is aligned.
__global__ void embeddingKernel(const void* table, bool bf16, int vocab, int dim, const std::int32_t* ids,
                                float* out, bool vec)
{
    const int i = blockIdx.x;
    const std::int32_t id = ids[i];
    float* dst = out + static_cast<long long>(i) * dim;
    const bool valid = id >= 0 && id < vocab;
    if (vec) {
        const int chunks = dim / 8;
        for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
            float4 lo = make_float4(0.f, 0.f, 0.f, 0.f), hi = lo;
            if (valid) {
                if (bf16) {
                    const uint4 w = reinterpret_cast<const uint4*>(static_cast<const std::uint16_t*>(table) +
                                                                   static_cast<long long>(id) * dim)[c];
                    lo = make_float4(bf16Lo(w.x), bf16Hi(w.x), bf16Lo(w.y), bf16Hi(w.y));
                    hi = make_float4(bf16Lo(w.z), bf16Hi(w.z), bf16Lo(w.w), bf16Hi(w.w));
                } else {
                    const float4* src = reinterpret_cast<const float4*>(static_cast<const float*>(table) +
                                                                        static_cast<long long>(id) * dim);
                    lo = src[2 * c];
                    hi = src[2 * c + 1];
                }
            }
            reinterpret_cast<float4*>(dst)[2 * c] = lo;
            reinterpret_cast<float4*>(dst)[2 * c + 1] = hi;
        }
        return;
    }
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float v = 0.f;
        if (valid)
            v = bf16
                    ? bf16Bits(static_cast<const std::uint16_t*>(table)[static_cast<long long>(id) * dim + d])
                    : static_cast<const float*>(table)[static_cast<long long>(id) * dim + d];
        dst[d] = v;
    }
}

} // namespace

cudaError_t launchEmbeddingGather(const void* table, bool tableIsBf16, int vocab, int dim,
                                  const std::int32_t* ids, int count, float* out, cudaStream_t stream)
{
    if (count == 0)
        return cudaSuccess;
    if (!table || !ids || !out || vocab <= 0 || dim <= 0 || count < 0)
        return cudaErrorInvalidValue;
    const bool vec = dim % 8 == 0 && detail::aligned16(table) && detail::aligned16(out);
    embeddingKernel<<<count, 128, 0, stream>>>(table, tableIsBf16, vocab, dim, ids, out, vec);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
