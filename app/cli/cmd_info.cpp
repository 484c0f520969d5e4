// `quire-cli info`: the version, data folders and compute devices; with --model, the GPU memory
// plan of a Llama 4 model (weights, KV per token, working memory, the longest context that fits on
// the GPU and with host memory), computable from a config.json alone. With --context N it says
// whether that context fits and, when it does not, why (exit code 1).
#include <QFile>
#include <QStringList>
#include <QTextStream>

#include <cstdio>
#include <filesystem>
#include <string>

#include "commands.h"
#include "quire/app/paths.h"
#include "quire/app/version.h"
#include "quire/inference/gguf.h"
#include "quire/inference/llama4.h"
#include "quire/inference/llama4_memory_plan.h"
#ifdef QUIRE_WITH_CUDA
#include "quire/inference/cuda/device.h"
#endif

namespace quire::cli {

namespace {

constexpr const char* kUsage =
    "Usage: quire-cli info [--model PATH [options]]\n"
    "Prints the version, data folders and compute devices. With --model, the GPU memory plan of a\n"
    "Llama 4 model: weights, KV per token, prefill working memory and the longest context that fits.\n"
    "  --model PATH         Hugging Face folder (its config.json is enough), a config.json, or a GGUF file\n"
    "  --gpu-memory GiB     free device memory to plan for (default: what CUDA device 0 reports)\n"
    "  --host-memory GiB    host memory for KV pages beyond the GPU (default 0; a plan only: the CUDA\n"
    "                       runner keeps every page on the GPU today)\n"
    "  --context N          check whether a context of N tokens fits (exit code 1 when not)\n"
    "  --quant PRESET       gpu (default, what the CUDA runner loads: int4 experts; attention, shared\n"
    "                       expert and LM head bf16),\n"
    "                       int4-fp8, int4-int8, int8, fp8 or none\n"
    "  --chunk N            prefill chunk in tokens (default 8192)\n";

QTextStream& out()
{
    static QTextStream s(stdout);
    return s;
}

int fail(const std::string& message, int code = Failure)
{
    std::fprintf(stderr, "quire-cli info: %s\n", message.c_str());
    return code;
}

std::expected<inference::Llama4Config, inference::Error> readConfig(const std::filesystem::path& path)
{
    namespace inf = quire::inference;
    std::error_code ec;
    std::filesystem::path json = path;
    if (std::filesystem::is_directory(path, ec))
        json = path / "config.json";
    if (json.extension() != ".json") {
        auto file = inf::GgufFile::open(path);
        if (!file)
            return std::unexpected(file.error());
        return inf::llama4ConfigFromGguf(*file);
    }
    QFile f(QString::fromStdString(json.string()));
    if (!f.open(QIODevice::ReadOnly))
        return std::unexpected(inf::Error{inf::ErrorCode::Io, "cannot read " + json.string()});
    const QByteArray text = f.readAll();
    return inf::parseLlama4Config(std::string_view(text.constData(), std::size_t(text.size())),
                                  json.string());
}

void printDevices()
{
    const auto paths = app::Paths::standard();
    out() << "Quire " QUIRE_VERSION "\n"
          << "data:    " << paths.dataDir << "\n"
          << "library: " << paths.libraryDb << "\n"
          << "models:  " << paths.modelDir << "\n"
          << "logs:    " << paths.logDir << "\n";
#ifdef QUIRE_WITH_CUDA
    const int n = inference::cuda::deviceCount();
    out() << "cuda:    " << n << " device(s)\n";
    for (int i = 0; i < n; ++i) {
        if (auto d = inference::cuda::deviceInfo(i))
            out() << "  [" << i << "] " << QString::fromStdString(d->name) << ", sm_" << d->computeMajor
                  << d->computeMinor << ", " << (d->totalBytes >> 20) << " MiB (" << (d->freeBytes >> 20)
                  << " MiB free)\n";
    }
#else
    out() << "cuda:    not built\n";
#endif
}

std::uint64_t deviceFreeBytes()
{
#ifdef QUIRE_WITH_CUDA
    if (inference::cuda::deviceCount() > 0)
        if (auto d = inference::cuda::deviceInfo(0))
            return d->freeBytes;
#endif
    return 0;
}

} // namespace

int cmdInfo(const QStringList& args)
{
    if (args.contains("--help")) {
        out() << kUsage;
        return Ok;
    }
    QString model, quant = "gpu";
    double gpuGiB = -1, hostGiB = 0;
    long long context = 0;
    int chunk = 8192;
    for (int i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        if (i + 1 >= args.size())
            return fail(("missing value for " + a).toStdString() + "\n" + kUsage, Usage);
        const QString& v = args[++i];
        bool ok = true;
        if (a == "--model")
            model = v;
        else if (a == "--gpu-memory")
            gpuGiB = v.toDouble(&ok);
        else if (a == "--host-memory")
            hostGiB = v.toDouble(&ok);
        else if (a == "--context")
            context = v.toLongLong(&ok);
        else if (a == "--quant")
            quant = v;
        else if (a == "--chunk")
            chunk = v.toInt(&ok);
        else
            return fail(("unknown option " + a).toStdString() + "\n" + kUsage, Usage);
        if (!ok || (a != "--model" && a != "--quant" && v.toDouble() < 0) || (a == "--chunk" && chunk <= 0))
            return fail(("bad value for " + a + ": " + v).toStdString(), Usage);
    }

    printDevices();
    if (model.isEmpty()) {
        out().flush();
        return context > 0 ? fail("--context needs --model", Usage) : Ok;
    }

    const auto config = readConfig(model.toStdString());
    if (!config) {
        out().flush();
        return fail(config.error().message);
    }
    inference::Llama4MemoryPlanOptions options;
    if (quant != "gpu") {
        auto preset = inference::Llama4Quantization::preset(quant.toStdString());
        if (!preset) {
            out().flush();
            return fail(preset.error().message, Usage);
        }
        options.quantization = *preset;
    }
    options.deviceFreeBytes =
        gpuGiB >= 0 ? std::uint64_t(gpuGiB * double(std::uint64_t(1) << 30)) : deviceFreeBytes();
    options.hostKvBytes = std::uint64_t(hostGiB * double(std::uint64_t(1) << 30));
    options.prefillChunk = chunk;
    const auto plan = inference::planLlama4Memory(*config, options);

    out() << "\nmodel:   " << model << " (Llama 4, " << config->nLayers << " layers, " << config->nExperts
          << " experts)\n"
          << "weights: " << QString::fromStdString(options.quantization.describe()) << "\n"
          << QString::fromStdString(plan.describe());
    out().flush();
    if (context > 0) {
        if (const auto fits = inference::checkLlama4Context(plan, context); !fits)
            return fail(fits.error().message);
        out() << "a context of " << context << " tokens fits\n";
        out().flush();
    }
    return Ok;
}

} // namespace quire::cli
