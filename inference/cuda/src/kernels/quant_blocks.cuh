// Device readers of ggml's block layouts (see kernels/quant.cuh), shared by the GEMV and the
// dequantiser. Rows of Q8_0 (34-byte blocks) and Q6_K (210-byte blocks) are only 2-byte aligned, so
// their bytes are read in 16-bit words.
#pragma once

#include "common.cuh"

namespace quire::inference::cuda::detail {

__device__ __forceinline__ float halfBits(std::uint16_t h)
{
    return __half2float(__ushort_as_half(h));
}

__device__ __forceinline__ std::uint16_t ldU16(const std::uint8_t* p)
{
    return __ldg(reinterpret_cast<const unsigned short*>(p));
}

// Eight bytes at a 2-byte aligned address, little-endian, as two 32-bit words.
__device__ __forceinline__ uint2 ld8Bytes(const std::uint8_t* p)
{
    const std::uint32_t a = ldU16(p), b = ldU16(p + 2), c = ldU16(p + 4), d = ldU16(p + 6);
    return make_uint2(a | (b << 16), c | (d << 16));
}

__device__ __forceinline__ int byteOf(uint2 v, int i)
{
    return static_cast<int>(((i < 4 ? v.x : v.y) >> (8 * (i & 3))) & 0xffu);
}

// Q4_K's 6-bit scale and min of sub-block j from its 12 packed bytes (three words).
__device__ __forceinline__ void q4kScaleMin(int j, std::uint32_t s0, std::uint32_t s1, std::uint32_t s2,
                                            int& scale, int& min)
{
    const auto byte = [&](int i) {
        const std::uint32_t word = i < 4 ? s0 : (i < 8 ? s1 : s2); // no local array: i is a run-time value
        return static_cast<int>((word >> (8 * (i & 3))) & 0xffu);
    };
    if (j < 4) {
        scale = byte(j) & 63;
        min = byte(j + 4) & 63;
    } else {
        scale = (byte(j + 4) & 0x0f) | ((byte(j - 4) >> 6) << 4);
        min = (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4);
    }
}

} // namespace quire::inference::cuda::detail
