// `quire-cli logits`: the f32 logits of every position of a token sequence, so any reference
// (transformers, llama.cpp) can be compared with the engine without writing code.
#include <QFile>
#include <QStringList>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "commands.h"
#include "quire/inference/backend.h"
#include "quire/inference/gguf.h"
#include "quire/inference/llama4.h"
#include "quire/inference/model_weights.h"

namespace quire::cli {

namespace {

constexpr const char* kUsage =
    "Usage: quire-cli logits --model PATH --tokens ID,ID,... [options]\n"
    "Runs the model over the tokens (positions 0..T-1) and writes the logits of every position:\n"
    "a header line `shape T V`, then T lines of V numbers; or, with --out, T*V little-endian f32\n"
    "to FILE (row t = the distribution after token t) and only the header on stdout.\n"
    "  --model PATH      GGUF file or Hugging Face folder (dense Llama family or Llama 4)\n"
    "  --tokens LIST     comma-separated token ids\n"
    "  --out FILE        raw little-endian f32 output\n"
    "  --backend NAME    cpu (default), cpu-reference, or another registered backend\n"
    "  --threads N       CPU threads (default: all cores)\n"
    "  --prefill N       feed the first N tokens at once, then one token per step (decode path)\n"
    "  --quant PRESET    Llama 4 quantization on load: none (default), int4-fp8, int4-int8, int8, fp8\n";

int usage(const char* what)
{
    std::fprintf(stderr, "quire-cli logits: %s\n%s", what, kUsage);
    return Usage;
}

int fail(const std::string& message)
{
    std::fprintf(stderr, "quire-cli logits: %s\n", message.c_str());
    return Failure;
}

std::expected<std::shared_ptr<const inference::ModelWeights>, inference::Error>
loadWeights(const std::string& path, const inference::Llama4LoadOptions& llama4)
{
    namespace inf = quire::inference;
    if (inf::isLlama4Model(path))
        return inf::loadLlama4ModelWeights(path, llama4);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return inf::loadLlamaWeightsHf(path);
    auto file = inf::GgufFile::open(path);
    if (!file)
        return std::unexpected(file.error());
    return inf::loadLlamaWeights(std::make_shared<const inf::GgufFile>(std::move(*file)));
}

} // namespace

int cmdLogits(const QStringList& args)
{
    if (args.contains("--help")) {
        std::fputs(kUsage, stdout);
        return Ok;
    }
    QString modelPath, outPath, tokenList, backend = "cpu", quant = "none";
    int threads = 0, prefill = -1;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        if (i + 1 >= args.size())
            return usage(qPrintable("missing value for " + a));
        bool ok = true;
        if (a == "--model")
            modelPath = args[++i];
        else if (a == "--tokens")
            tokenList = args[++i];
        else if (a == "--out")
            outPath = args[++i];
        else if (a == "--backend")
            backend = args[++i];
        else if (a == "--quant")
            quant = args[++i];
        else if (a == "--threads")
            threads = args[++i].toInt(&ok);
        else if (a == "--prefill")
            prefill = args[++i].toInt(&ok);
        else
            return usage(qPrintable("unknown option " + a));
        if (!ok)
            return usage(qPrintable("bad value for " + a));
    }
    if (modelPath.isEmpty() || tokenList.isEmpty())
        return usage("--model and --tokens are required");
    std::vector<std::int32_t> tokens;
    for (const QString& part : tokenList.split(',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const int id = part.trimmed().toInt(&ok);
        if (!ok || id < 0)
            return usage(qPrintable("not a token id: " + part));
        tokens.push_back(id);
    }
    if (tokens.empty())
        return usage("no tokens");

    inference::Llama4LoadOptions llama4;
    auto preset = inference::Llama4Quantization::preset(quant.toStdString());
    if (!preset)
        return fail(preset.error().message);
    llama4.quantization = *preset;
    auto weights = loadWeights(modelPath.toStdString(), llama4);
    if (!weights)
        return fail(weights.error().message);
    auto be = inference::findBackend(backend.toStdString());
    if (!be)
        return fail(be.error().message);
    inference::RunnerOptions ro;
    ro.threads = threads;
    ro.maxContext = int(tokens.size());
    auto runner = (*be)->createRunner(*weights, ro);
    if (!runner)
        return fail(runner.error().message);

    const std::size_t T = tokens.size(), V = std::size_t((*weights)->config.vocabSize);
    std::vector<float> logits(T * V);
    const std::size_t first = prefill < 0 ? T : std::clamp<std::size_t>(std::size_t(prefill), 1, T);
    if (auto ok =
            (*runner)->forward(std::span(tokens).first(first), std::span(logits).first(first * V), true);
        !ok)
        return fail(ok.error().message);
    for (std::size_t t = first; t < T; ++t)
        if (auto ok = (*runner)->forward(std::span(tokens).subspan(t, 1), std::span(logits).subspan(t * V, V),
                                         false);
            !ok)
            return fail(ok.error().message);

    std::printf("shape %zu %zu\n", T, V);
    if (!outPath.isEmpty()) {
        QFile out(outPath);
        if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return fail("cannot write " + outPath.toStdString() + ": " + out.errorString().toStdString());
        static_assert(std::endian::native == std::endian::little, "raw output is little-endian f32");
        const auto bytes = qint64(logits.size() * sizeof(float));
        if (out.write(reinterpret_cast<const char*>(logits.data()), bytes) != bytes)
            return fail("cannot write " + outPath.toStdString() + ": " + out.errorString().toStdString());
        return Ok;
    }
    std::string line;
    for (std::size_t t = 0; t < T; ++t) {
        line.clear();
        char buf[32];
        for (std::size_t v = 0; v < V; ++v) {
            std::snprintf(buf, sizeof buf, v ? " %.9g" : "%.9g", double(logits[t * V + v]));
            line += buf;
        }
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
    }
    return Ok;
}

} // namespace quire::cli
