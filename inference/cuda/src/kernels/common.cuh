// Device helpers shared by the kernels: bf16 conversion, warp reductions, cp.async, ldmatrix and the
// bf16 / f16 tensor-core mma. Included only by .cu files of the CUDA backend.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace quire::inference::cuda::detail {

__device__ __forceinline__ float bf16Lo(std::uint32_t v)
{
    return __uint_as_float(v << 16);
}
__device__ __forceinline__ float bf16Hi(std::uint32_t v)
{
    return __uint_as_float(v & 0xffff0000u);
}
__device__ __forceinline__ float bf16Bits(std::uint16_t v)
{
    return __uint_as_float(std::uint32_t(v) << 16);
}

__device__ __forceinline__ std::uint16_t toBf16(float f)
{
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

// Two floats to a bf16x2 word: lo in the low half (the lower column / index).
__device__ __forceinline__ std::uint32_t packBf16(float lo, float hi)
{
    return std::uint32_t(toBf16(lo)) | (std::uint32_t(toBf16(hi)) << 16);
}

__device__ __forceinline__ float warpSum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warpMax(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float fastExp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

__device__ __forceinline__ std::uint32_t smemAddr(const void* p)
{
    return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global->shared copy; when !valid the destination is zero-filled and src is not read.
__device__ __forceinline__ void cpAsync16(void* smemDst, const void* gmemSrc, bool valid)
{
    const int srcBytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smemAddr(smemDst)), "l"(gmemSrc),
                 "r"(srcBytes)
                 : "memory");
}

__device__ __forceinline__ void cpAsyncCommit()
{
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int N> __device__ __forceinline__ void cpAsyncWait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrixX4(std::uint32_t (&r)[4], const void* smemRow)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smemAddr(smemRow)));
}

__device__ __forceinline__ void ldmatrixX4Trans(std::uint32_t (&r)[4], const void* smemRow)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smemAddr(smemRow)));
}

// c += a . b for one m16n8k16 tile: a row-major bf16 (4 regs), b column-major bf16 (2 regs), c fp32.
__device__ __forceinline__ void mmaBf16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                        std::uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The same with f16 operands.
__device__ __forceinline__ void mmaF16(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                       std::uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

inline bool aligned16(const void* p)
{
    return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0;
}

} // namespace quire::inference::cuda::detail
