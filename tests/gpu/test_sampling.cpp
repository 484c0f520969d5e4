// Greedy and top-k/top-p sampling on the device against the CPU twin: same logits, same uniform
// numbers, same tokens. Rows include ties, NaN and -inf to exercise the selection's edge cases.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/cuda/kernels/sampling.cuh"
#include "quire/inference/cuda/twins/sampling.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;

namespace {

std::vector<float> makeLogits(Rng& rng, int rows, int vocab, long long stride)
{
    std::vector<float> l(static_cast<std::size_t>(rows * stride), 0.0f);
    for (int r = 0; r < rows; ++r) {
        float* row = l.data() + r * stride;
        for (int i = 0; i < vocab; ++i)
            row[i] = rng.normal(3.0f);
        switch (r % 4) {
        case 1: // heavy ties: a plateau of equal logits at the top
            for (int i = 0; i < vocab; i += 7)
                row[i] = 9.5f;
            break;
        case 2: // NaN and -inf sprinkled in
            for (int i = 3; i < vocab; i += 11)
                row[i] = std::numeric_limits<float>::quiet_NaN();
            for (int i = 5; i < vocab; i += 13)
                row[i] = -INFINITY;
            break;
        case 3: // one dominant logit
            row[rng.integer(0, vocab - 1)] = 40.0f;
            break;
        default:
            break;
        }
    }
    return l;
}

} // namespace

GPU_TEST(argmaxMatchesTwin)
{
    Rng rng(30);
    for (const int vocab : {202048, 49152, 1000, 3}) {
        const int rows = 8;
        const long long stride = vocab + 5;
        const auto logits = makeLogits(rng, rows, vocab, stride);
        DevArray<float> dl(logits);
        DevArray<std::int32_t> out(static_cast<std::size_t>(rows));
        cudaCheck(qc::launchArgmax(dl.get(), stride, rows, vocab, out.get(), nullptr), "launchArgmax");
        const auto got = out.download();
        for (int r = 0; r < rows; ++r)
            GPU_CHECK_MSG(got[static_cast<std::size_t>(r)] ==
                              qc::twins::argmax(logits.data() + r * stride, vocab),
                          "vocab " << vocab << " row " << r);
    }
}

GPU_TEST(topKTopPMatchesTwin)
{
    Rng rng(31);
    struct Case {
        int vocab;
        float temperature;
        int topK;
        float topP;
    };
    int mismatches = 0, total = 0;
    for (const Case c :
         {Case{202048, 0.7f, 40, 0.9f}, Case{202048, 1.0f, 0, 0.95f}, Case{49152, 1.3f, 1024, 1.0f},
          Case{49152, 0.5f, 1, 0.5f}, Case{5000, 1.0f, 300, 0.8f}, Case{17, 2.0f, 50, 1.0f}}) {
        const int rows = 16;
        const long long stride = c.vocab;
        const auto logits = makeLogits(rng, rows, c.vocab, stride);
        std::vector<float> u(static_cast<std::size_t>(rows));
        for (auto& x : u)
            x = rng.uniform(0.0f, 1.0f);
        DevArray<float> dl(logits), du(u);
        DevArray<std::int32_t> out(static_cast<std::size_t>(rows));
        cudaCheck(qc::launchSampleTopKTopP(dl.get(), stride, rows, c.vocab, c.temperature, c.topK, c.topP,
                                           du.get(), out.get(), nullptr),
                  "launchSampleTopKTopP");
        const auto got = out.download();
        for (int r = 0; r < rows; ++r) {
            const int want = qc::twins::sampleTopKTopP(logits.data() + r * stride, c.vocab, c.temperature,
                                                       c.topK, c.topP, u[static_cast<std::size_t>(r)]);
            const int g = got[static_cast<std::size_t>(r)];
            GPU_CHECK_MSG(g >= 0 && g < c.vocab, "token " << g << " out of range");
            ++total;
            if (g != want) {
                ++mismatches;
                std::printf("    vocab %d row %d: device %d, twin %d\n", c.vocab, r, g, want);
            }
        }
    }
    // Sums taken in a different order can move a draw across a boundary only when u lands within
    // ~1e-6 of it; more than one such case in a run means a real difference.
    GPU_CHECK_MSG(mismatches <= 1, mismatches << " of " << total << " draws differ");
}
