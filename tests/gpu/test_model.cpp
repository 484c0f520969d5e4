// Whole-model parity of the CUDA backend ("cuda") with the CPU backend and with Hugging Face
// transformers: the tiny random Llama and Qwen2 models of tests/data/inference (f32 weights, head dim
// 8: the general attention kernel, cuBLASLt products) against their golden logits and the CPU
// backend, and the default model (SmolLM2-135M-Instruct Q4_1: head dim 64, the tiled attention
// kernels, the Q4_1 and Q8_0 GEMVs, the captured decode graph) against the CPU backend, when its file is
// present (QUIRE_DEFAULT_MODEL, else ~/.local/share/quire/models/). Greedy generations must match the
// CPU backend's token for token up to the first near tie of the CPU's logits (see greedyAgreement); on
// the default model, a counting prompt without near ties must agree for all 40 tokens.
//
// Tolerances: the GPU path rounds every activation but the residual stream to bf16 (8 significant
// bits) where the CPU keeps f32, so logits differ by about 1e-2 of their range; the tests allow
// kTinyTolerance / kDefaultTolerance of the largest |logit| per position. The default model's logits are
// held to the CPU reference forward pass (cpu-reference) within kDefaultTolerance or twice the CPU
// backend's own distance from it, whichever is larger; its greedy tokens to the CPU backend.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gpu_test.h"
#include "quire/inference/backend.h"
#include "quire/inference/cuda/backend.h"
#include "quire/inference/engine.h"
#include "quire/inference/gguf.h"
#include "quire/inference/model_weights.h"
#include "quire/inference/safetensors.h"

namespace qi = quire::inference;

namespace {

const std::filesystem::path kData = std::filesystem::path(QUIRE_TEST_DATA_DIR) / "inference";
constexpr double kTinyTolerance = 2e-2;
// 30 layers of bf16 activations, and in the prefill path bf16-rounded Q4_1 weights: run 2 measured 6.5e-2
// (prefill) and 5.1e-2 (token by token) against the CPU backend of the time.
constexpr double kDefaultTolerance = 8e-2;
constexpr int kGreedyTokens = 40;
constexpr float kNearTie = 0.02f;

struct Golden {
    std::vector<std::int32_t> tokens;
    std::vector<float> logits; // [T][vocab]
};

bool loadGolden(const std::filesystem::path& dir, Golden& g)
{
    auto file = qi::SafetensorsFile::open(dir / "golden.safetensors");
    if (!file)
        return false;
    const qi::SafeTensor* tokens = file->tensor("tokens");
    const qi::SafeTensor* logits = file->tensor("logits");
    if (!tokens || !logits || tokens->dtype != "I64" || logits->dtype != "F32")
        return false;
    for (std::int64_t i = 0; i < tokens->elements(); ++i) {
        std::int64_t v;
        std::memcpy(&v, tokens->data.data() + 8 * i, 8);
        g.tokens.push_back(static_cast<std::int32_t>(v));
    }
    g.logits.resize(static_cast<std::size_t>(logits->elements()));
    std::memcpy(g.logits.data(), logits->data.data(), logits->data.size());
    return true;
}

// Worst over positions of max |ours - ref| / max |ref| (NaN counts as infinitely bad).
double worstError(const std::vector<float>& ours, const std::vector<float>& ref, int vocab)
{
    double worst = 0;
    for (std::size_t t = 0; (t + 1) * std::size_t(vocab) <= ref.size(); ++t) {
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < vocab; ++i) {
            const std::size_t k = t * std::size_t(vocab) + std::size_t(i);
            const double d = std::fabs(double(ours[k]) - ref[k]);
            maxDiff = std::isnan(d) ? INFINITY : std::max(maxDiff, d);
            maxRef = std::max(maxRef, std::fabs(double(ref[k])));
        }
        worst = std::max(worst, maxDiff / maxRef);
    }
    return worst;
}

// ||ours - ref|| / ||ref|| over everything.
double rmsError(const std::vector<float>& ours, const std::vector<float>& ref)
{
    double num = 0, den = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double d = double(ours[i]) - ref[i];
        num += std::isnan(d) ? INFINITY : d * d;
        den += double(ref[i]) * ref[i];
    }
    return std::sqrt(num / den);
}

int argmax(const float* v, int n)
{
    return int(std::max_element(v, v + n) - v);
}

// Greedy continuation of `prompt` for `count` tokens; margins[i] is the gap between the best and the
// second-best logit at step i over the largest |logit|.
bool greedy(qi::Runner& r, const std::vector<std::int32_t>& prompt, int count, int vocab,
            std::vector<std::int32_t>& out, std::vector<float>* margins = nullptr)
{
    r.truncate(0);
    std::vector<float> logits(static_cast<std::size_t>(vocab));
    if (!r.forward(prompt, logits, false))
        return false;
    for (int i = 0; i < count; ++i) {
        const int best = argmax(logits.data(), vocab);
        if (margins) {
            float second = -INFINITY, largest = 0;
            for (int j = 0; j < vocab; ++j) {
                if (j != best)
                    second = std::max(second, logits[std::size_t(j)]);
                largest = std::max(largest, std::fabs(logits[std::size_t(j)]));
            }
            margins->push_back((logits[std::size_t(best)] - second) / largest);
        }
        out.push_back(best);
        const std::int32_t tok = best;
        if (!r.forward(std::span(&tok, 1), logits, false))
            return false;
    }
    return true;
}

std::unique_ptr<qi::Runner> makeRunner(const char* backend, std::shared_ptr<const qi::ModelWeights> w,
                                       int maxContext)
{
    auto b = qi::findBackend(backend);
    if (!b)
        return nullptr;
    qi::RunnerOptions o;
    o.maxContext = maxContext;
    auto r = (*b)->createRunner(std::move(w), o);
    if (!r) {
        std::printf("    %s runner: %s\n", backend, r.error().message.c_str());
        return nullptr;
    }
    return std::move(*r);
}

// Greedy on both backends. Returns the number of leading tokens that agree, and in `required` how
// many must: all kGreedyTokens, or, when the CPU's best two logits come closer than kNearTie of the
// largest |logit| at some step (a near tie that the bf16 path may break either way), the steps before it
// (at least 32 unless such a tie comes earlier).
int greedyAgreement(qi::Runner& cpu, qi::Runner& gpu, const std::vector<std::int32_t>& prompt, int vocab,
                    const char* label, int& required)
{
    std::vector<std::int32_t> a, b;
    std::vector<float> margins;
    if (!greedy(cpu, prompt, kGreedyTokens, vocab, a, &margins) ||
        !greedy(gpu, prompt, kGreedyTokens, vocab, b))
        return -1;
    int same = 0;
    while (same < kGreedyTokens && a[std::size_t(same)] == b[std::size_t(same)])
        ++same;
    required = 0;
    while (required < kGreedyTokens && margins[std::size_t(required)] >= kNearTie)
        ++required;
    const float smallest = *std::min_element(margins.begin(), margins.end());
    if (same < kGreedyTokens)
        std::printf(
            "    %s greedy: %d of %d identical, first difference at step %d (cpu %d, gpu %d; cpu's top-2 "
            "margin there %.3g of max |logit|); first cpu near tie at step %d\n",
            label, same, kGreedyTokens, same, a[std::size_t(same)], b[std::size_t(same)],
            double(margins[std::size_t(same)]), required);
    else
        std::printf(
            "    %s greedy: %d of %d tokens identical (smallest cpu top-2 margin %.3g of max |logit|)\n",
            label, same, kGreedyTokens, double(smallest));
    return same;
}

} // namespace

GPU_TEST(cudaBackendIsRegistered)
{
    auto b = qi::findBackend("cuda");
    GPU_CHECK(b.has_value());
    GPU_CHECK((*b)->name() == "cuda");
}

GPU_TEST(tinyModelsMatchGoldensAndCpu)
{
    for (const char* model : {"tiny_llama", "tiny_qwen2"}) {
        const auto dir = kData / model;
        auto weights = qi::loadLlamaWeightsHf(dir);
        GPU_CHECK_MSG(weights.has_value(), model << ": " << (weights ? "" : weights.error().message));
        Golden golden;
        GPU_CHECK_MSG(loadGolden(dir, golden), model << ": golden file");
        const int vocab = (*weights)->config.vocabSize;
        auto gpu = makeRunner("cuda", *weights, 0);
        auto cpu = makeRunner("cpu", *weights, 0);
        GPU_CHECK(gpu && cpu);
        GPU_CHECK(gpu->backendName() == "cuda");

        std::vector<float> g(golden.logits.size(), NAN), c(golden.logits.size(), NAN);
        GPU_CHECK(gpu->forward(golden.tokens, g, true).has_value());
        GPU_CHECK(cpu->forward(golden.tokens, c, true).has_value());
        const double errGolden = worstError(g, golden.logits, vocab);
        const double errCpu = worstError(g, c, vocab);
        const double cpuGolden = worstError(c, golden.logits, vocab);

        // Incremental: a prefix, then one token at a time through the cache (the decode path, graph).
        gpu->truncate(0);
        GPU_CHECK(gpu->position() == 0);
        std::vector<float> step(golden.logits.size(), NAN);
        const std::size_t prefix = 5;
        GPU_CHECK(gpu->forward(std::span(golden.tokens).first(prefix), step, true).has_value());
        for (std::size_t t = prefix; t < golden.tokens.size(); ++t)
            GPU_CHECK(gpu->forward(std::span(golden.tokens).subspan(t, 1),
                                   std::span(step).subspan(t * std::size_t(vocab), std::size_t(vocab)), false)
                          .has_value());
        GPU_CHECK(gpu->position() == int(golden.tokens.size()));
        const double errStep = worstError(step, golden.logits, vocab);
        std::printf("    %s: gpu vs transformers %.2e, gpu vs cpu %.2e, incremental gpu vs transformers %.2e "
                    "(cpu vs transformers %.2e)\n",
                    model, errGolden, errCpu, errStep, cpuGolden);
        GPU_CHECK_MSG(errGolden < kTinyTolerance && errCpu < kTinyTolerance && errStep < kTinyTolerance,
                      model << ": errors " << errGolden << ", " << errCpu << ", " << errStep);
    }
}

GPU_TEST(tinyModelsGreedyMatchesCpu)
{
    for (const char* model : {"tiny_llama", "tiny_qwen2"}) {
        const auto dir = kData / model;
        auto weights = qi::loadLlamaWeightsHf(dir);
        GPU_CHECK(weights.has_value());
        Golden golden;
        GPU_CHECK(loadGolden(dir, golden));
        auto gpu = makeRunner("cuda", *weights, 0);
        auto cpu = makeRunner("cpu", *weights, 0);
        GPU_CHECK(gpu && cpu);
        int required = 0;
        const int same =
            greedyAgreement(*cpu, *gpu, golden.tokens, (*weights)->config.vocabSize, model, required);
        GPU_CHECK_MSG(same >= required,
                      model << ": " << same << " greedy tokens agree, " << required << " must");
    }
}

GPU_TEST(cudaRunnerRejectsBadCalls)
{
    auto weights = qi::loadLlamaWeightsHf(kData / "tiny_llama");
    GPU_CHECK(weights.has_value());
    auto gpu = makeRunner("cuda", *weights, 8);
    GPU_CHECK(gpu != nullptr);
    std::vector<float> logits(96);
    const std::vector<std::int32_t> outOfVocab = {1, 96};
    auto r = gpu->forward(outOfVocab, logits, false);
    GPU_CHECK(!r && r.error().message.find("vocabulary") != std::string::npos);
    const std::vector<std::int32_t> tooMany(9, 1);
    r = gpu->forward(tooMany, logits, false);
    GPU_CHECK(!r && r.error().message.find("context full") != std::string::npos);
    GPU_CHECK(gpu->position() == 0);
}

GPU_TEST(defaultModelMatchesCpu)
{
    std::filesystem::path path;
    if (const char* env = std::getenv("QUIRE_DEFAULT_MODEL"))
        path = env;
    else if (const char* home = std::getenv("HOME"))
        path = std::filesystem::path(home) / ".local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (path.empty() || !std::filesystem::exists(path)) {
        std::printf("    SKIPPED: no default model at '%s' (set QUIRE_DEFAULT_MODEL)\n", path.c_str());
        return;
    }
    auto gguf = qi::GgufFile::open(path);
    GPU_CHECK_MSG(gguf.has_value(), (gguf ? std::string() : gguf.error().message));
    auto weights = qi::loadLlamaWeights(std::make_shared<const qi::GgufFile>(std::move(*gguf)));
    GPU_CHECK_MSG(weights.has_value(), (weights ? std::string() : weights.error().message));
    const int vocab = (*weights)->config.vocabSize;
    // "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n" as ids of
    // SmolLM2's vocabulary.
    const std::vector<std::int32_t> prompt = {1,    4093, 198, 1780, 314, 260, 3575, 282,
                                              4649, 47,   2,   198,  1,   520, 9531, 198};
    auto gpu = makeRunner("cuda", *weights, 512);
    auto cpu = makeRunner("cpu", *weights, 512);
    auto ref = makeRunner("cpu-reference", *weights, 512);
    GPU_CHECK(gpu && cpu && ref);

    // Logits of the prompt against the reference forward pass (f32 activations, double sums); the CPU
    // backend's fast path is printed beside it (with 8-bit activations it was 4e-2 off the reference by
    // this measure, with 16-bit ones 2e-4).
    std::vector<float> g(prompt.size() * std::size_t(vocab), NAN), c(g.size(), NAN), r(g.size(), NAN);
    GPU_CHECK(gpu->forward(prompt, g, true).has_value());
    GPU_CHECK(cpu->forward(prompt, c, true).has_value());
    GPU_CHECK(ref->forward(prompt, r, true).has_value());
    // The same prompt token by token through the GPU's decode path (GEMV, decode kernel, graph).
    gpu->truncate(0);
    std::vector<float> step(g.size(), NAN);
    for (std::size_t t = 0; t < prompt.size(); ++t)
        GPU_CHECK(gpu->forward(std::span(prompt).subspan(t, 1),
                               std::span(step).subspan(t * std::size_t(vocab), std::size_t(vocab)), false)
                      .has_value());
    const double err = worstError(g, r, vocab), errStep = worstError(step, r, vocab);
    const double cpuErr = worstError(c, r, vocab);
    // The GPU may stray from the reference by kDefaultTolerance, or by twice as much as the CPU backend's
    // own fast path does on the same prompt, whichever is larger.
    const double tolerance = std::max(kDefaultTolerance, 2 * cpuErr);
    std::printf("    default model (%s): gpu vs reference logits %.2e (prefill), %.2e (token by token), rms "
                "%.2e / %.2e; gpu vs cpu %.2e; cpu vs reference %.2e (rms %.2e); tolerance %.2e\n",
                path.filename().c_str(), err, errStep, rmsError(g, r), rmsError(step, r),
                worstError(g, c, vocab), cpuErr, rmsError(c, r), tolerance);
    const bool logitsOk = err < tolerance && errStep < tolerance;

    int required = 0;
    int same = greedyAgreement(*cpu, *gpu, prompt, vocab, "default model, chat prompt", required);
    if (same < required) // reported, but the counting prompt and the logits are still checked below
        ::quire::gputest::recordFailure(__FILE__, __LINE__,
                                        std::to_string(same) + " greedy tokens agree, " +
                                            std::to_string(required) + " must");
    // "1, 2, ... 12," as raw text: a continuation the model is sure of (no near tie in 40 tokens on the
    // CPU), so all 40 greedy tokens must agree.
    std::vector<std::int32_t> counting;
    for (int n = 1; n <= 12; ++n) {
        if (n > 1)
            counting.push_back(216); // "Ġ" (a space)
        for (const char ch : std::to_string(n))
            counting.push_back(32 + (ch - '0')); // "0".."9"
        counting.push_back(28);                  // ","
    }
    same = greedyAgreement(*cpu, *gpu, counting, vocab, "default model, counting", required);
    GPU_CHECK_MSG(same >= required && same >= 32, same << " greedy tokens agree, " << required << " must");
    GPU_CHECK_MSG(logitsOk, "logit errors " << err << ", " << errStep << " (tolerance " << tolerance << ")");
}

// The path `quire-cli generate --backend cuda` takes: the engine API (Model, Session) finds the backend by
// name, prefills a chat prompt and generates greedily; the reply is printed beside the CPU backend's and
// must answer the question.
GPU_TEST(engineSessionRunsOnCuda)
{
    const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
    const char* home = std::getenv("HOME");
    const std::filesystem::path path = env ? std::filesystem::path(env)
                                           : std::filesystem::path(home ? home : "") /
                                                 ".local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (!std::filesystem::exists(path)) {
        std::printf("    SKIPPED: no default model at '%s' (set QUIRE_DEFAULT_MODEL)\n", path.c_str());
        return;
    }
    auto model = qi::Model::load(path);
    GPU_CHECK_MSG(model.has_value(), (model ? std::string() : model.error().message));
    const std::vector<qi::ChatMessage> chat = {{"user", "What is the capital of France?"}};
    const auto prompt = (*model)->encodeChat(chat);
    std::string replies[2];
    std::vector<qi::TokenId> tokens[2];
    const char* backends[2] = {"cpu", "cuda"};
    for (int i = 0; i < 2; ++i) {
        qi::SessionOptions so;
        so.backend = backends[i];
        so.maxContext = 512;
        auto session = qi::Session::create(*model, so);
        GPU_CHECK_MSG(session.has_value(), (session ? std::string() : session.error().message));
        GPU_CHECK((*session)->backendName() == backends[i]);
        GPU_CHECK((*session)->prefill(prompt).has_value());
        qi::Sampler greedySampler;
        qi::GenerateOptions go;
        go.maxTokens = 32;
        auto result = (*session)->generate(greedySampler, go);
        GPU_CHECK_MSG(result.has_value(), (result ? std::string() : result.error().message));
        replies[i] = result->text;
        tokens[i] = result->tokens;
    }
    std::printf("    cpu reply:  %s\n    cuda reply: %s\n", replies[0].c_str(), replies[1].c_str());
    GPU_CHECK_MSG(replies[1].find("Paris") != std::string::npos, "the cuda reply does not name Paris");
}
