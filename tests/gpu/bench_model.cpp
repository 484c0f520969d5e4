// BENCH gpu_decode_default: greedy decode tok/s of the default model (SmolLM2-135M-Instruct Q4_1) on
// the CUDA backend (one token per forward(): the captured decode graph plus the logits copied back to
// the host) against the CPU backend ("cpu", every hardware thread) decoding the same tokens in the same
// run. Also prints the roofline of the weights: quantized bytes read per token over the measured
// device-to-device copy bandwidth. The model is QUIRE_DEFAULT_MODEL, else
// ~/.local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf; without it (or a device) the bench exits
// 77 (skipped).
#include <stdlib.h> // setenv, unsetenv

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "quire/inference/backend.h"
#include "quire/inference/cuda/backend.h"
#include "quire/inference/gguf.h"
#include "quire/inference/model_weights.h"

namespace qi = quire::inference;
using namespace quire::gpubench;

namespace {

// Decodes `count` greedy tokens after `prompt`; returns tokens per second of the decode steps alone.
double decodeRate(qi::Runner& r, const std::vector<std::int32_t>& prompt, int count, int vocab)
{
    std::vector<float> logits(static_cast<std::size_t>(vocab));
    r.truncate(0);
    if (!r.forward(prompt, logits, false)) {
        std::fprintf(stderr, "prompt failed\n");
        std::exit(1);
    }
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
        const std::int32_t tok =
            static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        if (auto ok = r.forward(std::span(&tok, 1), logits, false); !ok) {
            std::fprintf(stderr, "decode failed: %s\n", ok.error().message.c_str());
            std::exit(1);
        }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return count / s;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main()
{
    requireDevice();
    std::filesystem::path path;
    if (const char* env = std::getenv("QUIRE_DEFAULT_MODEL"))
        path = env;
    else if (const char* home = std::getenv("HOME"))
        path = std::filesystem::path(home) / ".local/share/quire/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (path.empty() || !std::filesystem::exists(path)) {
        std::printf("no default model at '%s': benchmark skipped\n", path.c_str());
        return 77;
    }
    auto gguf = qi::GgufFile::open(path);
    if (!gguf) {
        std::fprintf(stderr, "%s\n", gguf.error().message.c_str());
        return 1;
    }
    auto weights = qi::loadLlamaWeights(std::make_shared<const qi::GgufFile>(std::move(*gguf)));
    if (!weights) {
        std::fprintf(stderr, "%s\n", weights.error().message.c_str());
        return 1;
    }
    const qi::ModelWeights& w = **weights;
    const int vocab = w.config.vocabSize;

    // Bytes of weights a decode step reads (the matrices in their stored formats).
    double weightBytes = static_cast<double>(w.output.rows) * static_cast<double>(w.output.rowBytes);
    for (const qi::LayerWeights& L : w.layers)
        for (const qi::TensorView* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.wGate, &L.wUp, &L.wDown})
            weightBytes += static_cast<double>(t->rows) * static_cast<double>(t->rowBytes);
    double copyGBs = 0;
    {
        const std::size_t bytes = std::size_t(1) << 30;
        void *src, *dst;
        cudaStream_t stream;
        check(cudaStreamCreate(&stream), "stream");
        check(cudaMalloc(&src, bytes), "cudaMalloc");
        check(cudaMalloc(&dst, bytes), "cudaMalloc");
        check(cudaMemset(src, 0x5a, bytes), "memset");
        const float ms = medianMs(
            [&] { check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream), "copy"); }, 2, 10,
            stream);
        copyGBs = 2.0 * bytes / (ms * 1e-3) / 1e9;
        cudaFree(src);
        cudaFree(dst);
        cudaStreamDestroy(stream);
    }

    const std::vector<std::int32_t> prompt = {1,    4093, 198, 1780, 314, 260, 3575, 282,
                                              4649, 47,   2,   198,  1,   520, 9531, 198};
    qi::RunnerOptions opt;
    opt.maxContext = 1024;
    setenv("QUIRE_CUDA_STEP_TIMES", "1", 1); // the runner reports the device time of its graph replays
    auto gpu = qi::cuda::cudaBackend()->createRunner(*weights, opt);
    if (!gpu) {
        std::fprintf(stderr, "cuda runner: %s\n", gpu.error().message.c_str());
        return 1;
    }
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    opt.threads = threads;
    auto cpu = qi::cpuBackend()->createRunner(*weights, opt);
    if (!cpu) {
        std::fprintf(stderr, "cpu runner: %s\n", cpu.error().message.c_str());
        return 1;
    }

    decodeRate(**gpu, prompt, 16, vocab); // warm-up: the eager step, the graph capture
    std::vector<double> gpuRates, cpuRates;
    for (int rep = 0; rep < 3; ++rep)
        gpuRates.push_back(decodeRate(**gpu, prompt, 256, vocab));
    gpu->reset(); // prints the device time per graph replay
    double eager = 0;
    {
        setenv("QUIRE_CUDA_NO_GRAPH", "1", 1);
        unsetenv("QUIRE_CUDA_STEP_TIMES");
        auto noGraph = qi::cuda::cudaBackend()->createRunner(*weights, opt);
        if (noGraph) {
            decodeRate(**noGraph, prompt, 16, vocab);
            eager = decodeRate(**noGraph, prompt, 256, vocab);
        }
        unsetenv("QUIRE_CUDA_NO_GRAPH");
    }
    decodeRate(**cpu, prompt, 4, vocab);
    for (int rep = 0; rep < 3; ++rep)
        cpuRates.push_back(decodeRate(**cpu, prompt, 32, vocab));
    const double ours = median(gpuRates), base = median(cpuRates);
    std::printf("# default model %s: %.1f MB of weights per decode step; at the copy bandwidth %.0f GB/s the "
                "weights alone allow %.0f tok/s\n",
                path.filename().c_str(), weightBytes / 1e6, copyGBs, copyGBs * 1e9 / weightBytes);
    std::printf("# gpu decode tok/s %.0f %.0f %.0f (eager, without the graph: %.0f); cpu (%d threads) %.1f "
                "%.1f %.1f\n",
                gpuRates[0], gpuRates[1], gpuRates[2], eager, threads, cpuRates[0], cpuRates[1], cpuRates[2]);
    std::printf(
        "BENCH gpu_decode_default ours=%.1f tok/s baseline=%.1f tok/s (CPU backend, %d threads, same run, "
        "same tokens) ratio=%.2f\n",
        ours, base, threads, ours / base);
    return 0;
}
