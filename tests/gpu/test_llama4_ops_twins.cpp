// The Llama 4 glue twins on their own (no GPU): the NoPE query temperature against the spec's values
// (llama4-architecture.md 6.5) and against the engine's own function, and the QK norm's unit RMS.
#include <cmath>
#include <cstdint>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/bf16.h"
#include "quire/inference/cuda/twins/llama4_ops.h"
#include "quire/inference/llama4.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;

GPU_TEST(temperatureTwinMatchesSpec)
{
    GPU_CHECK(tw::queryTemperatureOf(0, 0.1f, 8192.0f) == 1.0f);
    GPU_CHECK(tw::queryTemperatureOf(8190, 0.1f, 8192.0f) == 1.0f);
    GPU_CHECK(std::fabs(tw::queryTemperatureOf(8191, 0.1f, 8192.0f) - 1.0693147f) < 1e-6f);
    GPU_CHECK(std::fabs(tw::queryTemperatureOf(16383, 0.1f, 8192.0f) - 1.1098612f) < 1e-6f);
    GPU_CHECK(std::fabs(tw::queryTemperatureOf(131071, 0.1f, 8192.0f) - 1.2833f) < 1e-4f);
    quire::inference::Llama4Config c;
    c.temperatureTuning = true;
    c.attnScale = 0.1f;
    c.floorScale = 8.0f; // the tiny model's
    for (const int p : {0, 6, 7, 15, 79, 1000})
        GPU_CHECK(tw::queryTemperatureOf(p, 0.1f, 8.0f) == quire::inference::llama4QueryTemperature(c, p));
}

GPU_TEST(headRmsNormTwinGivesUnitRms)
{
    Rng rng(111);
    auto x = rng.bf16(3 * 2 * 64, 5.0f);
    tw::headRmsNorm(x.data(), 3, 2, 64, 128, 1e-5f);
    for (int h = 0; h < 6; ++h) {
        double ss = 0;
        for (int i = 0; i < 64; ++i)
            ss += std::pow(qc::bf16ToFloat(x[std::size_t(h) * 64 + std::size_t(i)]), 2);
        GPU_CHECK_MSG(std::fabs(std::sqrt(ss / 64) - 1.0) < 5e-3,
                      "head " << h << ": rms " << std::sqrt(ss / 64));
    }
}
