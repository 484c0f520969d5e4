// Settings: the model file, backend (CPU, or CUDA when this build has it), threads, context
// window, GPU memory budget, KV dtype, quantization on load and answer length. Modal; returns
// the edited EngineSettings, which the main window saves and applies (reloading the engine).
#pragma once

#include <QDialog>

#include "quire/ui/settings.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace quire::ui {

class SettingsDialog : public QDialog {
    Q_OBJECT
public:
    explicit SettingsDialog(const EngineSettings& settings, QWidget* parent = nullptr);
    EngineSettings settings() const;
    void setSettings(const EngineSettings& s);
    QString noteText() const;

private:
    void updateNote();
    QLineEdit* m_model;
    QComboBox* m_backend;
    QSpinBox* m_threads;
    QSpinBox* m_context;
    QSpinBox* m_gpuMemory;
    QComboBox* m_kvDtype;
    QComboBox* m_quant;
    QSpinBox* m_answerTokens;
    QLabel* m_note;
};

} // namespace quire::ui
