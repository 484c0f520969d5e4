// Quantized GEMV and dequantisation on the device against the CPU twins, for Q4_0, Q4_1, Q8_0, Q4_K
// and Q6_K,
// on random blocks (random bytes with sane fp16 scales), batch 1 to 8, rows of odd length.
#include <cstdint>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/kernels/quant.cuh"
#include "quire/inference/cuda/twins/quant.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;

namespace {

// Random blocks: every byte random except the fp16 scales, which get small normal values.
std::vector<std::uint8_t> randomBlocks(Rng& rng, qc::QuantType t, int n, int k)
{
    const std::size_t rowBytes = qc::quantRowBytes(t, k);
    std::vector<std::uint8_t> w(rowBytes * n);
    for (auto& b : w)
        b = rng.byte();
    const int blockBytes = qc::quantBlockBytes(t);
    const auto putHalf = [&](std::uint8_t* p, float v) {
        const std::uint16_t h = qc::floatToHalf(v);
        p[0] = static_cast<std::uint8_t>(h & 0xff);
        p[1] = static_cast<std::uint8_t>(h >> 8);
    };
    for (std::size_t off = 0; off < w.size(); off += blockBytes) {
        switch (t) {
        case qc::QuantType::Q4_0:
            putHalf(&w[off], rng.normal(0.01f));
            break;
        case qc::QuantType::Q4_1:
            putHalf(&w[off], rng.normal(0.01f));
            putHalf(&w[off + 2], rng.normal(0.05f));
            break;
        case qc::QuantType::Q8_0:
            putHalf(&w[off], rng.normal(0.01f));
            break;
        case qc::QuantType::Q4_K:
            putHalf(&w[off], rng.normal(0.002f));
            putHalf(&w[off + 2], rng.normal(0.002f));
            break;
        case qc::QuantType::Q6_K:
            putHalf(&w[off + 208], rng.normal(0.001f));
            break;
        }
    }
    return w;
}

const char* name(qc::QuantType t)
{
    switch (t) {
    case qc::QuantType::Q4_0:
        return "Q4_0";
    case qc::QuantType::Q4_1:
        return "Q4_1";
    case qc::QuantType::Q8_0:
        return "Q8_0";
    case qc::QuantType::Q4_K:
        return "Q4_K";
    case qc::QuantType::Q6_K:
        return "Q6_K";
    }
    return "?";
}

constexpr qc::QuantType kAllTypes[] = {qc::QuantType::Q4_0, qc::QuantType::Q4_1, qc::QuantType::Q8_0,
                                       qc::QuantType::Q4_K, qc::QuantType::Q6_K};

} // namespace

GPU_TEST(quantGemvMatchesTwin)
{
    Rng rng(40);
    for (const auto t : kAllTypes)
        for (const int batch : {1, 3, 8}) {
            const int n = 301, k = 2304; // 9 super-blocks / 72 blocks per row
            const auto w = randomBlocks(rng, t, n, k);
            const auto x = rng.bf16(static_cast<std::size_t>(batch) * k);
            DevArray<std::uint8_t> dw(w);
            DevArray<std::uint16_t> dx(x), dyb(static_cast<std::size_t>(batch) * n);
            DevArray<float> dy(static_cast<std::size_t>(batch) * n);
            cudaCheck(qc::launchQuantGemv(t, dw.get(), n, k, dx.get(), batch, dy.get(), false, nullptr),
                      "gemv f32");
            cudaCheck(qc::launchQuantGemv(t, dw.get(), n, k, dx.get(), batch, dyb.get(), true, nullptr),
                      "gemv bf16");
            std::vector<float> ref(static_cast<std::size_t>(batch) * n);
            qc::twins::quantGemv(t, w.data(), n, k, x.data(), batch, ref.data());
            const double err = relError(dy.download(), ref);
            const double errB = relError(toFloat(dyb.download()), ref);
            GPU_CHECK_MSG(err < 1e-4, name(t) << " batch " << batch << ": rel error " << err);
            GPU_CHECK_MSG(errB < 5e-3, name(t) << " batch " << batch << " (bf16 out): rel error " << errB);
        }
}

GPU_TEST(dequantizeBf16IsBitExact)
{
    Rng rng(41);
    for (const auto t : kAllTypes) {
        const int n = 37, k = 1536;
        const auto w = randomBlocks(rng, t, n, k);
        DevArray<std::uint8_t> dw(w);
        DevArray<std::uint16_t> dOut(static_cast<std::size_t>(n) * k);
        cudaCheck(qc::launchDequantizeBf16(t, dw.get(), n, k, dOut.get(), nullptr), "dequantize");
        std::vector<std::uint16_t> ref(static_cast<std::size_t>(n) * k);
        qc::twins::dequantizeBf16(t, w.data(), n, k, ref.data());
        const auto got = dOut.download();
        std::size_t differ = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            differ += got[i] != ref[i];
        GPU_CHECK_MSG(differ == 0, name(t) << ": " << differ << " of " << got.size() << " values differ");
    }
}

GPU_TEST(quantRejectsBadShapes)
{
    DevArray<std::uint8_t> w(4096);
    DevArray<std::uint16_t> x(4096);
    DevArray<float> y(64);
    GPU_CHECK(qc::launchQuantGemv(qc::QuantType::Q4_K, w.get(), 4, 100, x.get(), 1, y.get(), false,
                                  nullptr) == cudaErrorInvalidValue); // k not a multiple of 256
    GPU_CHECK(qc::launchQuantGemv(qc::QuantType::Q8_0, w.get(), 4, 64, x.get(), 9, y.get(), false, nullptr) ==
              cudaErrorInvalidValue); // batch above kMaxGemvBatch
}
