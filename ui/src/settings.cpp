#include "quire/ui/settings.h"

#include <QSettings>

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
    return o;
}

QString EngineSettings::unsupportedNote() const
{
    QStringList parts;
    if (gpuMemoryMiB > 0)
        parts << QObject::tr("GPU memory budget");
    if (kvDtype != "auto")
        parts << QObject::tr("KV dtype");
    if (parts.isEmpty())
        return {};
    return QObject::tr("Saved, but not applied by this build's engine yet: %1.").arg(parts.join(", "));
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
