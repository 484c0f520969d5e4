#include "quire/ui/settings.h"

#include <QSettings>

#include <algorithm>

#include "quire/app/paths.h"
#include "quire/inference/backend.h"

namespace quire::ui {

EngineSettings EngineSettings::load()
{
    QSettings s;
    EngineSettings d;
    EngineSettings e;
    e.modelPath = s.value("engine/modelPath", d.modelPath).toString();
    e.backend = s.value("engine/backend", d.backend).toString();
    e.threads = s.value("engine/threads", d.threads).toInt();
    e.contextTokens = s.value("engine/contextTokens", d.contextTokens).toInt();
    e.gpuMemoryMiB = s.value("engine/gpuMemoryMiB", d.gpuMemoryMiB).toInt();
    e.kvDtype = s.value("engine/kvDtype", d.kvDtype).toString();
    e.quantization = s.value("engine/quantization", d.quantization).toString();
    e.maxAnswerTokens = s.value("engine/maxAnswerTokens", d.maxAnswerTokens).toInt();
    return e;
}

void EngineSettings::save() const
{
    QSettings s;
    s.setValue("engine/modelPath", modelPath);
    s.setValue("engine/backend", backend);
    s.setValue("engine/threads", threads);
    s.setValue("engine/contextTokens", contextTokens);
    s.setValue("engine/gpuMemoryMiB", gpuMemoryMiB);
    s.setValue("engine/kvDtype", kvDtype);
    s.setValue("engine/quantization", quantization);
    s.setValue("engine/maxAnswerTokens", maxAnswerTokens);
}

app::EngineOptions EngineSettings::toEngineOptions() const
{
    app::EngineOptions o;
    o.modelPath = (modelPath.isEmpty() ? defaultModelPath() : modelPath).toStdString();
    o.backend = backend.toStdString();
    o.threads = threads;
    o.maxContext = contextTokens;
    o.quantization = quantization.toStdString();
    o.kvDtype = kvDtype.toStdString();
    o.gpuMemoryBytes = std::uint64_t(std::max(0, gpuMemoryMiB)) << 20;
    return o;
}

QString EngineSettings::backendNote() const
{
    // Mirrors what the runners hold (inference/src/cpu, inference/cuda/src): a hint shown before
    // loading; the engine refuses by name whatever this table gets wrong.
    QStringList parts;
    const bool cpu = backend.startsWith("cpu");
    if (cpu && gpuMemoryMiB > 0)
        parts << QObject::tr("the GPU memory budget applies to the CUDA backend only");
    if (backend == "cpu-reference" && kvDtype != "auto" && kvDtype != "f32")
        parts << QObject::tr("the reference backend holds its KV cache in f32 only; %1 will be refused").arg(kvDtype);
    else if (cpu && kvDtype == "fp8")
        parts << QObject::tr("the CPU backend holds its KV cache in f32, f16 or bf16; fp8 will be refused");
    else if (backend == "cuda" && (kvDtype == "f32" || kvDtype == "f16"))
        parts << QObject::tr("the CUDA backend holds its KV cache in bf16 (fp8 for Llama 4's global layers); %1 "
                             "will be refused")
                     .arg(kvDtype);
    if (parts.isEmpty())
        return {};
    QString note = parts.join("; ");
    note[0] = note[0].toUpper();
    return note + ".";
}

QString defaultModelPath()
{
    const QString env = qEnvironmentVariable("QUIRE_DEFAULT_MODEL");
    if (!env.isEmpty())
        return env;
    return app::Paths::standard().modelDir + "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

QStringList availableBackends()
{
    QStringList out;
    for (const auto& n : inference::backendNames())
        out << QString::fromStdString(n);
    if (!out.contains("cpu"))
        out.prepend("cpu");
    return out;
}

} // namespace quire::ui
