// BENCH kv_f16_decode: decode speed of the CPU engine on the default model at a long context with
// its KV cache in f16 against the same engine with the f32 cache, in the same run. Both runners
// get the same 4096-token context through appendUncomputed + writeKv (pseudo-random K/V values,
// rounded to f16 for the f16 runner) rather than a prefill: prefilling 4096 tokens twice takes
// minutes on 2 cores, and a decode step's cost does not depend on the cached values. Then,
// alternating between them, each decodes 64 tokens and rolls back to 4096, five times; the median
// of the five rates is reported. ours = f16 tokens/s, baseline = f32 tokens/s,
// ratio = ours / baseline (= f32 time / f16 time). Skips (prints SKIP, exits 0) without
// QUIRE_DEFAULT_MODEL.
//
//   bench_kv_dtype [--context 4096] [--gen 64] [--threads 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bench_model.h"
#include "quire/inference/backend.h"
#include "quire/inference/gguf.h"
#include "quire/inference/quant.h"

using namespace quire::inference;

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

// Gives `r` the context `tokens` with pseudo-random K/V rows (normal-ish, unit scale) in its dtype.
std::expected<void, Error> fillContext(Runner& r, std::span<const std::int32_t> tokens)
{
    if (auto ok = r.appendUncomputed(tokens); !ok)
        return ok;
    const KvLayout l = *r.kvLayout();
    const std::size_t n = tokens.size() * std::size_t(l.kvDim());
    std::vector<float> f(n);
    std::vector<std::uint16_t> h(l.dtype == KvDtype::F32 ? 0 : n);
    std::vector<std::byte> k; // the layer's K rows, written with its V rows
    std::uint32_t state = 777;
    for (int layer = 0; layer < l.nLayers; ++layer)
        for (int side = 0; side < 2; ++side) {
            for (float& x : f) { // sum of 4 uniforms: roughly normal, unit variance
                float s = 0;
                for (int i = 0; i < 4; ++i) {
                    state = state * 1664525u + 1013904223u;
                    s += float(state >> 8) / float(1 << 24) - 0.5f;
                }
                x = s * 1.73f;
            }
            std::span<const std::byte> bytes = std::as_bytes(std::span(f));
            if (!h.empty()) {
                for (std::size_t i = 0; i < n; ++i)
                    h[i] = fp32ToFp16(f[i]);
                bytes = std::as_bytes(std::span(h));
            }
            if (side == 0) {
                k.assign(bytes.begin(), bytes.end());
                continue;
            }
            if (auto ok = r.writeKv(layer, 0, int(tokens.size()), k, bytes); !ok)
                return ok;
        }
    return {};
}

} // namespace

int main(int argc, char** argv)
{
    int context = 4096, gen = 64, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--context")
            context = std::atoi(argv[i + 1]);
        else if (a == "--gen")
            gen = std::atoi(argv[i + 1]);
        else if (a == "--threads")
            threads = std::atoi(argv[i + 1]);
    }
    const char* path = std::getenv("QUIRE_DEFAULT_MODEL");
    if (!path || !std::filesystem::exists(path)) {
        std::printf("SKIP: QUIRE_DEFAULT_MODEL not set or missing\n");
        return 0;
    }
    const auto weights = quire::bench::loadGgufWeights(path);
    if (!weights)
        return 1;
    const int vocab = weights->config.vocabSize;
    const std::vector<std::int32_t> prompt = quire::bench::randomPrompt(static_cast<std::size_t>(context), vocab);

    struct Arm {
        KvDtype dtype;
        std::unique_ptr<Runner> runner;
        std::vector<double> rates;
        double fill = 0;
    };
    std::vector<Arm> arms(2);
    arms[0].dtype = KvDtype::F32;
    arms[1].dtype = KvDtype::F16;
    std::vector<float> logits(static_cast<std::size_t>(vocab));
    for (Arm& arm : arms) {
        RunnerOptions o;
        o.threads = threads;
        o.maxContext = context + gen;
        o.kvDtype = arm.dtype;
        auto r = cpuBackend()->createRunner(weights, o);
        if (!r) {
            std::fprintf(stderr, "%s\n", r.error().message.c_str());
            return 1;
        }
        arm.runner = std::move(*r);
        const auto t0 = Clock::now();
        if (auto ok = fillContext(*arm.runner, prompt); !ok) {
            std::fprintf(stderr, "%s\n", ok.error().message.c_str());
            return 1;
        }
        arm.fill = seconds(t0, Clock::now());
    }
    for (int rep = 0; rep < 5; ++rep)
        for (Arm& arm : arms) {
            const auto t0 = Clock::now();
            for (int i = 0; i < gen; ++i) {
                const std::int32_t one[1] = {prompt[std::size_t(i)]};
                (void)arm.runner->forward(one, logits, false);
            }
            arm.rates.push_back(gen / seconds(t0, Clock::now()));
            arm.runner->truncate(context);
        }
    auto median = [](std::vector<double> v) {
        std::ranges::sort(v);
        return v[v.size() / 2];
    };
    for (const Arm& arm : arms) {
        const KvLayout l = *arm.runner->kvLayout();
        std::printf("%s KV: cache %.1f MiB at %d tokens (written in %.2f s), decode tok/s:",
                    toString(arm.dtype).data(),
                    double(l.rowBytes()) * 2 * l.nLayers * (context + gen) / (1024.0 * 1024.0), context + gen,
                    arm.fill);
        for (const double r : arm.rates)
            std::printf(" %.2f", r);
        std::printf("\n");
    }
    const double f32 = median(arms[0].rates), f16 = median(arms[1].rates);
    std::printf(
        "BENCH kv_f16_decode ours=%.2f tok/s baseline=%.2f tok/s (f32 KV cache, same model and runner, "
        "%d-token context, %d threads, same run) ratio=%.3f\n",
        f16, f32, context, threads, f16 / f32);
    return 0;
}
