#include <QTest>

#include <cmath>

#include "voice_activity.h"

using namespace quire::ingest;

namespace {
constexpr int kRate = 16000;

// Silence with faint noise, and "speech": a 220 Hz tone with a slow syllable-like envelope.
void append(std::vector<float>& out, double seconds, bool speech, unsigned& seed)
{
    const int n = static_cast<int>(seconds * kRate);
    for (int i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        const float noise = (static_cast<float>(seed >> 8) / 16777216.0f - 0.5f) * 0.002f;
        const double t = static_cast<double>(i) / kRate;
        const float voice = speech ? static_cast<float>(0.3 * std::sin(2 * M_PI * 220 * t) *
                                                        (0.6 + 0.4 * std::sin(2 * M_PI * 4 * t)))
                                   : 0.0f;
        out.push_back(noise + voice);
    }
}

std::vector<SpeechSpan> split(const std::vector<float>& audio, std::size_t chunk)
{
    std::vector<SpeechSpan> spans;
    VoiceActivitySplitter vad;
    for (std::size_t i = 0; i < audio.size(); i += chunk)
        vad.feed(std::span(audio).subspan(i, std::min(chunk, audio.size() - i)),
                 [&](SpeechSpan&& s) { spans.push_back(std::move(s)); });
    vad.finish([&](SpeechSpan&& s) { spans.push_back(std::move(s)); });
    return spans;
}
} // namespace

class TestVoiceActivity : public QObject {
    Q_OBJECT
private slots:
    void findsUtterancesBetweenPauses()
    {
        unsigned seed = 1;
        std::vector<float> audio;
        append(audio, 2.0, false, seed);
        append(audio, 1.5, true, seed); // 2.0 - 3.5 s
        append(audio, 1.0, false, seed);
        append(audio, 2.0, true, seed); // 4.5 - 6.5 s
        append(audio, 1.0, false, seed);
        for (std::size_t chunk : {std::size_t(160), std::size_t(1000), std::size_t(65536)}) {
            const auto spans = split(audio, chunk);
            QCOMPARE(spans.size(), size_t(2));
            const double b0 = double(spans[0].beginSample) / kRate, e0 = double(spans[0].endSample()) / kRate;
            const double b1 = double(spans[1].beginSample) / kRate, e1 = double(spans[1].endSample()) / kRate;
            QVERIFY2(b0 > 1.7 && b0 < 2.0, std::to_string(b0).c_str()); // ~200 ms of padding before
            QVERIFY2(e0 > 3.5 && e0 < 3.9, std::to_string(e0).c_str());
            QVERIFY(b1 > 4.2 && b1 < 4.5);
            QVERIFY(e1 > 6.5 && e1 < 6.9);
            // The span's samples are the stream's samples at that position.
            QCOMPARE(spans[1].samples[100], audio[static_cast<std::size_t>(spans[1].beginSample) + 100]);
        }
    }
    void longSpeechIsCutIntoBoundedSpans()
    {
        unsigned seed = 7;
        std::vector<float> audio;
        append(audio, 0.5, false, seed);
        append(audio, 47.0, true, seed);
        append(audio, 0.5, false, seed);
        const auto spans = split(audio, 4096);
        QVERIFY(spans.size() >= 3);
        std::int64_t covered = 0;
        for (std::size_t i = 0; i < spans.size(); ++i) {
            QVERIFY(spans[i].samples.size() <= std::size_t(20 * kRate));
            if (i > 0)
                QCOMPARE(spans[i].beginSample, spans[i - 1].endSample()); // contiguous: nothing lost at cuts
            covered += static_cast<std::int64_t>(spans[i].samples.size());
        }
        QVERIFY(covered >= 47 * kRate);
    }
    void silenceGivesNothing()
    {
        unsigned seed = 3;
        std::vector<float> audio;
        append(audio, 5.0, false, seed);
        QVERIFY(split(audio, 512).empty());
        QVERIFY(split(std::vector<float>(kRate * 2, 0.0f), 512).empty()); // digital silence
    }
};

QTEST_GUILESS_MAIN(TestVoiceActivity)
#include "test_voice_activity.moc"
