// BENCH llama4_tiny_prefill_cpu / llama4_tiny_decode_cpu: tokens/s of the tiny Llama 4 model
// (tests/data/llama4/moe_chunked) on our fast CPU runner against transformers (f32, same
// threads) on the same tokens, run by bench_llama4_cpu.py in the same process tree.
//
// BENCH llama4_layer_prefill_cpu / llama4_layer_decode_cpu: ONE Scout-shaped layer with random
// weights at the real dimensions (hidden 5120, 40/8 heads of 128, 16 experts of 8192 plus the
// shared expert; RoPE + QK norm + chunked attention; int4 experts and shared expert, fp8
// attention, as the int4-fp8 load preset gives) and a 256-token head, the CPU baseline for the
// CUDA work:
//   prefill: 512 tokens into an empty cache; baseline = the layer's FLOPs per token at the dense
//            f32 matmul rate of this machine (torch.matmul 512x5120x8192, best of 1 and --threads
//            threads; our own f32 kernel when torch is missing);
//   decode:  one token at a time after the 512-token prefill; baseline = the memory roofline:
//            bytes the step touches (weights of attention, router, one expert, the shared expert,
//            the head, and the KV read) / measured memcpy bandwidth (read + write bytes per s).
//
//   bench_llama4_cpu [--threads 2] [--python python3] [--skip-tiny] [--skip-layer] [--decode 32]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cpu/llama4_kernels.h"
#include "cpu/llama4_runner.h"
#include "llama4_formats.h"
#include "llama4_load.h"
#include "quire/inference/backend.h"
#include "quire/inference/llama4.h"
#include "quire/inference/safetensors.h"

using namespace quire::inference;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

// CPU seconds used by this process so far (all threads): with wall time, how busy the threads
// were (the machine may be shared).
double cpuSeconds()
{
    return double(std::clock()) / CLOCKS_PER_SEC;
}

// Runs a baseline command; returns its standard output ("" when it failed).
std::string runPython(const std::string& cmd)
{
    FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
    std::string out;
    char line[1024];
    while (p && std::fgets(line, sizeof line, p))
        out += line;
    if (!p || ::pclose(p) != 0)
        return {};
    return out;
}

// The number after `key` in `text`, or NaN.
double valueOf(const std::string& text, const char* key)
{
    const auto at = text.find(key);
    return at == std::string::npos ? NAN : std::atof(text.c_str() + at + std::strlen(key));
}

std::unique_ptr<Runner> makeRunner(const std::shared_ptr<const ModelWeights>& w, int threads, int maxContext)
{
    RunnerOptions o;
    o.threads = threads;
    o.maxContext = maxContext;
    auto r = cpuBackend()->createRunner(w, o);
    if (!r) {
        std::fprintf(stderr, "bench_llama4_cpu: %s\n", r.error().message.c_str());
        std::exit(1);
    }
    return std::move(*r);
}

// ---- tiny model ----

void benchTiny(int threads, const std::string& python)
{
    const std::string dir = QUIRE_SOURCE_DIR "/tests/data/llama4/moe_chunked";
    auto w = loadLlama4ModelWeights(dir);
    auto ref = SafetensorsFile::open(dir + "/reference.safetensors");
    if (!w || !ref) {
        std::fprintf(stderr, "bench_llama4_cpu: cannot load the tiny model\n");
        std::exit(1);
    }
    const SafeTensor* ids = ref->tensor("input_ids");
    std::vector<std::int32_t> tokens;
    for (std::int64_t i = 0; i < ids->elements(); ++i) {
        std::int64_t v;
        std::memcpy(&v, ids->data.data() + 8 * i, 8);
        tokens.push_back(std::int32_t(v));
    }
    const int prefix = 16, steps = 64, T = int(tokens.size());
    auto runner = makeRunner(*w, threads, T);
    std::vector<float> logits(std::size_t((*w)->config.vocabSize));
    double prefill = INFINITY, decode = INFINITY;
    for (int rep = 0; rep < 6; ++rep) { // the first is a warm-up
        runner->truncate(0);
        const auto t0 = Clock::now();
        (void)runner->forward(tokens, logits, false);
        if (rep > 0)
            prefill = std::min(prefill, seconds(t0, Clock::now()));
        runner->truncate(prefix);
        const auto t1 = Clock::now();
        for (int t = prefix; t < prefix + steps; ++t)
            (void)runner->forward(std::span(tokens).subspan(std::size_t(t), 1), logits, false);
        if (rep > 0)
            decode = std::min(decode, seconds(t1, Clock::now()));
    }
    const double oursPrefill = T / prefill, oursDecode = steps / decode;
    std::printf("tiny model: prefill %d tokens %.2f ms, decode %d steps %.2f ms\n", T, prefill * 1e3, steps,
                decode * 1e3);
    const std::string cmd = python + " '" QUIRE_SOURCE_DIR "/tests/bench/bench_llama4_cpu.py' tiny '" + dir +
                            "' " + std::to_string(threads) + " " + std::to_string(prefix) + " " +
                            std::to_string(steps);
    const std::string out = runPython(cmd);
    const double basePrefill = valueOf(out, "prefill_tok_s=");
    const double baseDecode = valueOf(out, "decode_tok_s=");
    if (std::isnan(basePrefill) || std::isnan(baseDecode)) {
        std::printf(
            "SKIP: the transformers baseline did not run (pip install torch transformers); ours: prefill "
            "%.1f tok/s, decode %.1f tok/s\n",
            oursPrefill, oursDecode);
        return;
    }
    std::printf(
        "BENCH llama4_tiny_prefill_cpu ours=%.1f tok/s baseline=%.1f tok/s (transformers 5 f32 on the same "
        "%d-token prompt; ours %d threads, torch best of 1 and %d) ratio=%.2f\n",
        oursPrefill, basePrefill, T, threads, threads, oursPrefill / basePrefill);
    std::printf(
        "BENCH llama4_tiny_decode_cpu ours=%.1f tok/s baseline=%.1f tok/s (transformers 5 f32 with KV cache, "
        "%d steps after %d tokens; ours %d threads, torch best of 1 and %d) ratio=%.2f\n",
        oursDecode, baseDecode, steps, prefix, threads, threads, oursDecode / baseDecode);
}

// ---- one Scout-shaped layer ----

struct Rng {
    std::uint64_t s;
    float uniform() // [-1, 1)
    {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return float(std::int64_t(s >> 11) - (std::int64_t(1) << 52)) / float(std::int64_t(1) << 52);
    }
};

// Random rows (uniform, |w| <= scale) encoded in `format`; the buffer goes to w.owned.
WeightMatrix randomMatrix(Llama4Weights& w, std::string name, WeightFormat format, std::int64_t rows,
                          std::int64_t cols, float scale, std::uint64_t seed, int threads)
{
    WeightMatrix m;
    m.name = std::move(name);
    m.format = format;
    m.rows = rows;
    m.cols = cols;
    m.groupSize = format == WeightFormat::Int4 ? 128 : 0;
    m.rowBytes = weightRowBytes(format, cols, 128);
    std::unique_ptr<std::byte[]> buffer(new std::byte[m.rowBytes * std::size_t(rows)]);
    m.data = buffer.get();
    std::byte* out = buffer.get();
    w.owned.push_back(std::move(buffer));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            std::vector<float> row(static_cast<std::size_t>(cols));
            for (std::int64_t r = t; r < rows; r += threads) {
                Rng rng{seed * 0x9E3779B97F4A7C15ull + std::uint64_t(r) * 0xD1B54A32D192ED03ull + 1};
                for (float& x : row)
                    x = scale * rng.uniform();
                l4::encodeRow(format, row.data(), out + std::size_t(r) * m.rowBytes, cols, 128);
            }
        });
    for (auto& th : pool)
        th.join();
    return m;
}

std::shared_ptr<const Llama4Weights> scoutLayer(int threads)
{
    auto w = std::make_shared<Llama4Weights>();
    Llama4Config& c = w->llama4;
    c.nLayers = 1;
    c.dim = 5120;
    c.nHeads = 40;
    c.nKvHeads = 8;
    c.headDim = 128;
    c.vocabSize = 256;
    c.contextLength = 10485760;
    c.expertDim = 8192;
    c.denseDim = 16384;
    c.nExperts = 16;
    c.expertsPerToken = 1;
    c.ropeScaling = RopeScaling{RopeScaling::Type::Llama3, 16.0f, 1.0f, 1.0f, 8192};
    c.chunkSize = 8192;
    c.useRope = {1};
    c.moe = {1};
    c.chunked = {1};
    w->sourceDescription = "random Scout-shaped layer";
    w->quantization = *Llama4Quantization::preset("int4-fp8");
    const std::int64_t D = c.dim, Q = c.qDim(), KV = c.kvDim(), I = c.expertDim;
    const float s = 0.02f;
    std::uint64_t seed = 1;
    w->embedding = randomMatrix(*w, "embedding", WeightFormat::F32, c.vocabSize, D, 1.0f, seed++, threads);
    w->lmHead = randomMatrix(*w, "lm_head", WeightFormat::Fp8E4M3, c.vocabSize, D, s, seed++, threads);
    w->outputNorm.assign(std::size_t(D), 1.0f);
    Llama4Layer L;
    L.attnNorm.assign(std::size_t(D), 1.0f);
    L.ffnNorm.assign(std::size_t(D), 1.0f);
    L.wq = randomMatrix(*w, "wq", WeightFormat::Fp8E4M3, Q, D, s, seed++, threads);
    L.wk = randomMatrix(*w, "wk", WeightFormat::Fp8E4M3, KV, D, s, seed++, threads);
    L.wv = randomMatrix(*w, "wv", WeightFormat::Fp8E4M3, KV, D, s, seed++, threads);
    L.wo = randomMatrix(*w, "wo", WeightFormat::Fp8E4M3, D, Q, s, seed++, threads);
    Rng rng{42};
    L.router.resize(std::size_t(c.nExperts * D));
    for (float& x : L.router)
        x = s * rng.uniform();
    for (int e = 0; e < c.nExperts; ++e) {
        L.expertGate.push_back(randomMatrix(*w, "gate", WeightFormat::Int4, I, D, s, seed++, threads));
        L.expertUp.push_back(randomMatrix(*w, "up", WeightFormat::Int4, I, D, s, seed++, threads));
        L.expertDown.push_back(randomMatrix(*w, "down", WeightFormat::Int4, D, I, s, seed++, threads));
    }
    L.sharedGate = randomMatrix(*w, "shared gate", WeightFormat::Int4, I, D, s, seed++, threads);
    L.sharedUp = randomMatrix(*w, "shared up", WeightFormat::Int4, I, D, s, seed++, threads);
    L.sharedDown = randomMatrix(*w, "shared down", WeightFormat::Int4, D, I, s, seed++, threads);
    w->blocks.push_back(std::move(L));
    if (auto ok = l4::finishWeights(*w); !ok) {
        std::fprintf(stderr, "bench_llama4_cpu: %s\n", ok.error().message.c_str());
        std::exit(1);
    }
    return w;
}

// Bytes per second of memcpy over `threads` threads on buffers far larger than the caches,
// counting the bytes read and written.
double memcpyBandwidth(int threads)
{
    const std::size_t n = std::size_t(512) << 20;
    std::vector<char> a(n, 1), b(n, 2);
    double best = INFINITY;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const std::size_t chunk = n / std::size_t(threads);
                std::memcpy(b.data() + chunk * std::size_t(t), a.data() + chunk * std::size_t(t), chunk);
            });
        for (auto& th : pool)
            th.join();
        best = std::min(best, seconds(t0, Clock::now()));
    }
    return 2.0 * double(n) / best;
}

// GFLOP/s of our own f32 kernel on [M x K] x [K x N] (the fallback prefill baseline).
double ownF32Gflops(int threads)
{
    const int M = 512, K = 5120, N = 2048;
    std::vector<float> w(std::size_t(N) * K), x(std::size_t(M) * K), out(std::size_t(M) * N);
    Rng rng{7};
    for (float& v : w)
        v = rng.uniform();
    for (float& v : x)
        v = rng.uniform();
    WeightMatrix m;
    m.format = WeightFormat::F32;
    m.rows = N;
    m.cols = K;
    m.rowBytes = std::size_t(K) * 4;
    m.data = reinterpret_cast<const std::byte*>(w.data());
    const auto& k = cpu::llama4BestKernels();
    double best = INFINITY;
    for (int rep = 0; rep < 3; ++rep) {
        const auto t0 = Clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                std::vector<float> scratch;
                const std::int64_t r0 = std::int64_t(N) * t / threads,
                                   r1 = std::int64_t(N) * (t + 1) / threads;
                cpu::llama4MatmulRows(k, m, x.data(), std::size_t(K), M, out.data(), std::size_t(N), r0, r1,
                                      false, scratch);
            });
        for (auto& th : pool)
            th.join();
        best = std::min(best, seconds(t0, Clock::now()));
    }
    return 2.0 * M * K * N / best / 1e9;
}

void benchLayer(int threads, const std::string& python, int decodeSteps)
{
    const auto t0 = Clock::now();
    const auto w = scoutLayer(threads);
    std::uint64_t weightBytes = 0;
    const Llama4Layer& L = w->blocks[0];
    for (const WeightMatrix* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.sharedGate, &L.sharedUp, &L.sharedDown})
        weightBytes += m->bytes();
    std::uint64_t expertBytes = 0;
    for (int e = 0; e < w->llama4.nExperts; ++e)
        expertBytes += L.expertGate[std::size_t(e)].bytes() + L.expertUp[std::size_t(e)].bytes() +
                       L.expertDown[std::size_t(e)].bytes();
    std::printf("Scout layer: %.2f GB of weights (experts %.2f GB int4, group 128), built in %.1f s\n",
                double(weightBytes + expertBytes) / 1e9, double(expertBytes) / 1e9,
                seconds(t0, Clock::now()));

    const int T = 512;
    std::vector<std::int32_t> tokens(std::size_t(T + decodeSteps));
    for (std::size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = std::int32_t((i * 2654435761u) % 256);
    auto runner = makeRunner(w, threads, T + decodeSteps);
    std::vector<float> logits(256);
    double prefill = INFINITY, decode = INFINITY;
    for (int rep = 0; rep < 3; ++rep) { // the first is a warm-up
        runner->truncate(0);
        const auto a = Clock::now();
        const double ca = cpuSeconds();
        (void)runner->forward(std::span(tokens).first(T), logits, false);
        const auto b = Clock::now();
        const double cb = cpuSeconds();
        for (int t = T; t < T + decodeSteps; ++t)
            (void)runner->forward(std::span(tokens).subspan(std::size_t(t), 1), logits, false);
        const auto c = Clock::now();
        const double cc = cpuSeconds();
        if (rep > 0) {
            prefill = std::min(prefill, seconds(a, b));
            decode = std::min(decode, seconds(b, c));
        }
        std::printf("  rep %d: prefill %d tokens %.2f s (%.2f CPU s), decode %d tokens %.2f s (%.2f CPU s)\n",
                    rep, T, seconds(a, b), cb - ca, decodeSteps, seconds(b, c), cc - cb);
    }
    const double oursPrefill = T / prefill, oursDecode = decodeSteps / decode;

    // Prefill baseline: the layer's FLOPs per token at the dense f32 matmul rate.
    const Llama4Config& c = w->llama4;
    const double D = c.dim, Q = c.qDim(), KV = c.kvDim(), I = c.expertDim;
    const double projFlops = 2.0 * (Q * D + 2 * KV * D + D * Q) + 2.0 * c.nExperts * D + 2.0 * 2 * 3 * I * D;
    const double attnFlops = 2.0 * 2 * Q * (T + 1) / 2.0; // scores and values over the causal average
    const double flopsPerToken = projFlops + attnFlops + 2.0 * 256 * D;
    double gflops = valueOf(
        runPython(python + " '" QUIRE_SOURCE_DIR "/tests/bench/bench_llama4_cpu.py' gemm 512 5120 8192 " +
                  std::to_string(threads)),
        "gemm_gflops=");
    std::string gemmName =
        "torch.matmul f32 512x5120x8192, best of 1 and " + std::to_string(threads) + " threads";
    if (std::isnan(gflops)) {
        gflops = ownF32Gflops(threads);
        gemmName = "our f32 kernel 512x5120x2048 (torch missing)";
    }
    const double basePrefill = gflops * 1e9 / flopsPerToken;
    std::printf("prefill: %.3f GFLOP per token, ours %.1f GFLOP/s, %s %.1f GFLOP/s\n", flopsPerToken / 1e9,
                oursPrefill * flopsPerToken / 1e9, gemmName.c_str(), gflops);
    std::printf(
        "BENCH llama4_layer_prefill_cpu ours=%.2f tok/s baseline=%.2f tok/s (%s = %.1f GFLOP/s over the "
        "layer's %.3f GFLOP/token, int4 experts + fp8 attention, %d tokens, %d threads) ratio=%.2f\n",
        oursPrefill, basePrefill, gemmName.c_str(), gflops, flopsPerToken / 1e9, T, threads,
        oursPrefill / basePrefill);

    // Decode baseline: bytes touched per step / memcpy bandwidth.
    const double avgExpert = double(expertBytes) / c.nExperts;
    const double kvRead = 2.0 * KV * 4 * (T + decodeSteps / 2.0);
    const double stepBytes =
        double(L.wq.bytes() + L.wk.bytes() + L.wv.bytes() + L.wo.bytes() + L.sharedGate.bytes() +
               L.sharedUp.bytes() + L.sharedDown.bytes() + w->lmHead.bytes()) +
        avgExpert + double(L.router.size()) * 4 + kvRead;
    const double bandwidth = memcpyBandwidth(threads);
    const double baseDecode = bandwidth / stepBytes;
    std::printf(
        "decode: %.1f MB touched per token, memcpy %.1f GB/s (read + write), ours %.1f GB/s effective\n",
        stepBytes / 1e6, bandwidth / 1e9, oursDecode * stepBytes / 1e9);
    std::printf(
        "BENCH llama4_layer_decode_cpu ours=%.2f tok/s baseline=%.2f tok/s (memory roofline: %.1f MB of "
        "weights and KV per token / %.1f GB/s memcpy, after %d tokens, %d threads) ratio=%.2f\n",
        oursDecode, baseDecode, stepBytes / 1e6, bandwidth / 1e9, T, threads, oursDecode / baseDecode);
}

} // namespace

int main(int argc, char** argv)
{
    int threads = 2, decodeSteps = 32;
    std::string python = "python3";
    bool tiny = true, layer = true;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--skip-tiny")
            tiny = false;
        else if (a == "--skip-layer")
            layer = false;
        else if (i + 1 < argc && a == "--threads")
            threads = std::max(1, std::atoi(argv[++i]));
        else if (i + 1 < argc && a == "--python")
            python = argv[++i];
        else if (i + 1 < argc && a == "--decode")
            decodeSteps = std::max(1, std::atoi(argv[++i]));
    }
    std::printf("kernels: %s, %d threads\n", cpu::llama4BestKernels().name, threads);
    if (tiny)
        benchTiny(threads, python);
    if (layer)
        benchLayer(threads, python, decodeSteps);
    return 0;
}
