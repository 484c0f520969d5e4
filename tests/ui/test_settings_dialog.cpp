// Settings: the dialog shows and returns every engine setting, says which ones the engine does
// not apply yet, and EngineSettings round-trips through QSettings into EngineOptions.
#include <QComboBox>
#include <QLineEdit>
#include <QSpinBox>
#include <QTest>

#include "quire/ui/settings_dialog.h"
#include "ui_test_support.h"

using namespace quire::ui;

class TestSettingsDialog : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { quire::uitest::isolateSettings("ui_settings_dialog"); }

    void roundTrip()
    {
        EngineSettings s;
        s.modelPath = "/models/x.gguf";
        s.threads = 3;
        s.contextTokens = 4096;
        s.kvDtype = "f16";
        s.quantization = "int8";
        s.maxAnswerTokens = 64;
        s.save();
        const EngineSettings back = EngineSettings::load();
        QVERIFY(back == s);
        const auto o = back.toEngineOptions();
        QCOMPARE(QString::fromStdString(o.modelPath.string()), QString("/models/x.gguf"));
        QCOMPARE(o.threads, 3);
        QCOMPARE(o.maxContext, 4096);
        QCOMPARE(o.quantization, back.quantization.toStdString());
        QCOMPARE(o.kvDtype, std::string("f16"));
        QCOMPARE(o.gpuMemoryBytes, std::uint64_t(0));
        QVERIFY(back.backendNote().isEmpty()); // f16 on the CPU backend applies
        QVERIFY(EngineSettings{}.backendNote().isEmpty());

        // Every setting reaches the engine's options; the note names what the backend will not use.
        EngineSettings g;
        g.gpuMemoryMiB = 20480;
        g.kvDtype = "fp8";
        QCOMPARE(g.toEngineOptions().gpuMemoryBytes, std::uint64_t(20480) << 20);
        QCOMPARE(g.toEngineOptions().kvDtype, std::string("fp8"));
        QVERIFY(g.backendNote().contains("CUDA backend only"));
        QVERIFY(g.backendNote().contains("fp8 will be refused"));
        g.backend = "cuda";
        QVERIFY(g.backendNote().isEmpty());
        g.kvDtype = "f32";
        QVERIFY(g.backendNote().contains("bf16"));
        QVERIFY(!QString::fromStdString(EngineSettings{}.toEngineOptions().modelPath.string()).isEmpty());
    }

    void dialog()
    {
        EngineSettings s;
        s.threads = 2;
        s.quantization = "int4-fp8";
        s.kvDtype = "fp8";
        SettingsDialog d(s);
        d.show();
        QVERIFY(QTest::qWaitForWindowExposed(&d));
        QCOMPARE(d.settings(), s);
        QVERIFY(d.noteText().contains("fp8 will be refused")); // on the CPU backend
        QVERIFY(!d.noteText().contains("quantization"));
        d.findChild<QLineEdit*>("modelPath")->setText("/m/y.gguf");
        d.findChild<QSpinBox*>("threads")->setValue(1);
        auto* kv = d.findChild<QComboBox*>("kvDtype");
        kv->setCurrentIndex(kv->findData("bf16"));
        const EngineSettings out = d.settings();
        QCOMPARE(out.modelPath, QString("/m/y.gguf"));
        QCOMPARE(out.threads, 1);
        QCOMPARE(out.kvDtype, QString("bf16"));
        QVERIFY(!d.noteText().contains("refused")); // the note follows the choice
        QVERIFY(availableBackends().contains("cpu"));
        QVERIFY(quire::uitest::screenshot(&d, "settings_dialog"));
    }
};

QTEST_MAIN(TestSettingsDialog)
#include "test_settings_dialog.moc"
