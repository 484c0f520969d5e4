#include "quire/ui/settings_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>

namespace quire::ui {

SettingsDialog::SettingsDialog(const EngineSettings& settings, QWidget* parent) : QDialog(parent)
{
    setObjectName("settingsDialog");
    setWindowTitle(tr("Settings"));
    auto* form = new QFormLayout;
    auto* modelRow = new QHBoxLayout;
    m_model = new QLineEdit(this);
    m_model->setObjectName("modelPath");
    m_model->setPlaceholderText(tr("Default: %1").arg(QFileInfo(defaultModelPath()).fileName()));
    auto* browse = new QPushButton(tr("&Browse…"), this);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f =
            QFileDialog::getOpenFileName(this, tr("Model file"), QString(),
                                         tr("Models (*.gguf *.safetensors config.json);;All files (*)"));
        if (!f.isEmpty())
            m_model->setText(f);
    });
    modelRow->addWidget(m_model, 1);
    modelRow->addWidget(browse);
    auto* modelLabel = new QLabel(tr("&Model file:"), this);
    modelLabel->setBuddy(m_model);
    form->addRow(modelLabel, modelRow);

    m_backend = new QComboBox(this);
    m_backend->setObjectName("backend");
    for (const QString& b : availableBackends()) {
        if (b != "cpu-reference")
            m_backend->addItem(b == "cpu" ? tr("CPU") : b.toUpper(), b);
    }
    form->addRow(tr("&Backend:"), m_backend);
    m_threads = new QSpinBox(this);
    m_threads->setObjectName("threads");
    m_threads->setRange(0, std::max(1, QThread::idealThreadCount()) * 2);
    m_threads->setSpecialValueText(tr("All cores (%1)").arg(QThread::idealThreadCount()));
    form->addRow(tr("&Threads:"), m_threads);
    m_context = new QSpinBox(this);
    m_context->setObjectName("contextTokens");
    m_context->setRange(512, 10'000'000);
    m_context->setSingleStep(1024);
    m_context->setSuffix(tr(" tokens"));
    form->addRow(tr("Context &window:"), m_context);
    m_gpuMemory = new QSpinBox(this);
    m_gpuMemory->setObjectName("gpuMemory");
    m_gpuMemory->setRange(0, 1'000'000);
    m_gpuMemory->setSingleStep(1024);
    m_gpuMemory->setSuffix(tr(" MiB"));
    m_gpuMemory->setSpecialValueText(tr("All the device has"));
    form->addRow(tr("&GPU memory budget:"), m_gpuMemory);
    m_kvDtype = new QComboBox(this);
    m_kvDtype->setObjectName("kvDtype");
    for (const char* d : {"auto", "f32", "f16", "bf16", "fp8"})
        m_kvDtype->addItem(QString::fromLatin1(d), QString::fromLatin1(d));
    form->addRow(tr("&KV cache type:"), m_kvDtype);
    m_quant = new QComboBox(this);
    m_quant->setObjectName("quantization");
    m_quant->addItem(tr("None (as stored)"), "none");
    m_quant->addItem(tr("int4 experts, fp8 attention"), "int4-fp8");
    m_quant->addItem(tr("int4 experts, int8 attention"), "int4-int8");
    m_quant->addItem(tr("int8"), "int8");
    m_quant->addItem(tr("fp8"), "fp8");
    m_quant->setToolTip(tr("Llama 4 models only; other models load as stored."));
    form->addRow(tr("&Quantize on load (Llama 4):"), m_quant);
    m_answerTokens = new QSpinBox(this);
    m_answerTokens->setObjectName("answerTokens");
    m_answerTokens->setRange(16, 8192);
    form->addRow(tr("&Longest answer:"), m_answerTokens);

    m_note = new QLabel(this);
    m_note->setObjectName("settingsNote");
    m_note->setWordWrap(true);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_note);
    layout->addWidget(buttons);

    for (auto* c : {m_backend, m_kvDtype, m_quant})
        connect(c, &QComboBox::currentIndexChanged, this, &SettingsDialog::updateNote);
    connect(m_gpuMemory, &QSpinBox::valueChanged, this, &SettingsDialog::updateNote);
    setSettings(settings);
}

void SettingsDialog::setSettings(const EngineSettings& s)
{
    m_model->setText(s.modelPath);
    const int b = m_backend->findData(s.backend);
    m_backend->setCurrentIndex(b >= 0 ? b : 0);
    m_threads->setValue(s.threads);
    m_context->setValue(s.contextTokens);
    m_gpuMemory->setValue(s.gpuMemoryMiB);
    m_kvDtype->setCurrentIndex(std::max(0, m_kvDtype->findData(s.kvDtype)));
    m_quant->setCurrentIndex(std::max(0, m_quant->findData(s.quantization)));
    m_answerTokens->setValue(s.maxAnswerTokens);
    updateNote();
}

EngineSettings SettingsDialog::settings() const
{
    EngineSettings s;
    s.modelPath = m_model->text().trimmed();
    s.backend = m_backend->currentData().toString();
    s.threads = m_threads->value();
    s.contextTokens = m_context->value();
    s.gpuMemoryMiB = m_gpuMemory->value();
    s.kvDtype = m_kvDtype->currentData().toString();
    s.quantization = m_quant->currentData().toString();
    s.maxAnswerTokens = m_answerTokens->value();
    return s;
}

QString SettingsDialog::noteText() const
{
    return m_note->text();
}

void SettingsDialog::updateNote()
{
    m_gpuMemory->setEnabled(m_backend->currentData().toString() != "cpu");
    QString note;
    if (m_backend->findData("cuda") < 0)
        note = tr("CUDA is not available in this build or on this machine; the CPU backend is used. ");
    note += settings().backendNote();
    m_note->setText(note);
}

} // namespace quire::ui
