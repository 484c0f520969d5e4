#include "quire/app/budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>

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

void registerKvEstimator(inference::ModelArch arch, KvEstimator estimator)
{
    std::lock_guard lock(registryMutex());
    registry()[arch] = std::move(estimator);
}

int kvBytesPerElement(const std::string& backend)
{
    // The CPU engine keeps K and V in f32 (inference/src/cpu/llama_common.h); other backends
    // report theirs when they join (CUDA: bf16 or fp8).
    if (backend == "cuda")
        return 2;
    return 4;
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
    r.kv = estimateKv(input.config, r.neededTokens, input.kvBytesPerElement);
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
