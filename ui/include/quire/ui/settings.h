// The GUI's typed settings, each with its default at the declaration, kept in QSettings (the
// platform's settings store; tests set their own organization name so a user's stay untouched).
// EngineSettings becomes the app's EngineOptions, every field applied when the engine loads.
// backendNote() says in advance which chosen settings the chosen backend will not use or will
// refuse (the engine itself is the authority: it refuses an unsupported KV dtype by name).
//
// Plain values; load()/save() use QSettings and run on the UI thread.
#pragma once

#include <QString>
#include <QStringList>

#include "quire/app/answer_engine.h"

namespace quire::ui {

struct EngineSettings {
    QString modelPath;             // empty: the default model (defaultModelPath())
    QString backend = "cpu";       // "cpu" or "cuda" when the CUDA backend is built and present
    int threads = 0;               // 0: all cores
    int contextTokens = 8192;      // the session's window (the CPU KV cache grows with it)
    int gpuMemoryMiB = 0;          // 0: whatever the device has
    QString kvDtype = "auto";      // auto, f32, f16, bf16, fp8
    QString quantization = "none"; // on load of Hugging Face weights: none, int4, fp8
    int maxAnswerTokens = 200;

    static EngineSettings load();
    void save() const;
    app::EngineOptions toEngineOptions() const;
    // What the chosen backend does not use or will refuse among these settings ("" when all apply).
    QString backendNote() const;
    bool operator==(const EngineSettings&) const = default;
};

// $QUIRE_DEFAULT_MODEL, else SmolLM2-135M-Instruct in the data folder's models/.
QString defaultModelPath();
// The backends this build can run ("cpu", and "cuda" when registered).
QStringList availableBackends();

} // namespace quire::ui
