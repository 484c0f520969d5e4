// The W4A16 GEMM for prefill (kernels/int4.cuh): a block of 8 warps computes a 128 x 128 tile of C
// (tokens x outputs), 2 x 4 warps of 64 x 32, over k in steps of 64 with a two-stage cp.async pipeline:
// the bf16 A tile goes into an XOR-swizzled layout that ldmatrix reads without bank conflicts, the int4
// codes of the B tile (32 bytes per output row, padded to 48 so that the eight rows a warp reads at once
// fall in distinct banks) are dequantised in registers straight into the mma.sync B fragments: a nibble
// u becomes the bf16 128 + u by setting its exponent bits, and subtracting 136 leaves u - 8 exactly.
// The k step lies inside one scale group (groups of 64 or 128), so the tile's products of A with the
// integer codes are summed in fp32 and multiplied by the group scale once per step and output column.
// Grouped over experts: the row tiles of every expert (its rows of A and C lie between two device-side
// row offsets) are numbered one after another along blockIdx.y, so the grid holds at most
// rows / 128 + experts tiles per column of outputs and a block finds its expert by walking the offsets.
#include "quire/inference/cuda/kernels/int4.cuh"

#include "common.cuh"

namespace quire::inference::cuda {

namespace {

using namespace detail;

constexpr int kBM = kInt4GemmBlockM;
constexpr int kBN = kInt4GemmBlockN;
constexpr int kBK = kInt4GemmBlockK;
constexpr int kThreads = 256;
constexpr int kBRowBytes = 48; // 32 bytes of codes + 16 of padding
constexpr int kWarpM = 64, kWarpN = 32;
constexpr int kMTiles = kWarpM / 16, kNTiles = kWarpN / 8;

// Two nibbles (k = 2i low, 2i + 1 high of one byte) to a bf16x2 word holding u - 8 for each.
__device__ __forceinline__ std::uint32_t nibblesToBf16x2(std::uint32_t byte)
{
    const std::uint32_t biased = 0x43004300u | (byte & 0x0fu) | ((byte & 0xf0u) << 12);
    const __nv_bfloat162 v =
        __hsub2(*reinterpret_cast<const __nv_bfloat162*>(&biased), __floats2bfloat162_rn(136.f, 136.f));
    return *reinterpret_cast<const std::uint32_t*>(&v);
}

__global__ void __launch_bounds__(kThreads)
    int4GemmKernel(const std::uint16_t* a, long long lda, Int4Weights w, const std::int32_t* rowOffsets,
                   int experts, int maxRows, std::uint16_t* c, long long ldc)
{
    __shared__ __align__(128) std::uint16_t sA[2][kBM * kBK];
    __shared__ __align__(128) std::uint8_t sB[2][kBN * kBRowBytes];

    // This block's row tile: tile y of the dense product, or the y-th tile counting every expert's tiles.
    int e = 0, m0 = blockIdx.y * kBM, rowEnd = maxRows;
    if (rowOffsets) {
        int first = 0; // tiles of the experts before e
        for (e = 0; e < experts; ++e) {
            const int begin = rowOffsets[e], end = rowOffsets[e + 1];
            const int tiles = (end - begin + kBM - 1) / kBM;
            if (static_cast<int>(blockIdx.y) < first + tiles) {
                m0 = begin + (static_cast<int>(blockIdx.y) - first) * kBM;
                rowEnd = end;
                break;
            }
            first += tiles;
        }
        if (e == experts)
            return; // past the last expert's tiles
    }
    if (m0 >= rowEnd)
        return;
    const int rowsHere = min(kBM, rowEnd - m0);
    const int n0 = blockIdx.x * kBN;
    const std::uint8_t* q = w.q + e * w.qExpertBytes;
    const float* scales = w.scales + e * w.scaleExpertFloats;
    const long long rowBytes = w.k / 2;

    const int tid = threadIdx.x;
    const int warp = tid / 32, lane = tid % 32;
    const int warpM = warp / 4, warpN = warp % 4;
    const int g = lane >> 2, t = lane & 3;

    const auto loadStage = [&](int stage, int kt) {
#pragma unroll
        for (int i = 0; i < (kBM * kBK / 8) / kThreads; ++i) { // 4 chunks of 16 bytes of A per thread
            const int idx = tid + i * kThreads;
            const int r = idx / (kBK / 8), ch = idx % (kBK / 8);
            const bool ok = r < rowsHere;
            const std::uint16_t* src = ok ? a + static_cast<long long>(m0 + r) * lda + kt * kBK + ch * 8 : a;
            cpAsync16(&sA[stage][r * kBK + ((ch ^ (r & 7)) << 3)], src, ok);
        }
        { // one chunk of 16 bytes of codes per thread: 128 rows x 2 chunks
            const int r = tid / 2, ch = tid % 2;
            const bool ok = n0 + r < w.n;
            const std::uint8_t* src =
                ok ? q + static_cast<long long>(n0 + r) * rowBytes + kt * (kBK / 2) + ch * 16 : q;
            cpAsync16(&sB[stage][r * kBRowBytes + ch * 16], src, ok);
        }
    };

    float acc[kMTiles][kNTiles][4];
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i)
                acc[mt][nt][i] = 0.f;

    // ldmatrix addressing of A (see attention_prefill.cu): lanes 0-15 give rows 0-15 at the k step's first
    // 8 columns, lanes 16-31 the same rows at the next 8.
    const int aRow = warpM * kWarpM + (lane & 7) + ((lane >> 3) & 1) * 8;
    const int aHalf = lane >> 4;

    const int kTiles = w.k / kBK;
    loadStage(0, 0);
    cpAsyncCommit();
    for (int kt = 0; kt < kTiles; ++kt) {
        const int stage = kt & 1;
        if (kt + 1 < kTiles) {
            loadStage(stage ^ 1, kt + 1);
            cpAsyncCommit();
            cpAsyncWait<1>();
        } else {
            cpAsyncWait<0>();
        }
        __syncthreads();

        // The scales of this step's group for the eight output columns this thread accumulates.
        const int grp = (kt * kBK) / w.groupSize;
        float sc[kNTiles][2];
#pragma unroll
        for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const int col = n0 + warpN * kWarpN + nt * 8 + 2 * t + j;
                sc[nt][j] = col < w.n ? __ldg(scales + static_cast<long long>(grp) * w.n + col) : 0.f;
            }

        float part[kMTiles][kNTiles][4];
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    part[mt][nt][i] = 0.f;

#pragma unroll
        for (int ks = 0; ks < kBK / 16; ++ks) {
            std::uint32_t af[kMTiles][4];
#pragma unroll
            for (int mt = 0; mt < kMTiles; ++mt) {
                const int r = aRow + mt * 16;
                ldmatrixX4(af[mt], &sA[stage][r * kBK + (((ks * 2 + aHalf) ^ (r & 7)) << 3)]);
            }
#pragma unroll
            for (int nt = 0; nt < kNTiles; ++nt) {
                // B fragment of m16n8k16 (col-major): b0 = k 2t, 2t+1 and b1 = k 2t+8, 2t+9 of column g,
                // i.e. bytes t and t + 4 of this k step's 8 bytes of output row g.
                const uint2 bytes = *reinterpret_cast<const uint2*>(
                    &sB[stage][(warpN * kWarpN + nt * 8 + g) * kBRowBytes + ks * 8]);
                const std::uint32_t b0 = nibblesToBf16x2((bytes.x >> (8 * t)) & 0xffu);
                const std::uint32_t b1 = nibblesToBf16x2((bytes.y >> (8 * t)) & 0xffu);
#pragma unroll
                for (int mt = 0; mt < kMTiles; ++mt)
                    mmaBf16(part[mt][nt], af[mt], b0, b1);
            }
        }
#pragma unroll
        for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
            for (int nt = 0; nt < kNTiles; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    acc[mt][nt][i] += part[mt][nt][i] * sc[nt][i & 1];
        __syncthreads(); // every warp is done with this stage before it is refilled
    }

    // C fragment: c0, c1 at row g, columns 2t, 2t+1; c2, c3 at row g + 8.
#pragma unroll
    for (int mt = 0; mt < kMTiles; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int r = warpM * kWarpM + mt * 16 + g + h * 8;
            if (r >= rowsHere)
                continue;
            std::uint16_t* cRow = c + static_cast<long long>(m0 + r) * ldc;
#pragma unroll
            for (int nt = 0; nt < kNTiles; ++nt) {
                const int col = n0 + warpN * kWarpN + nt * 8 + 2 * t;
                if (col < w.n)
                    *reinterpret_cast<std::uint32_t*>(cRow + col) =
                        packBf16(acc[mt][nt][h * 2], acc[mt][nt][h * 2 + 1]);
            }
        }
}

} // namespace

cudaError_t launchInt4Gemm(const std::uint16_t* a, long long lda, const Int4Weights& w,
                           const std::int32_t* rowOffsets, int experts, int maxRows, std::uint16_t* c,
                           long long ldc, cudaStream_t stream)
{
    if (maxRows == 0 || w.n == 0 || experts == 0)
        return cudaSuccess;
    if (!a || !c || !w.q || !w.scales || maxRows < 0 || experts < 0 || (!rowOffsets && experts != 1) ||
        w.n < 0 || w.k <= 0 || w.k % kBK != 0 || w.n % 8 != 0 || (w.groupSize != 64 && w.groupSize != 128) ||
        lda < w.k || lda % 8 != 0 || ldc < w.n || ldc % 2 != 0)
        return cudaErrorInvalidValue;
    if (!detail::aligned16(a) || !detail::aligned16(w.q) || w.qExpertBytes % 16 != 0 ||
        (reinterpret_cast<std::uintptr_t>(c) & 3u))
        return cudaErrorMisalignedAddress;
    // Sum over experts of ceil(rows_e / 128) <= ceil(maxRows / 128) + experts.
    const long long tiles = (maxRows + kBM - 1) / kBM + (rowOffsets ? experts : 0);
    if (tiles > 65535)
        return cudaErrorInvalidValue;
    const dim3 grid(static_cast<unsigned>((w.n + kBN - 1) / kBN), static_cast<unsigned>(tiles));
    int4GemmKernel<<<grid, kThreads, 0, stream>>>(a, lda, w, rowOffsets, experts, maxRows, c, ldc);
    return cudaGetLastError();
}

} // namespace quire::inference::cuda
