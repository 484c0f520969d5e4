// Quantization on load, bf16 -> int4 group-wise (kernels/int4.cuh). A block of 8 warps takes 32 output
// rows and one group of inputs: the bf16 values come through shared memory (read along whichever axis is
// contiguous in the source, so [in, out] expert tensors are read coalesced too), then each warp quantizes
// four rows, a lane holding four consecutive values. The scale search sums squared errors per lane and
// then over the warp by an xor butterfly, with explicit round-to-nearest operations (no fused
// multiply-add), which the twin repeats exactly.
#include "quire/inference/cuda/kernels/int4.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kRows = 32;      // output rows per block
constexpr int kMaxGroup = 128; // values per group held per row
constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    int4QuantizeKernel(const std::uint16_t* w, long long ldw, bool inputMajor, int n, int k, int groupSize,
                       std::uint8_t* q, float* scales)
{
    __shared__ float tile[kRows][kMaxGroup + 1];
    const int r0 = blockIdx.x * kRows;
    const int grp = blockIdx.y;
    const int c0 = grp * groupSize;
    const int len = min(groupSize, k - c0);

    for (int idx = threadIdx.x; idx < kRows * kMaxGroup; idx += kThreads) {
        int rr, cc;
        if (inputMajor) { // source [k][n]: consecutive threads read consecutive outputs
            cc = idx / kRows;
            rr = idx % kRows;
        } else { // source [n][k]: consecutive threads read consecutive inputs
            rr = idx / kMaxGroup;
            cc = idx % kMaxGroup;
        }
        float v = 0.f;
        if (r0 + rr < n && cc < len) {
            const long long at = inputMajor ? static_cast<long long>(c0 + cc) * ldw + (r0 + rr)
                                            : static_cast<long long>(r0 + rr) * ldw + (c0 + cc);
            v = bf16Bits(w[at]);
        }
        tile[rr][cc] = v;
    }
    __syncthreads();

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int i = 0; i < kRows / (kThreads / 32); ++i) {
        const int rr = warp * (kRows / (kThreads / 32)) + i;
        const int row = r0 + rr;
        if (row >= n) // uniform per warp
            continue;
        float v[4];
        bool ok[4];
        float amax = 0.f;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int cc = lane * 4 + j;
            ok[j] = cc < len;
            v[j] = ok[j] ? tile[rr][cc] : 0.f;
            amax = fmaxf(amax, fabsf(v[j]));
        }
        amax = warpMax(amax);

        float best = 0.f;
        if (amax > 0.f) {
            best = amax / 7.0f;
            float bestErr = INFINITY;
            for (int cand = 0; cand <= 8; cand += 2) {
                const float scale = amax / (7.0f + 0.125f * static_cast<float>(cand));
                const float inv = 1.0f / scale;
                float err = 0.f;
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    if (ok[j]) {
                        const float qv = fminf(fmaxf(rintf(__fmul_rn(v[j], inv)), -8.f), 7.f);
                        const float d = __fsub_rn(__fmul_rn(qv, scale), v[j]);
                        err = __fadd_rn(err, __fmul_rn(d, d));
                    }
                }
#pragma unroll
                for (int o = 16; o > 0; o >>= 1)
                    err = __fadd_rn(err, __shfl_xor_sync(0xffffffffu, err, o));
                if (err < bestErr) {
                    bestErr = err;
                    best = scale;
                }
            }
        }
        const float inv = best > 0.f ? 1.0f / best : 0.f;
        int u[4];
#pragma unroll
        for (int j = 0; j < 4; ++j)
            u[j] = static_cast<int>(fminf(fmaxf(rintf(__fmul_rn(v[j], inv)), -8.f), 7.f)) + 8;
        std::uint8_t* qRow = q + static_cast<long long>(row) * (k / 2);
        const int cc = c0 + lane * 4; // even: k and groupSize are
        if (ok[0])
            qRow[cc / 2] = static_cast<std::uint8_t>(u[0] | (u[1] << 4));
        if (ok[2])
            qRow[cc / 2 + 1] = static_cast<std::uint8_t>(u[2] | (u[3] << 4));
        if (lane == 0)
            scales[static_cast<long long>(grp) * n + row] = best;
    }
}

} // namespace

cudaError_t launchInt4Quantize(const std::uint16_t* w, long long ldw, bool inputMajor, int n, int k,
                               int groupSize, std::uint8_t* q, float* scales, cudaStream_t stream)
{
    if (n == 0 || k == 0)
        return cudaSuccess;
    if (!w || !q || !scales || n < 0 || k < 0 || k % 2 != 0 ||
        (groupSize != 32 && groupSize != 64 && groupSize != 128) || ldw < (inputMajor ? n : k))
        return cudaErrorInvalidValue;
    const dim3 grid(static_cast<unsigned>((n + kRows - 1) / kRows),
                    static_cast<unsigned>(int4Groups(k, groupSize)));
    if (grid.y > 65535u)
        return cudaErrorInvalidValue;
    int4QuantizeKernel<<<grid, kThreads, 0, stream>>>(w, ldw, inputMajor, n, k, groupSize, q, scales);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
