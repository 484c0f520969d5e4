#include <QTest>

#include <fstream>
#include <map>

#include "media_support.h"
#include "quire/ingest/ingestor.h"
#include "quire/ingest/media_extractor.h"
#include "test_support.h"

using namespace quire::ingest;
using namespace quire::ingest::test;
namespace fs = std::filesystem;

namespace {
const TimeAnchor& timeOf(const Segment& s)
{
    return std::get<TimeAnchor>(s.anchor.where);
}

MediaOptions framesOnly(const fs::path& frameDir)
{
    MediaOptions o;
    o.transcribe = false;
    o.frameDir = frameDir.string();
    o.frameIntervalSec = 2;
    return o;
}
} // namespace

class TestMediaExtractor : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_tmp;
    fs::path m_speech; // a 16-bit 22 kHz espeak WAV, a few seconds long
    double m_seconds = 0;

private slots:
    void initTestCase()
    {
        if (!haveTools({"ffmpeg", "espeak-ng"}))
            QSKIP("ffmpeg and espeak-ng are needed to make the test media (quire.sh installs them)");
        m_speech = root(m_tmp) / "speech.wav";
        QVERIFY(speak("Testing one two three. The meeting starts at nine.", m_speech));
        m_seconds = static_cast<double>(fs::file_size(m_speech) - 44) / 2.0 / 22050.0;
    }
    void decodesCommonContainersTo16kMono()
    {
        struct Format {
            const char* name;
            QStringList codec;
        };
        const std::vector<Format> formats = {
            {"wav", {}},
            {"mp3", {"-c:a", "libmp3lame"}},
            {"m4a", {"-c:a", "aac"}},
            {"flac", {}},
            {"ogg", {"-c:a", "libvorbis"}},
            {"opus", {"-c:a", "libopus"}},
            {"mkv", {"-c:a", "libvorbis"}},
            {"webm", {"-c:a", "libopus"}},
            {"mp4", {"-c:a", "aac"}},
        };
        for (const auto& f : formats) {
            const fs::path out = root(m_tmp) / (std::string("speech-stereo.") + f.name);
            QVERIFY(ffmpeg(QStringList{"-i", q(m_speech), "-ac", "2", "-ar", "48000"} + f.codec +
                           QStringList{q(out)}));
            auto samples = decodeAudio16kMono(out);
            QVERIFY2(samples.has_value(), f.name);
            const double seconds = static_cast<double>(samples->size()) / 16000.0;
            QVERIFY2(std::abs(seconds - m_seconds) < 0.15,
                     (std::string(f.name) + " " + std::to_string(seconds)).c_str());
            float peak = 0;
            for (float s : *samples)
                peak = std::max(peak, std::abs(s));
            QVERIFY2(peak > 0.05 && peak <= 1.0f, f.name); // real signal, in range
        }
    }
    void videoWithoutAudioGivesKeyFramesOnly()
    {
        const fs::path video = root(m_tmp) / "silent.mp4";
        // 6 s: a test pattern, then a cut to black at 3 s (a scene change).
        QVERIFY(ffmpeg({"-f", "lavfi", "-i", "testsrc=size=320x240:rate=10:duration=3", "-f", "lavfi", "-i",
                        "color=c=black:size=320x240:rate=10:duration=3", "-filter_complex",
                        "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-pix_fmt",
                        "yuv420p", q(video)}));
        const fs::path frameDir = root(m_tmp) / "frames";
        MediaOptions options = framesOnly(frameDir);
        options.frameIntervalSec = 10; // only the first frame and the cut
        auto doc = extractMedia(video, options);
        QVERIFY2(doc.has_value(), doc ? "" : doc.error().message.c_str());
        QUIRE_COMPARE_ENUM(doc->source.kind, SourceKind::Video);
        QUIRE_COMPARE_ENUM(doc->status, SourceStatus::Partial);
        QVERIFY(doc->error.find("no audio") != std::string::npos);
        QCOMPARE(doc->segments.size(), size_t(2));
        QCOMPARE(timeOf(doc->segments[0]).beginMs, 0);
        QVERIFY(std::abs(timeOf(doc->segments[1]).beginMs - 3000) <= 100);
        QVERIFY(std::abs(timeOf(doc->segments[1]).endMs - 6000) <= 150);
        for (const auto& s : doc->segments) {
            QVERIFY(s.framePath.has_value());
            std::ifstream in(*s.framePath, std::ios::binary);
            char magic[3] = {};
            in.read(magic, 3);
            QVERIFY(std::string(magic, 3) == "\xFF\xD8\xFF"); // a JPEG
        }
    }
    void speechVideoSegmentsReferToFrames()
    {
        const fs::path video = root(m_tmp) / "talk.mkv";
        const QString pattern = QString("testsrc=size=320x240:rate=10:duration=%1").arg(m_seconds, 0, 'f', 2);
        QVERIFY(ffmpeg({"-f", "lavfi", "-i", pattern, "-i", q(m_speech), "-c:v", "libx264", "-pix_fmt",
                        "yuv420p", "-c:a", "libvorbis", q(video)}));
        MediaOptions options = framesOnly(root(m_tmp) / "frames2");
        auto doc = extractMedia(video, options);
        QVERIFY(doc.has_value());
        QUIRE_COMPARE_ENUM(doc->status, SourceStatus::Ingested);
        QUIRE_COMPARE_ENUM(doc->source.kind, SourceKind::Video);
        QVERIFY(doc->segments.size() >= 2); // a frame every 2 s of ~4 s
        std::int64_t last = -1;
        for (const auto& s : doc->segments) {
            QVERIFY(timeOf(s).beginMs >= last);
            last = timeOf(s).beginMs;
            QVERIFY(timeOf(s).endMs <= std::int64_t(m_seconds * 1000) + 200);
        }
    }
    void truncatedAndBrokenMedia()
    {
        const fs::path full = root(m_tmp) / "full.mp4";
        QVERIFY(ffmpeg({"-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-i", q(m_speech), "-shortest",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", q(full)}));
        const fs::path fast = root(m_tmp) / "fast.mp4";
        QVERIFY(ffmpeg({"-i", q(full), "-c", "copy", "-movflags", "+faststart", q(fast)}));
        auto cut = [&](const fs::path& from, const char* name) {
            std::string bytes(fs::file_size(from), '\0');
            std::ifstream(from, std::ios::binary)
                .read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            return writeFile(root(m_tmp) / name, bytes.substr(0, bytes.size() / 2));
        };
        // The index (moov) is at the end: without it nothing can be read.
        auto noIndex = extractMedia(cut(full, "cut-noindex.mp4"), framesOnly(root(m_tmp) / "f3"));
        QVERIFY(!noIndex.has_value());
        QCOMPARE(int(noIndex.error().code), int(ErrorCode::Format));
        QVERIFY(noIndex.error().message.find("cut-noindex.mp4") != std::string::npos);
        // The index is first: the first half decodes, the document says it is partial.
        auto half = extractMedia(cut(fast, "cut-half.mp4"), framesOnly(root(m_tmp) / "f4"));
        QVERIFY2(half.has_value(), half ? "" : half.error().message.c_str());
        QUIRE_COMPARE_ENUM(half->status, SourceStatus::Partial);
        QVERIFY2(half->error.find("ends early") != std::string::npos, half->error.c_str());
        QVERIFY(!half->segments.empty());

        auto garbage = extractMedia(writeFile(root(m_tmp) / "garbage.mp3", std::string(5000, '\x55')),
                                    framesOnly(root(m_tmp) / "f5"));
        QVERIFY(!garbage.has_value());
        auto empty = extractMedia(writeFile(root(m_tmp) / "empty.wav", ""), framesOnly(root(m_tmp) / "f6"));
        QVERIFY(!empty.has_value());
    }
    void badMediaInABatchDoesNotStopIt()
    {
        const fs::path dir = root(m_tmp) / "batch";
        fs::create_directories(dir);
        fs::copy_file(root(m_tmp) / "cut-noindex.mp4", dir / "cut-noindex.mp4");
        fs::copy_file(root(m_tmp) / "silent.mp4", dir / "silent.mp4");
        writeFile(dir / "readme.txt", "fine\n");
        IngestOptions options;
        options.extract.media = framesOnly(root(m_tmp) / "f7");
        options.limits.stallLimit = std::chrono::seconds(30);
        std::map<std::string, Document> docs;
        for (auto& d : Ingestor(options).ingest({dir}))
            docs[fs::path(d.source.path).filename().string()] = std::move(d);
        QCOMPARE(docs.size(), size_t(3));
        QUIRE_COMPARE_ENUM(docs["cut-noindex.mp4"].status, SourceStatus::Quarantined);
        QUIRE_COMPARE_ENUM(docs["silent.mp4"].status, SourceStatus::Partial);
        QUIRE_COMPARE_ENUM(docs["silent.mp4"].source.kind, SourceKind::Video);
        QUIRE_COMPARE_ENUM(docs["readme.txt"].status, SourceStatus::Ingested);
    }
};

QTEST_GUILESS_MAIN(TestMediaExtractor)
#include "test_media_extractor.moc"
