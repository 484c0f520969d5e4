// The dense CUDA runner's RunnerOptions: the KV dtype (bf16 held, anything else refused by name) and the
// device memory budget, on the tiny Llama of tests/data/inference (2 layers, 2 KV heads of 8: 129 B of KV per
// token with the page table, a 128-token model). The smallest budget that creates a runner (found by
// bisection to 4 KiB) gives the shortest context, one 64-token page, not the model's 128; at that budget a
// request for 128 tokens is refused with the numbers, and a budget under the weights is refused.
#include <cuda_runtime.h>

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/backend.h"
#include "quire/inference/model_weights.h"

namespace qi = quire::inference;

namespace {

const std::filesystem::path kTiny = std::filesystem::path(QUIRE_TEST_DATA_DIR) / "inference" / "tiny_llama";

std::expected<std::unique_ptr<qi::Runner>, qi::Error> create(const std::shared_ptr<const qi::ModelWeights>& w,
                                                             std::uint64_t budget, int context,
                                                             std::optional<qi::KvDtype> kv = std::nullopt)
{
    auto b = qi::findBackend("cuda");
    if (!b)
        return std::unexpected(b.error());
    qi::RunnerOptions o;
    o.maxContext = context;
    o.deviceMemoryBudget = budget;
    o.kvDtype = kv;
    return (*b)->createRunner(w, o);
}

} // namespace

GPU_TEST(cudaRunnerKvDtypeFromOptions)
{
    auto weights = qi::loadLlamaWeightsHf(kTiny);
    GPU_CHECK(weights.has_value());
    GPU_CHECK(create(*weights, 0, 0, qi::KvDtype::BF16).has_value());
    for (const qi::KvDtype kv : {qi::KvDtype::F32, qi::KvDtype::F16, qi::KvDtype::Fp8E4M3}) {
        auto r = create(*weights, 0, 0, kv);
        GPU_CHECK(!r.has_value() && r.error().code == qi::ErrorCode::Unsupported);
        GPU_CHECK_MSG(r.error().message.find(std::string(qi::toString(kv))) != std::string::npos &&
                          r.error().message.find("cuda") != std::string::npos,
                      r.error().message);
    }
}

GPU_TEST(cudaRunnerContextWithinTheBudget)
{
    auto weights = qi::loadLlamaWeightsHf(kTiny);
    GPU_CHECK(weights.has_value());
    const int modelLength = (*weights)->config.contextLength;
    GPU_CHECK(modelLength == 128);
    const int vocab = (*weights)->config.vocabSize;
    std::vector<float> logits(static_cast<std::size_t>(vocab));
    { // no budget: the model's length; one forward loads the kernels (lazy module loading) before measuring
        auto r = create(*weights, 0, 0);
        GPU_CHECK_MSG(r.has_value(), r.error().message);
        GPU_CHECK((*r)->maxContext() == modelLength);
        GPU_CHECK((*r)->forward(std::vector<std::int32_t>(70, 1), logits, false).has_value());
    }
    // Under the weights: refused, not a CUDA error.
    auto tiny = create(*weights, 1 << 20, 0);
    GPU_CHECK(!tiny.has_value() && tiny.error().code == qi::ErrorCode::OutOfMemory);

    std::uint64_t lo = 1 << 20, hi = std::uint64_t(2) << 30;
    GPU_CHECK(create(*weights, hi, 0).has_value());
    while (hi - lo > 4096) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        (create(*weights, mid, 0).has_value() ? hi : lo) = mid;
    }
    auto r = create(*weights, hi, 0);
    GPU_CHECK_MSG(r.has_value(), r.error().message);
    GPU_CHECK_MSG((*r)->maxContext() == 64, "smallest budget " << hi << ": context " << (*r)->maxContext());
    GPU_CHECK((*r)->forward(std::vector<std::int32_t>(64, 1), logits, false).has_value());
    auto full = (*r)->forward(std::vector<std::int32_t>(1, 1), logits, false);
    GPU_CHECK(!full.has_value() && full.error().message.find("context full") != std::string::npos);

    auto refused = create(*weights, hi, modelLength);
    GPU_CHECK(!refused.has_value() && refused.error().code == qi::ErrorCode::OutOfMemory);
    GPU_CHECK_MSG(refused.error().message.find("a context of 128 tokens") != std::string::npos &&
                      refused.error().message.find("at most 64 tokens") != std::string::npos,
                  refused.error().message);
}
