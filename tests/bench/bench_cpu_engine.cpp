// Quire's side of BENCH cpu_prefill / cpu_decode (tests/bench/bench_cpu_llama.sh runs it next to
// llama.cpp's llama-bench). Measured the way llama-bench measures: prefill = one batch of
// --prompt tokens into an empty cache; decode = --gen tokens one at a time from an empty cache;
// one warm-up, then the mean speed over --reps runs. Token ids are fixed pseudo-random ids.
//
//   bench_cpu_engine --model FILE.gguf [--threads 2] [--prompt 512] [--gen 128] [--reps 3]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_model.h"
#include "quire/inference/backend.h"
#include "quire/inference/gguf.h"

using namespace quire::inference;

namespace {

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

} // namespace

int main(int argc, char** argv)
{
    std::string model;
    int threads = 2, nPrompt = 512, nGen = 128, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--model")
            model = argv[i + 1];
        else if (a == "--threads")
            threads = std::atoi(argv[i + 1]);
        else if (a == "--prompt")
            nPrompt = std::atoi(argv[i + 1]);
        else if (a == "--gen")
            nGen = std::atoi(argv[i + 1]);
        else if (a == "--reps")
            reps = std::atoi(argv[i + 1]);
    }
    if (model.empty()) {
        std::fprintf(
            stderr,
            "usage: bench_cpu_engine --model FILE.gguf [--threads N] [--prompt N] [--gen N] [--reps N]\n");
        return 2;
    }
    const auto weights = quire::bench::loadGgufWeights(model);
    if (!weights)
        return 1;
    const int vocab = weights->config.vocabSize;
    const std::vector<std::int32_t> prompt = quire::bench::randomPrompt(static_cast<std::size_t>(nPrompt), vocab);
    RunnerOptions options;
    options.threads = threads;
    options.maxContext = std::max(nPrompt, nGen) + 1;
    auto runner = cpuBackend()->createRunner(weights, options);
    if (!runner) {
        std::fprintf(stderr, "%s\n", runner.error().message.c_str());
        return 1;
    }
    std::vector<float> logits(static_cast<std::size_t>(vocab));

    double prefillTotal = 0, decodeTotal = 0;
    for (int rep = -1; rep < reps; ++rep) { // rep -1: warm-up
        (*runner)->truncate(0);
        const auto t0 = std::chrono::steady_clock::now();
        if (auto ok = (*runner)->forward(prompt, logits, false); !ok) {
            std::fprintf(stderr, "%s\n", ok.error().message.c_str());
            return 1;
        }
        const auto t1 = std::chrono::steady_clock::now();
        (*runner)->truncate(0);
        const auto t2 = std::chrono::steady_clock::now();
        for (int i = 0; i < nGen; ++i) {
            const std::int32_t one[1] = {prompt[std::size_t(i % nPrompt)]};
            (void)(*runner)->forward(one, logits, false);
        }
        const auto t3 = std::chrono::steady_clock::now();
        if (rep >= 0) {
            prefillTotal += nPrompt / seconds(t0, t1);
            decodeTotal += nGen / seconds(t2, t3);
        }
    }
    std::printf("ours prefill_tok_s=%.2f (pp%d, %d threads)\n", prefillTotal / reps, nPrompt, threads);
    std::printf("ours decode_tok_s=%.2f (tg%d, %d threads)\n", decodeTotal / reps, nGen, threads);
    return 0;
}
