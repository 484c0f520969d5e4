// Llama 4 on the GPU: the QK norm and NoPE temperature kernels against their twins, and the tiny Llama 4
// model (tests/data/llama4/moe_chunked: 4 layers, chunk 16, one NoPE layer, top-1 MoE with a shared
// expert) on the CUDA runner against the CPU runner with the same int4 experts, by whole-prompt prefill
// (80 tokens: five chunks, split into passes of 256 tokens at most) and by prefill of 37 tokens followed by
// one-token decode steps across chunk boundaries. Tolerances (worst over positions of max|gpu - cpu| /
// max|cpu| of the logits): 0.05 with the global layers' KV in fp8 e4m3 (the default), 0.03 with it in
// bf16; the GPU computes in bf16, the CPU in f32. A model whose expert width is not a multiple of 64
// (dense_moe_mix, 48) is refused with a clear error.
#include <cstdlib>
#include <vector>

#include "gpu_test.h"
#include "inference/llama4_test_util.h"
#include "quire/inference/backend.h"
#include "quire/inference/cuda/kernels/llama4_ops.cuh"
#include "quire/inference/cuda/twins/llama4_ops.h"
#include "quire/inference/llama4.h"
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

std::unique_ptr<inf::Runner> runner(const char* backend, std::shared_ptr<const inf::ModelWeights> w)
{
    auto b = inf::findBackend(backend);
    if (!b)
        throw std::runtime_error(b.error().message);
    inf::RunnerOptions o;
    o.maxContext = 256;
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

void compareTiny(const char* globalKv, double tolerance)
{
    setenv("QUIRE_LLAMA4_GLOBAL_KV", globalKv, 1);
    const auto golden = quire::test::loadLlama4Golden("moe_chunked");
    const auto w = tinyInt4("moe_chunked");
    const int V = golden.vocab;
    for (const int prefix : {0, golden.decodePrefix}) {
        auto cpu = runner("cpu", w);
        auto gpu = runner("cuda", w);
        const auto ref = run(*cpu, golden.tokens, V, prefix);
        const auto got = run(*gpu, golden.tokens, V, prefix);
        const std::size_t rows = ref.size() / std::size_t(V);
        int where = -1;
        const double err = quire::test::worstRelativeError(got.data(), ref.data(), rows, V, &where);
        const int agree = top1Agreement(got, ref, V);
        GPU_CHECK_MSG(err < tolerance, "global KV " << globalKv << (prefix ? ", decode" : ", prefill")
                                                    << ": worst relative error " << err << " at row "
                                                    << where);
        GPU_CHECK_MSG(agree >= int(rows) * 9 / 10, "top-1 agrees on " << agree << " of " << rows << " rows");
        GPU_CHECK(gpu->position() == int(golden.tokens.size()));
    }
    unsetenv("QUIRE_LLAMA4_GLOBAL_KV");
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
    compareTiny("fp8", 0.05);
}

GPU_TEST(llama4TinyBf16KvMatchesCpu)
{
    compareTiny("bf16", 0.03);
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
