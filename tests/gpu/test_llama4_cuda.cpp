// Llama 4 on the GPU: the QK norm and NoPE temperature kernels against their twins, and the tiny Llama 4
// model (tests/data/llama4/moe_chunked: 4 layers, chunk 16, one NoPE layer, top-1 MoE with a shared
// expert) on the CUDA runner against the CPU runner with the same int4 experts, by whole-prompt prefill
// (80 tokens: five chunks, split into passes of 256 tokens at most) and by prefill of 37 tokens followed by
// one-token decode steps across chunk boundaries. Tolerances (worst over positions of max|gpu - cpu| /
// max|cpu| of the logits): 0.05 with the global layers' KV in fp8 e4m3 (the default), 0.03 with it in
// bf16; the GPU computes in bf16, the CPU in f32. A model whose expert width is not a multiple of 64
// (dense_moe_mix, 48) is refused with a clear error. Truncation: into a chunk the ring no longer holds is
// refused (also on a second truncation), inside the chunk it holds is served. RunnerOptions: the KV dtype
// (bf16 / fp8 held, f32 / f16 refused by name) and the device memory budget (the default context is the
// plan's for the budget, one page more is refused with the plan's numbers, the runner stays within it).
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "gpu_test.h"
#include "inference/llama4_test_util.h"
#include "quire/inference/backend.h"
#include "quire/inference/cuda/kernels/llama4_ops.cuh"
#include "quire/inference/cuda/twins/llama4_ops.h"
#include "quire/inference/llama4.h"
#include "quire/inference/llama4_memory_plan.h"
#include "test_util.h"

using namespace quire::gputest;
namespace qc = quire::inference::cuda;
namespace tw = quire::inference::cuda::twins;
namespace inf = quire::inference;

namespace {

std::shared_ptr<const inf::ModelWeights> tinyInt4(const std::string& name)
{
    inf::Llama4LoadOptions o;
    o.quantization.experts = inf::WeightFormat::Int4;
    o.quantization.groupSize = 128;
    auto w = inf::loadLlama4ModelWeights(quire::test::kLlama4Data / name, o);
    if (!w)
        throw std::runtime_error(w.error().message);
    return *w;
}

std::unique_ptr<inf::Runner> runner(const char* backend, std::shared_ptr<const inf::ModelWeights> w,
                                    std::optional<inf::KvDtype> kv = std::nullopt)
{
    auto b = inf::findBackend(backend);
    if (!b)
        throw std::runtime_error(b.error().message);
    inf::RunnerOptions o;
    o.maxContext = 256;
    o.kvDtype = kv;
    auto r = (*b)->createRunner(std::move(w), o);
    if (!r)
        throw std::runtime_error(r.error().message);
    return std::move(*r);
}

// Logits of every position by whole-prompt prefill, or (prefix > 0) by a prefill of `prefix` tokens and
// then one token at a time: rows prefix-1 .. T-1.
std::vector<float> run(inf::Runner& r, const std::vector<std::int32_t>& tokens, int vocab, int prefix)
{
    if (prefix == 0) {
        std::vector<float> out(tokens.size() * std::size_t(vocab));
        if (!r.forward(tokens, out, true))
            throw std::runtime_error("forward failed");
        return out;
    }
    std::vector<float> out;
    std::vector<float> row(static_cast<std::size_t>(vocab));
    if (!r.forward(std::span(tokens.data(), std::size_t(prefix)), row, false))
        throw std::runtime_error("prefill failed");
    out.insert(out.end(), row.begin(), row.end());
    for (std::size_t t = std::size_t(prefix); t < tokens.size(); ++t) {
        if (!r.forward(std::span(tokens.data() + t, 1), row, false))
            throw std::runtime_error("decode failed");
        out.insert(out.end(), row.begin(), row.end());
    }
    return out;
}

int top1Agreement(const std::vector<float>& a, const std::vector<float>& b, int vocab)
{
    int same = 0;
    for (std::size_t r = 0; r < a.size() / std::size_t(vocab); ++r) {
        const auto* x = a.data() + r * std::size_t(vocab);
        const auto* y = b.data() + r * std::size_t(vocab);
        same += std::max_element(x, x + vocab) - x == std::max_element(y, y + vocab) - y;
    }
    return same;
}

void compareTiny(inf::KvDtype globalKv, double tolerance)
{
    const auto golden = quire::test::loadLlama4Golden("moe_chunked");
    const auto w = tinyInt4("moe_chunked");
    const int V = golden.vocab;
    for (const int prefix : {0, golden.decodePrefix}) {
        auto cpu = runner("cpu", w);
        auto gpu = runner("cuda", w, globalKv);
        const auto ref = run(*cpu, golden.tokens, V, prefix);
        const auto got = run(*gpu, golden.tokens, V, prefix);
        const std::size_t rows = ref.size() / std::size_t(V);
        int where = -1;
        const double err = quire::test::worstRelativeError(got.data(), ref.data(), rows, V, &where);
        const int agree = top1Agreement(got, ref, V);
        std::printf("    global KV %s, %s: worst relative error %.3g (limit %.3g), top-1 agrees on %d of %zu rows\n",
                    std::string(inf::toString(globalKv)).c_str(), prefix ? "decode" : "prefill", err, tolerance,
                    agree, rows);
        GPU_CHECK_MSG(err < tolerance, "global KV "
                                           << inf::toString(globalKv) << (prefix ? ", decode" : ", prefill")
                                           << ": worst relative error " << err << " at row " << where);
        GPU_CHECK_MSG(agree >= int(rows) * 9 / 10, "top-1 agrees on " << agree << " of " << rows << " rows");
        GPU_CHECK(gpu->position() == int(golden.tokens.size()));
    }
}

} // namespace

GPU_TEST(llama4OpsMatchTwins)
{
    Rng rng(110);
    const int T = 37, heads = 12, d = 32;
    const long long stride = heads * d + 64; // rows wider than the heads (a fused qkv row)
    const auto x = rng.bf16(static_cast<std::size_t>(T) * stride, 3.0f);
    std::vector<std::int32_t> pos(T);
    for (int t = 0; t < T; ++t)
        pos[t] = 8180 + 3 * t; // crosses 8191 and 16383 with floor scale 8192
    DevArray<std::uint16_t> dx(x);
    DevArray<std::int32_t> dpos(pos);
    cudaCheck(qc::launchHeadRmsNorm(dx.get(), T, heads, d, stride, 1e-5f, nullptr), "head norm");
    auto ref = x;
    tw::headRmsNorm(ref.data(), T, heads, d, stride, 1e-5f);
    GPU_CHECK(relError(toFloat(dx.download()), toFloat(ref)) < 2e-3);

    dx.upload(x);
    cudaCheck(qc::launchQueryTemperature(dx.get(), T, heads, d, stride, dpos.get(), 0.1f, 8192.0f, nullptr),
              "temperature");
    ref = x;
    tw::queryTemperature(ref.data(), T, heads, d, stride, pos.data(), 0.1f, 8192.0f);
    const auto got = dx.download();
    std::size_t differ = 0;
    for (std::size_t i = 0; i < got.size(); ++i)
        differ += got[i] != ref[i];
    GPU_CHECK_MSG(differ * 1000 <= got.size(), differ << " of " << got.size() << " values differ");
}

GPU_TEST(llama4TinyFp8KvMatchesCpu)
{
    compareTiny(inf::KvDtype::Fp8E4M3, 0.05);
}

GPU_TEST(llama4TinyBf16KvMatchesCpu)
{
    compareTiny(inf::KvDtype::BF16, 0.03);
}

GPU_TEST(llama4ExpertWidthNotMultipleOf64IsRefused)
{
    auto b = inf::findBackend("cuda");
    GPU_CHECK(b.has_value());
    auto r = (*b)->createRunner(tinyInt4("dense_moe_mix"), {});
    GPU_CHECK(!r.has_value() && r.error().code == inf::ErrorCode::Unsupported);
}

// Cutting the context back inside an earlier attention chunk is refused on the next step (the chunked
// layers' ring no longer holds that chunk's keys); cutting back to the chunk's start and feeding the
// tokens again gives the CPU's logits.
GPU_TEST(llama4TruncateIntoAnEarlierChunk)
{
    const auto golden = quire::test::loadLlama4Golden("moe_chunked"); // attention chunk 16
    const auto w = tinyInt4("moe_chunked");
    const int V = golden.vocab;
    auto gpu = runner("cuda", w);
    auto cpu = runner("cpu", w);
    const std::vector<std::int32_t> first(golden.tokens.begin(), golden.tokens.begin() + 40);
    std::vector<float> row(static_cast<std::size_t>(V)), ref(row.size());
    GPU_CHECK(gpu->forward(first, row, false).has_value());
    gpu->truncate(20); // chunk [16, 32); the ring now holds [32, 40)
    const std::vector<std::int32_t> next(golden.tokens.begin() + 20, golden.tokens.begin() + 24);
    const auto refused = gpu->forward(next, row, false);
    GPU_CHECK(!refused.has_value() && refused.error().code == inf::ErrorCode::InvalidArgument);
    gpu->truncate(16);
    const std::vector<std::int32_t> again(golden.tokens.begin() + 16, golden.tokens.begin() + 24);
    GPU_CHECK(gpu->forward(again, row, false).has_value());
    const std::vector<std::int32_t> upTo24(golden.tokens.begin(), golden.tokens.begin() + 24);
    GPU_CHECK(cpu->forward(upTo24, ref, false).has_value());
    const double err = quire::test::worstRelativeError(row.data(), ref.data(), 1, V);
    GPU_CHECK_MSG(err < 0.05, "after re-feeding: relative error " << err);
}

// A context the memory plan refuses (here: past the model's 131072 positions) fails at createRunner with
// the plan's message, before any upload.
GPU_TEST(llama4RunnerRefusesWhatThePlanRefuses)
{
    auto b = inf::findBackend("cuda");
    GPU_CHECK(b.has_value());
    inf::RunnerOptions o;
    o.maxContext = 200000;
    auto r = (*b)->createRunner(tinyInt4("moe_chunked"), o);
    GPU_CHECK(!r.has_value() &&
              r.error().message.find("longer than the model's maximum") != std::string::npos);
}

// Regression: a second truncation after a refused one was judged against the wrong chunk. After 40 tokens
// (chunk 16, the ring holds [32, 40)), truncate(20) and then truncate(18) must still be refused: the ring
// does not hold chunk [16, 32) any more. And at exactly 32 tokens the ring still holds [16, 32), so
// truncate(20) followed by more tokens is served and matches the CPU.
GPU_TEST(llama4SecondTruncationInsideALostChunkIsRefused)
{
    const auto golden = quire::test::loadLlama4Golden("moe_chunked");
    const auto w = tinyInt4("moe_chunked");
    const int V = golden.vocab;
    std::vector<float> row(static_cast<std::size_t>(V)), ref(row.size());
    const auto span = [&](int a, int b) {
        return std::vector<std::int32_t>(golden.tokens.begin() + a, golden.tokens.begin() + b);
    };
    auto gpu = runner("cuda", w);
    GPU_CHECK(gpu->forward(span(0, 40), row, false).has_value());
    gpu->truncate(20);
    gpu->truncate(18);
    const auto refused = gpu->forward(span(18, 20), row, false);
    GPU_CHECK_MSG(!refused.has_value() && refused.error().code == inf::ErrorCode::InvalidArgument,
                  "a forward after truncate(18) was not refused");

    auto gpu2 = runner("cuda", w);
    auto cpu = runner("cpu", w);
    GPU_CHECK(gpu2->forward(span(0, 32), row, false).has_value());
    gpu2->truncate(20);
    const auto served = gpu2->forward(span(20, 24), row, false);
    GPU_CHECK_MSG(served.has_value(), "truncate(20) at 32 tokens was refused: " << served.error().message);
    GPU_CHECK(cpu->forward(span(0, 24), ref, false).has_value());
    const double err = quire::test::worstRelativeError(row.data(), ref.data(), 1, V);
    GPU_CHECK_MSG(err < 0.05, "after truncate(20) at 32: relative error " << err);
}

// RunnerOptions::kvDtype: bf16 and fp8 are held, anything else is refused by name.
GPU_TEST(llama4KvDtypeFromOptions)
{
    const auto w = tinyInt4("moe_chunked");
    auto b = inf::findBackend("cuda");
    GPU_CHECK(b.has_value());
    for (const inf::KvDtype kv : {inf::KvDtype::BF16, inf::KvDtype::Fp8E4M3}) {
        inf::RunnerOptions o;
        o.maxContext = 256;
        o.kvDtype = kv;
        auto r = (*b)->createRunner(w, o);
        GPU_CHECK_MSG(r.has_value(), inf::toString(kv) << ": " << r.error().message);
    }
    for (const inf::KvDtype kv : {inf::KvDtype::F32, inf::KvDtype::F16}) {
        inf::RunnerOptions o;
        o.maxContext = 256;
        o.kvDtype = kv;
        auto r = (*b)->createRunner(w, o);
        GPU_CHECK(!r.has_value() && r.error().code == inf::ErrorCode::Unsupported);
        GPU_CHECK_MSG(r.error().message.find(std::string(inf::toString(kv))) != std::string::npos &&
                          r.error().message.find("cuda") != std::string::npos,
                      r.error().message);
    }
}

// RunnerOptions::deviceMemoryBudget: the plan is made for the budget, so the default context is the plan's
// longest, one page more is refused with the plan's numbers, and what the runner allocates stays within it.
GPU_TEST(llama4DeviceMemoryBudget)
{
    const auto w = tinyInt4("moe_chunked");
    const inf::Llama4Config& config = inf::asLlama4(*w)->llama4;
    auto b = inf::findBackend("cuda");
    GPU_CHECK(b.has_value());
    for (const inf::KvDtype kv : {inf::KvDtype::Fp8E4M3, inf::KvDtype::BF16}) {
        inf::Llama4MemoryPlanOptions po;
        po.globalKvBytes = kv == inf::KvDtype::Fp8E4M3 ? 1 : 2;
        const auto fixed = inf::planLlama4Memory(config, po).fixedBytes;
        const std::uint64_t perPage = inf::planLlama4Memory(config, po).globalKvBytesPerPage +
                                      inf::planLlama4Memory(config, po).stagingBytesPerPage +
                                      inf::planLlama4Memory(config, po).decodeWorkspaceBytesPerPage;
        po.deviceFreeBytes = fixed + 10 * perPage + perPage / 2; // ten pages and a half
        const auto plan = inf::planLlama4Memory(config, po);
        GPU_CHECK_MSG(plan.maxContextGpu == 10 * po.kvPageTokens, "plan: " << plan.maxContextGpu);

        inf::RunnerOptions o;
        o.kvDtype = kv;
        o.deviceMemoryBudget = po.deviceFreeBytes;
        std::size_t free0 = 0, free1 = 0, total = 0;
        cudaCheck(cudaDeviceSynchronize(), "sync");
        cudaCheck(cudaMemGetInfo(&free0, &total), "cudaMemGetInfo");
        {
            auto r = (*b)->createRunner(w, o);
            GPU_CHECK_MSG(r.has_value(), r.error().message);
            GPU_CHECK_MSG((*r)->maxContext() == plan.maxContextGpu,
                          inf::toString(kv) << ": default context " << (*r)->maxContext() << ", plan "
                                            << plan.maxContextGpu);
            cudaCheck(cudaMemGetInfo(&free1, &total), "cudaMemGetInfo");
            const std::uint64_t used = free0 > free1 ? free0 - free1 : 0;
            GPU_CHECK_MSG(used <= o.deviceMemoryBudget, inf::toString(kv) << ": the runner took " << used
                                                                          << " bytes of a budget of "
                                                                          << o.deviceMemoryBudget);
            std::vector<float> logits(static_cast<std::size_t>(config.vocabSize));
            const std::vector<std::int32_t> tokens(300, 7);
            GPU_CHECK((*r)->forward(tokens, logits, false).has_value());
        }
        o.maxContext = int(plan.maxContextGpu) + po.kvPageTokens;
        auto refused = (*b)->createRunner(w, o);
        GPU_CHECK(!refused.has_value() && refused.error().code == inf::ErrorCode::OutOfMemory);
        GPU_CHECK_MSG(refused.error().message.find("room for " + std::to_string(plan.maxContextGpu) +
                                                   " tokens") != std::string::npos,
                      refused.error().message);
    }
}
