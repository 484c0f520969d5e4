// Dequantisation of GGUF blocks to a row-major bf16 matrix (the prefill path feeds it to the bf16 GEMM).
// One thread per 32 values: a Q4_0, Q4_1 or Q8_0 block, or one sub-block of a Q4_K / Q6_K super-block; four
// 16-byte stores each. The arithmetic matches the CPU twin operation for operation (no fused multiply-add),
// so the results agree bit for bit.
#include "quire/inference/cuda/kernels/quant.cuh"

#include "quant_blocks.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

template <QuantType T> __global__ void dequantKernel(const std::uint8_t* w, int n, int k, std::uint16_t* out)
{
    const int groupsPerRow = k / 32;
    const long long total = static_cast<long long>(n) * groupsPerRow;
    for (long long gi = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; gi < total;
         gi += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long r = gi / groupsPerRow;
        const int grp = static_cast<int>(gi % groupsPerRow);
        const std::uint8_t* row = w + r * static_cast<long long>(quantRowBytes(T, k));
        float v[32];
        if constexpr (T == QuantType::Q8_0) {
            const std::uint8_t* blk = row + static_cast<long long>(grp) * 34;
            const float d = halfBits(ldU16(blk));
#pragma unroll
            for (int i = 0; i < 32; i += 2) {
                const std::uint16_t two = ldU16(blk + 2 + i);
                v[i] = __fmul_rn(d, static_cast<float>(static_cast<std::int8_t>(two & 0xffu)));
                v[i + 1] = __fmul_rn(d, static_cast<float>(static_cast<std::int8_t>(two >> 8)));
            }
        } else if constexpr (T == QuantType::Q4_0 || T == QuantType::Q4_1) {
            const std::uint8_t* blk = row + static_cast<long long>(grp) * quantBlockBytes(T);
            const float d = halfBits(ldU16(blk));
            const float m = T == QuantType::Q4_1 ? halfBits(ldU16(blk + 2)) : 0.f;
            const std::uint8_t* qs = blk + (T == QuantType::Q4_1 ? 4 : 2);
            const auto value = [&](std::uint32_t q) {
                if constexpr (T == QuantType::Q4_1)
                    return __fadd_rn(__fmul_rn(d, static_cast<float>(q)), m);
                else
                    return __fmul_rn(static_cast<float>(static_cast<int>(q) - 8), d);
            };
#pragma unroll
            for (int i = 0; i < 16; i += 2) {
                const std::uint16_t two = ldU16(qs + i);
                v[i] = value(two & 0x0fu);
                v[i + 16] = value((two >> 4) & 0x0fu);
                v[i + 1] = value((two >> 8) & 0x0fu);
                v[i + 17] = value((two >> 12) & 0x0fu);
            }
        } else if constexpr (T == QuantType::Q4_K) {
            const std::uint8_t* blk = row + static_cast<long long>(grp / 8) * 144;
            const int s = grp % 8, c = s / 2;
            const uint4 head = __ldg(reinterpret_cast<const uint4*>(blk));
            const float d = halfBits(static_cast<std::uint16_t>(head.x & 0xffffu));
            const float dmin = halfBits(static_cast<std::uint16_t>(head.x >> 16));
            int sc, m;
            q4kScaleMin(s, head.y, head.z, head.w, sc, m);
            const float ds = __fmul_rn(d, static_cast<float>(sc)),
                        mins = __fmul_rn(dmin, static_cast<float>(m));
            const uint4 qa = __ldg(reinterpret_cast<const uint4*>(blk + 16 + 32 * c));
            const uint4 qb = __ldg(reinterpret_cast<const uint4*>(blk + 16 + 32 * c + 16));
            const std::uint32_t qw[8] = {qa.x, qa.y, qa.z, qa.w, qb.x, qb.y, qb.z, qb.w};
            const int shift = (s & 1) ? 4 : 0;
#pragma unroll
            for (int i = 0; i < 32; ++i) {
                const std::uint32_t q = ((qw[i >> 2] >> (8 * (i & 3))) >> shift) & 0x0fu;
                v[i] = __fsub_rn(__fmul_rn(ds, static_cast<float>(q)), mins);
            }
        } else { // Q6_K: group s = quarter qq of half nh
            const std::uint8_t* blk = row + static_cast<long long>(grp / 8) * 210;
            const int s = grp % 8, nh = s / 4, qq = s % 4;
            const float d = halfBits(ldU16(blk + 208));
            const std::uint8_t* ql = blk + 64 * nh + (qq & 1) * 32;
            const std::uint8_t* qh = blk + 128 + 32 * nh;
            const std::uint8_t* scales = blk + 192 + 8 * nh;
            const float d0 =
                __fmul_rn(d, static_cast<float>(static_cast<std::int8_t>(__ldg(scales + 2 * qq))));
            const float d1 =
                __fmul_rn(d, static_cast<float>(static_cast<std::int8_t>(__ldg(scales + 2 * qq + 1))));
#pragma unroll
            for (int i = 0; i < 32; i += 8) {
                const uint2 lo = ld8Bytes(ql + i);
                const uint2 hi = ld8Bytes(qh + i);
#pragma unroll
                for (int e = 0; e < 8; ++e) {
                    const int low = qq >= 2 ? (byteOf(lo, e) >> 4) : (byteOf(lo, e) & 0x0f);
                    const int high = (byteOf(hi, e) >> (2 * qq)) & 3;
                    const int q = (low | (high << 4)) - 32;
                    v[i + e] = __fmul_rn(i + e < 16 ? d0 : d1, static_cast<float>(q));
                }
            }
        }
        uint4* dst = reinterpret_cast<uint4*>(out + r * k + grp * 32);
#pragma unroll
        for (int i = 0; i < 4; ++i)
            dst[i] = make_uint4(packBf16(v[8 * i], v[8 * i + 1]), packBf16(v[8 * i + 2], v[8 * i + 3]),
                                packBf16(v[8 * i + 4], v[8 * i + 5]), packBf16(v[8 * i + 6], v[8 * i + 7]));
    }
}

} // namespace

cudaError_t launchDequantizeBf16(QuantType type, const void* w, int n, int k, std::uint16_t* out,
                                 cudaStream_t stream)
{
    if (n == 0)
        return cudaSuccess;
    if (!w || !out || n < 0 || k <= 0 || k % quantBlockValues(type) != 0)
        return cudaErrorInvalidValue;
    if (!detail::aligned16(out) || (type == QuantType::Q4_K && !detail::aligned16(w)) ||
        (reinterpret_cast<std::uintptr_t>(w) & 1u))
        return cudaErrorMisalignedAddress;
    const long long groups = static_cast<long long>(n) * (k / 32);
    const int threads = 256;
    const long long blocks = (groups + threads - 1) / threads;
    const unsigned grid = static_cast<unsigned>(blocks < 1048576 ? blocks : 1048576);
    const auto* wb = static_cast<const std::uint8_t*>(w);
    switch (type) {
    case QuantType::Q4_0:
        dequantKernel<QuantType::Q4_0><<<grid, threads, 0, stream>>>(wb, n, k, out);
        break;
    case QuantType::Q4_1:
        dequantKernel<QuantType::Q4_1><<<grid, threads, 0, stream>>>(wb, n, k, out);
        break;
    case QuantType::Q8_0:
        dequantKernel<QuantType::Q8_0><<<grid, threads, 0, stream>>>(wb, n, k, out);
        break;
    case QuantType::Q4_K:
        dequantKernel<QuantType::Q4_K><<<grid, threads, 0, stream>>>(wb, n, k, out);
        break;
    case QuantType::Q6_K:
        dequantKernel<QuantType::Q6_K><<<grid, threads, 0, stream>>>(wb, n, k, out);
        break;
    default:
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
