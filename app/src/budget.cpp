#include "quire/app/budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

#include "quire/inference/backend.h"
#include "quire/inference/llama4_memory.h"

namespace quire::app {

namespace {

std::mutex& registryMutex()
{
    static std::mutex m;
    return m;
}

std::map<inference::ModelArch, KvEstimator>& registry()
{
    static std::map<inference::ModelArch, KvEstimator> r;
    return r;
}

} // namespace

KvEstimate denseKvEstimate(const inference::ModelConfig& c, std::int64_t tokens, int bytesPerElement)
{
    KvEstimate e;
    e.bytesPerToken = std::int64_t(c.nLayers) * c.nKvHeads * c.headDim * 2 * bytesPerElement;
    e.totalBytes = e.bytesPerToken * std::max<std::int64_t>(0, tokens);
    e.formula = std::to_string(c.nLayers) + " layers x " + std::to_string(c.nKvHeads) + " kv heads x " +
                std::to_string(c.headDim) + " head dim x 2 (K,V) x " + std::to_string(bytesPerElement) +
                " bytes = " + std::to_string(e.bytesPerToken) + " bytes/token";
    return e;
}

KvEstimate estimateKv(const inference::ModelConfig& config, std::int64_t tokens, int bytesPerElement)
{
    KvEstimator custom;
    {
        std::lock_guard lock(registryMutex());
        auto it = registry().find(config.arch);
        if (it != registry().end())
            custom = it->second;
    }
    return custom ? custom(config, tokens, bytesPerElement)
                  : denseKvEstimate(config, tokens, bytesPerElement);
}

KvEstimate llama4KvEstimate(const inference::Llama4Config& config, std::int64_t tokens, int bytesPerElement,
                            int chunkedBytesPerElement)
{
    inference::Llama4MemoryOptions o;
    o.contextLength = std::max<std::int64_t>(0, tokens);
    o.kvElementBytes = bytesPerElement;
    o.chunkedKvElementBytes = chunkedBytesPerElement;
    const auto m = inference::estimateLlama4Memory(config, inference::Llama4Quantization{}, o);
    KvEstimate e;
    e.totalBytes = std::int64_t(m.kvBytes);
    e.bytesPerToken = tokens > 0 ? std::int64_t(m.kvBytes / std::uint64_t(tokens)) : std::int64_t(m.kvBytesPerTokenGlobal);
    e.formula = std::to_string(m.globalLayers) + " global layers x " + std::to_string(m.kvBytesPerTokenGlobal) +
                " bytes/token for every token + " + std::to_string(m.chunkedLayers) + " chunked layers x " +
                std::to_string(m.kvBytesPerTokenChunked) + " bytes/token for at most " +
                std::to_string(config.chunkSize > 0 ? config.chunkSize : 0) + " tokens (one chunk)";
    return e;
}

std::optional<inference::Llama4Config> llama4ConfigOf(const inference::ModelWeights& weights)
{
    if (weights.config.arch != inference::ModelArch::Llama4)
        return std::nullopt;
    // Only the Llama 4 loaders create weights of this architecture, always as Llama4Weights.
    return static_cast<const inference::Llama4Weights&>(weights).llama4;
}

void registerKvEstimator(inference::ModelArch arch, KvEstimator estimator)
{
    std::lock_guard lock(registryMutex());
    registry()[arch] = std::move(estimator);
}

int kvBytesPerElement(const std::string& backend, const std::string& kvDtype)
{
    if (const auto dtype = inference::parseKvDtype(kvDtype))
        return int(inference::kvDtypeBytes(*dtype));
    // The backends' defaults (RunnerOptions::kvDtype): f32 on the CPU, bf16 on CUDA.
    if (backend == "cuda")
        return 2;
    return 4;
}

Llama4KvBytes llama4KvBytesPerElement(const std::string& backend, const std::string& kvDtype)
{
    if (backend != "cuda") {
        const int b = kvBytesPerElement(backend, kvDtype);
        return {b, b};
    }
    // The CUDA runner (llama4_cuda.cpp): global pages fp8 for "auto" (for the head dims and groups its fp8
    // kernels serve, Scout's among them) and "fp8", bf16 for "bf16"; the ring bf16. Other dtypes it
    // refuses; the estimate then follows the dtype named.
    const auto dtype = inference::parseKvDtype(kvDtype);
    if (!dtype || *dtype == inference::KvDtype::Fp8E4M3)
        return {1, 2};
    if (*dtype == inference::KvDtype::BF16)
        return {2, 2};
    const int b = int(inference::kvDtypeBytes(*dtype));
    return {b, b};
}

std::int64_t estimateTokens(std::int64_t textBytes)
{
    return (std::max<std::int64_t>(0, textBytes) + 3) / 4;
}

BudgetReport computeBudget(BudgetInput input)
{
    BudgetReport r;
    r.contextTokens = input.promptTokens;
    r.allExact = true;
    for (auto& s : input.sources) {
        if (!s.inContext)
            continue;
        r.contextTokens += s.tokens();
        if (!s.exactTokens)
            r.allExact = false;
    }
    r.neededTokens = r.contextTokens + input.reserveTokens;
    r.fits = input.contextWindow > 0 && r.neededTokens <= input.contextWindow;
    r.overBy = r.fits ? 0 : r.neededTokens - input.contextWindow;
    r.kv = input.llama4 ? llama4KvEstimate(*input.llama4, r.neededTokens, input.kvBytesPerElement,
                                           input.chunkedKvBytesPerElement)
                        : estimateKv(input.config, r.neededTokens, input.kvBytesPerElement);
    if (input.prefillTokensPerSecond && *input.prefillTokensPerSecond > 0)
        r.prefillSeconds = double(r.contextTokens) / *input.prefillTokensPerSecond;
    if (!r.fits && input.contextWindow > 0) {
        // Largest documents first until the overflow is covered.
        std::vector<const SourceBudget*> in;
        for (const auto& s : input.sources) {
            if (s.inContext)
                in.push_back(&s);
        }
        std::stable_sort(in.begin(), in.end(), [](auto* a, auto* b) { return a->tokens() > b->tokens(); });
        std::int64_t freed = 0;
        for (const auto* s : in) {
            if (freed >= r.overBy)
                break;
            r.suggestExclude.push_back(s->number);
            freed += s->tokens();
        }
        if (freed < r.overBy)
            r.suggestExclude.clear(); // even without every document it would not fit
    }
    r.input = std::move(input);
    return r;
}

std::string formatBytes(std::int64_t bytes)
{
    char buf[48];
    const double b = double(bytes);
    if (b >= double(1LL << 30))
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / double(1LL << 30));
    else if (b >= double(1 << 20))
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / double(1 << 20));
    else if (b >= 1024)
        std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024);
    else
        std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
    return buf;
}

std::string formatDuration(double seconds)
{
    char buf[48];
    if (seconds < 60)
        std::snprintf(buf, sizeof buf, "%.1f s", seconds);
    else if (seconds < 3600)
        std::snprintf(buf, sizeof buf, "%d min %02d s", int(seconds) / 60, int(seconds) % 60);
    else
        std::snprintf(buf, sizeof buf, "%d h %02d min", int(seconds) / 3600, (int(seconds) / 60) % 60);
    return buf;
}

} // namespace quire::app
