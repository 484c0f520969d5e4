#include <QTest>

#include "media_support.h"
#include "quire/ingest/asr_engine.h"
#include "quire/ingest/media_extractor.h"
#include "test_support.h"

using namespace quire::ingest;
using namespace quire::ingest::test;
namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kSentences = {
    "Please call me tomorrow morning about the contract.",
    "We will meet at the office on Friday.",
    "The quick brown fox jumps over the lazy dog.",
    "The weather is nice today and the sun is shining.",
    "I would like to order a large pizza for dinner.",
};
} // namespace

class TestSpeechRecognition : public QObject {
    Q_OBJECT
private slots:
    void recoversMostWordsOfSynthesisedSpeech()
    {
        if (!haveTools({"ffmpeg", "espeak-ng"}))
            QSKIP("ffmpeg and espeak-ng are needed (quire.sh installs them)");
        QTemporaryDir tmp;
        std::string script;
        for (const auto& s : kSentences)
            script += s + " ";
        const fs::path wav = root(tmp) / "speech.wav";
        QVERIFY(speak(script, wav));
        const fs::path mp3 = root(tmp) / "speech.mp3";
        QVERIFY(ffmpeg({"-i", q(wav), "-c:a", "libmp3lame", q(mp3)}));
        MediaOptions options;
        auto doc = extractMedia(mp3, options);
        QVERIFY2(doc.has_value(), doc ? "" : doc.error().message.c_str());
        QUIRE_COMPARE_ENUM(doc->status, SourceStatus::Ingested);
        std::string heard;
        std::int64_t last = -1;
        for (const auto& s : doc->segments) {
            heard += s.text + " ";
            const auto& t = std::get<TimeAnchor>(s.anchor.where);
            QVERIFY(t.beginMs > last && t.endMs > t.beginMs);
            last = t.beginMs;
        }
        QVERIFY(doc->segments.size() >= 3); // split at the pauses between sentences
        const double recovered = wordRecovery(script, heard);
        qInfo("espeak-ng word recovery %.0f%% (WER %.0f%%): \"%s\"", recovered * 100,
              wordErrorRate(script, heard) * 100, heard.c_str());
        QVERIFY2(recovered >= 0.70, heard.c_str());
    }
    void reportsTheWordErrorRateOnJfk()
    {
        const fs::path jfk = fs::path(QUIRE_SHARED_DIR) / "testdata/media/jfk.wav";
        if (!fs::exists(jfk))
            QSKIP("shared/testdata/media/jfk.wav is not there");
        const std::string reference = "And so my fellow Americans, ask not what your country can do for you, "
                                      "ask what you can do for your country.";
        auto doc = extractMedia(jfk, MediaOptions{});
        QVERIFY(doc.has_value());
        std::string heard;
        for (const auto& s : doc->segments)
            heard += s.text + " ";
        const double wer = wordErrorRate(reference, heard);
        qInfo("jfk.wav WER %.1f%% (%zu segments): \"%s\"", wer * 100, doc->segments.size(), heard.c_str());
        QVERIFY2(wer < 0.75,
                 heard.c_str()); // PocketSphinx is weak here; this guards against a broken pipeline
        QVERIFY(wordRecovery(reference, heard) > 0.4);
    }
    void scoringHelpers()
    {
        QCOMPARE(wordErrorRate("a b c d", "a b c d"), 0.0);
        QCOMPARE(wordErrorRate("a b c d", "a x c"), 0.5); // one substitution, one deletion
        QCOMPARE(wordRecovery("the cat the dog", "The dog, the cat!"), 1.0);
    }
};

QTEST_GUILESS_MAIN(TestSpeechRecognition)
#include "test_speech_recognition.moc"
