// Playing a transcript's cited span: the viewer plays a WAV written here (a 4 s tone) from 1.0 s
// and pauses at 2.0 s, watched through the QMediaPlayer's own position and state signals. A
// machine without a sound card gets a private PulseAudio server with a null sink (when the
// pulseaudio program is installed; quire.sh installs it), so the audio clock really runs; where
// no audio output exists at all that test is skipped and the rest still runs: the stop-at-end
// rule with made-up positions, the player's source, seek and pause driven by a simulated
// positionChanged, and the fallback to the system player (a file the player cannot read, no
// audio output, a build without Qt Multimedia) with the opener replaced so nothing is launched.
// QUIRE_TEST_SYSTEM_AUDIO=1 uses the machine's own audio setup instead of the private server.
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>
#include <QtEndian>

#include <cmath>
#include <numbers>

#include "quire/app/library_service.h"
#include "quire/storage/catalog.h"
#include "quire/ui/document_viewer.h"
#include "quire/ui/span_player.h"
#include "ui_test_support.h"

#if QUIRE_HAVE_MULTIMEDIA
#include <QMediaPlayer>
#endif

using namespace quire;
using namespace quire::ui;

namespace {

// 16-bit mono PCM, a 440 Hz tone.
bool writeToneWav(const QString& path, int seconds, int rate = 16000)
{
    const int n = seconds * rate;
    QByteArray out;
    auto u32 = [&](quint32 v) {
        char b[4];
        qToLittleEndian(v, b);
        out.append(b, 4);
    };
    auto u16 = [&](quint16 v) {
        char b[2];
        qToLittleEndian(v, b);
        out.append(b, 2);
    };
    out.append("RIFF");
    u32(36 + 2 * n);
    out.append("WAVEfmt ");
    u32(16);
    u16(1); // PCM
    u16(1); // mono
    u32(rate);
    u32(2 * rate);
    u16(2);
    u16(16);
    out.append("data");
    u32(2 * n);
    for (int i = 0; i < n; ++i)
        u16(quint16(qint16(8000 * std::sin(2 * std::numbers::pi * 440.0 * i / rate))));
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(out) == out.size();
}

// A PulseAudio server of this test's own, with one null sink: real playback, no sound, no
// speakers of the person running the tests. Quits with the test.
class NullAudioServer {
public:
    bool start(const QString& dir)
    {
        const QString exe = QStandardPaths::findExecutable("pulseaudio");
        if (exe.isEmpty())
            return false;
        const QString socket = dir + "/native";
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("HOME", dir);
        env.insert("XDG_RUNTIME_DIR", dir);
        env.insert("XDG_CONFIG_HOME", dir + "/config");
        m_process.setProcessEnvironment(env);
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process.start(exe, {"--daemonize=no", "-n", "--exit-idle-time=-1", "--disallow-exit",
                              "--use-pid-file=no", "--load=module-null-sink sink_name=quire_test_null",
                              "--load=module-native-protocol-unix auth-anonymous=1 socket=" + socket});
        if (!m_process.waitForStarted(5000))
            return false;
        for (int i = 0; i < 100 && !QFile::exists(socket); ++i)
            QTest::qWait(50);
        if (!QFile::exists(socket))
            return false;
        qputenv("PULSE_SERVER", ("unix:" + socket).toLocal8Bit());
        return true;
    }
    ~NullAudioServer()
    {
        if (m_process.state() != QProcess::NotRunning) {
            m_process.terminate();
            if (!m_process.waitForFinished(3000))
                m_process.kill();
            m_process.waitForFinished(1000);
        }
    }

private:
    QProcess m_process;
};

} // namespace

class TestSpanPlayback : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    NullAudioServer m_audio;
    bool m_privateAudio = false;
    std::optional<app::ServiceConfig> m_config;
    QString m_wav;
    std::int64_t m_documentId = 0;

    CitationTarget spanTarget(qint64 beginMs, qint64 endMs, const QString& path = {}) const
    {
        CitationTarget t;
        t.documentId = m_documentId;
        t.path = path.isEmpty() ? m_wav : path;
        t.label = "doc 1 00:00:01";
        t.anchor.document = m_documentId;
        t.anchor.where = ingest::TimeAnchor{beginMs, endMs};
        return t;
    }

private slots:
    void initTestCase()
    {
        uitest::isolateSettings("ui_span_playback");
        qRegisterMetaType<app::DocumentContent>();
        // Before anything touches Qt Multimedia: the backend and the audio server it connects to.
        // Qt 6.4 picks GStreamer by default, which stalls silently without its base plugins.
        if (qEnvironmentVariableIsEmpty("QT_MEDIA_BACKEND"))
            qputenv("QT_MEDIA_BACKEND", "ffmpeg");
        if (qEnvironmentVariableIsEmpty("QUIRE_TEST_SYSTEM_AUDIO"))
            m_privateAudio = m_audio.start(m_dir.path());
        qInfo("Qt Multimedia: %s; audio output: %s%s", SpanPlayer::haveMultimedia() ? "yes" : "no",
              SpanPlayer::haveAudioOutput() ? "yes" : "none",
              m_privateAudio ? " (a private PulseAudio null sink)" : "");

        m_config = uitest::makeConfig(m_dir.path());
        QVERIFY(m_config);
        m_wav = m_dir.path() + "/tone.wav";
        QVERIFY(writeToneWav(m_wav, 4));
        // The tone as a stored transcript with two timed segments.
        auto ws = m_config->writer->submit([](storage::Database& d) { return d.createWorkspace("t"); }).get();
        QVERIFY(ws.has_value());
        ingest::Document doc;
        doc.source.path = m_wav.toStdString();
        doc.source.kind = ingest::SourceKind::Audio;
        doc.source.contentHash = "tone";
        doc.status = ingest::SourceStatus::Ingested;
        doc.title = "tone";
        for (int i = 0; i < 2; ++i) {
            ingest::Segment s;
            s.text = i == 0 ? "A tone." : "The same tone.";
            s.anchor.where = ingest::TimeAnchor{i * 2000, i * 2000 + 2000};
            doc.segments.push_back(s);
        }
        const std::int64_t wsId = *ws;
        auto put = m_config->writer
                       ->submit([wsId, doc](storage::Database& d) {
                           return storage::Catalog(d).putDocument(wsId, doc);
                       })
                       .get();
        QVERIFY(put.has_value());
        m_documentId = put->documentId;
    }

    void endRule()
    {
        SpanEndRule rule;
        QVERIFY(!rule.reached(5000, 0)); // not armed
        rule.arm(1000, 2000);
        QVERIFY(!rule.reached(1000, 0));
        QVERIFY(!rule.reached(1500, 500));
        QVERIFY(!rule.reached(1999, 999));
        QVERIFY(rule.reached(2000, 1000));
        QVERIFY(!rule.armed());
        QVERIFY(!rule.reached(2100, 1100)); // reached once

        // A position from before the seek (the last span's end) does not end the new span.
        rule.arm(1000, 2000);
        QVERIFY(!rule.reached(2040, 0));
        QVERIFY(!rule.reached(960, 10)); // the seek lands a little early: inside
        QVERIFY(rule.reached(2040, 1100));

        // A clock that stalls: the wall time ends the span (its length plus the slack).
        rule.arm(1000, 2000);
        QVERIFY(!rule.reached(1001, 1000 + SpanEndRule::kWallSlackMs));
        QVERIFY(rule.reached(1001, 1001 + SpanEndRule::kWallSlackMs));
    }

    void routes()
    {
        using R = SpanPlayer::Route;
        QCOMPARE(SpanPlayer::chooseRoute({true, true, false}), R::Embedded);
        QCOMPARE(SpanPlayer::chooseRoute({false, true, false}), R::SystemPlayer); // no Qt Multimedia
        QCOMPARE(SpanPlayer::chooseRoute({true, false, false}), R::SystemPlayer); // no audio output
        QCOMPARE(SpanPlayer::chooseRoute({true, true, true}), R::SystemPlayer);   // failed before
#if !QUIRE_HAVE_MULTIMEDIA
        QVERIFY(!SpanPlayer::haveMultimedia());
#endif
    }

    // Without Qt Multimedia, or without an audio output, the viewer hands the file to the
    // system player at once, and says why and where the span is.
    void systemPlayerWhenNothingPlays()
    {
        if (SpanPlayer::haveMultimedia() && SpanPlayer::haveAudioOutput())
            QSKIP("this machine plays in the app (the decision is checked in routes())");
        app::LibraryService library(*m_config);
        DocumentViewer viewer(&library);
        QList<QUrl> opened;
        viewer.spanPlayer()->setSystemOpener([&](const QUrl& u) {
            opened << u;
            return true;
        });
        QSignalSpy handed(viewer.spanPlayer(), &SpanPlayer::handedToSystemPlayer);
        viewer.open(spanTarget(1000, 2000));
        QTRY_VERIFY_WITH_TIMEOUT(viewer.isReady(), 20000);
        viewer.play();
        QCOMPARE(opened, QList<QUrl>{QUrl::fromLocalFile(m_wav)});
        QCOMPARE(handed.size(), 1);
        QVERIFY(handed.first().at(1).toString().contains(SpanPlayer::haveMultimedia() ? "no audio output"
                                                                                      : "plays no media"));
        QVERIFY2(viewer.heading().contains("00:00:01 to 00:00:02"), qPrintable(viewer.heading()));
    }

    // Whatever the audio: the player gets the file, seeks to the span's start and plays; a
    // position report at the end (simulated here) pauses it there.
    void seekAndStopBySimulatedPosition()
    {
#if !QUIRE_HAVE_MULTIMEDIA
        QSKIP("built without Qt Multimedia: systemPlayerWhenNothingPlays() covers this build");
#else
        app::LibraryService library(*m_config);
        DocumentViewer viewer(&library);
        viewer.open(spanTarget(1000, 2000));
        QTRY_VERIFY_WITH_TIMEOUT(viewer.isReady(), 20000);
        SpanPlayer* span = viewer.spanPlayer();
        span->setRouteOverride(SpanPlayer::Route::Embedded);
        span->setSystemOpener([](const QUrl&) { return true; });
        QMediaPlayer* player = span->mediaPlayer();
        QVERIFY(player);
        QSignalSpy positions(player, &QMediaPlayer::positionChanged);
        QSignalSpy states(player, &QMediaPlayer::playbackStateChanged);
        QSignalSpy started(span, &SpanPlayer::started);
        QSignalSpy finished(span, &SpanPlayer::finished);
        QSignalSpy handed(span, &SpanPlayer::handedToSystemPlayer);
        viewer.play();
        QCOMPARE(player->source(), QUrl::fromLocalFile(m_wav));
        QTRY_COMPARE_WITH_TIMEOUT(started.size(), 1, 10000);
        QVERIFY2(handed.isEmpty(), handed.isEmpty() ? "" : qPrintable(handed.first().at(1).toString()));
        QCOMPARE(player->playbackState(), QMediaPlayer::PlayingState);
        QVERIFY2(started.first().at(0).toLongLong() >= 1000 - 250,
                 qPrintable(started.first().at(0).toString()));
        QVERIFY2(!positions.isEmpty() && positions.last().at(0).toLongLong() >= 1000 - 250,
                 "the player reported the seek to the span's start");
        QVERIFY(finished.isEmpty());
        emit player->positionChanged(2010); // as the player would at the span's end
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished.first().at(0).toLongLong(), qint64(2010));
        QTRY_COMPARE_WITH_TIMEOUT(player->playbackState(), QMediaPlayer::PausedState, 5000);
        QVERIFY(!span->isPlayingSpan());
        QCOMPARE(states.last().at(0).value<QMediaPlayer::PlaybackState>(), QMediaPlayer::PausedState);
#endif
    }

    // Real playback through an audio output (the private null sink on a headless machine): it
    // starts at 1.0 s, its clock advances, and it pauses at 2.0 s by its own position reports.
    void playsTheSpanAndStopsAtItsEnd()
    {
#if !QUIRE_HAVE_MULTIMEDIA
        QSKIP("built without Qt Multimedia: systemPlayerWhenNothingPlays() covers this build");
#else
        if (!SpanPlayer::haveAudioOutput())
            QSKIP("no audio output and no pulseaudio program for a null sink: real playback not run");
        app::LibraryService library(*m_config);
        DocumentViewer viewer(&library);
        viewer.open(spanTarget(1000, 2000));
        QTRY_VERIFY_WITH_TIMEOUT(viewer.isReady(), 20000);
        QCOMPARE(viewer.mode(), DocumentViewer::Mode::Transcript);
        SpanPlayer* span = viewer.spanPlayer();
        span->setSystemOpener([](const QUrl&) { return true; });
        QMediaPlayer* player = span->mediaPlayer();
        QVERIFY(player->audioOutput());
        for (int round = 0; round < 2; ++round) { // the second plays the loaded file again
            QList<qint64> whilePlaying;
            auto c = connect(player, &QMediaPlayer::positionChanged, this, [&](qint64 p) {
                if (player->playbackState() == QMediaPlayer::PlayingState)
                    whilePlaying << p;
            });
            QSignalSpy states(player, &QMediaPlayer::playbackStateChanged);
            QSignalSpy finished(span, &SpanPlayer::finished);
            QSignalSpy handed(span, &SpanPlayer::handedToSystemPlayer);
            QSignalSpy started(span, &SpanPlayer::started);
            QElapsedTimer wall;
            wall.start();
            viewer.play();
            QTRY_VERIFY_WITH_TIMEOUT(!states.isEmpty() || !handed.isEmpty(), 10000);
            QVERIFY2(handed.isEmpty(), handed.isEmpty() ? "" : qPrintable(handed.first().at(1).toString()));
            QCOMPARE(states.first().at(0).value<QMediaPlayer::PlaybackState>(), QMediaPlayer::PlayingState);
            QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 15000);
            disconnect(c);
            const qint64 stoppedAt = finished.first().at(0).toLongLong();
            qInfo("round %d: %lld position reports while playing, first %lld, last %lld; paused at %lld ms "
                  "after %lld ms of wall time",
                  round, qlonglong(whilePlaying.size()), whilePlaying.value(0, -1),
                  whilePlaying.value(whilePlaying.size() - 1, -1), stoppedAt, wall.elapsed());
            QVERIFY(!whilePlaying.isEmpty());
            QCOMPARE(started.size(), 1);
            qInfo("round %d: playing from %lld ms", round, started.first().at(0).toLongLong());
            QVERIFY(started.first().at(0).toLongLong() >= 1000 - 250 &&
                    started.first().at(0).toLongLong() < 1500);
            // Started at the span's start (a seek may land a packet early), never before.
            QVERIFY2(*std::min_element(whilePlaying.begin(), whilePlaying.end()) >= 1000 - 250,
                     qPrintable(QString::number(whilePlaying.first())));
            // The clock advanced: this was playback, not a stalled player stopped by wall time.
            QVERIFY2(*std::max_element(whilePlaying.begin(), whilePlaying.end()) > 1500,
                     "the position never passed 1.5 s");
            // Stopped by the position rule at 2.0 s, not much later.
            QVERIFY2(stoppedAt >= 2000 && stoppedAt <= 2000 + 500, qPrintable(QString::number(stoppedAt)));
            QTRY_COMPARE_WITH_TIMEOUT(player->playbackState(), QMediaPlayer::PausedState, 5000);
            const qint64 pausedAt = player->position();
            QTest::qWait(400);
            QCOMPARE(player->playbackState(), QMediaPlayer::PausedState);
            QVERIFY2(player->position() <= 2000 + 500 && player->position() - pausedAt < 100,
                     "the player went on after the span");
        }
        QVERIFY(!viewer.heading().contains("cannot play"));
#endif
    }

    // A file the player cannot read goes to the system player, with the reason in the heading;
    // the next time the same file goes there directly.
    void unreadableFileFallsBack()
    {
#if !QUIRE_HAVE_MULTIMEDIA
        QSKIP("built without Qt Multimedia: systemPlayerWhenNothingPlays() covers this build");
#else
        const QString bad = m_dir.path() + "/broken.wav";
        {
            QFile f(bad);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray(4096, 'x'));
        }
        app::LibraryService library(*m_config);
        DocumentViewer viewer(&library);
        viewer.open(spanTarget(1000, 2000, bad));
        QTRY_VERIFY_WITH_TIMEOUT(viewer.isReady(), 20000);
        SpanPlayer* span = viewer.spanPlayer();
        span->setRouteOverride(SpanPlayer::Route::Embedded);
        QList<QUrl> opened;
        span->setSystemOpener([&](const QUrl& u) {
            opened << u;
            return true;
        });
        QSignalSpy handed(span, &SpanPlayer::handedToSystemPlayer);
        QSignalSpy started(span, &SpanPlayer::started);
        viewer.play();
        QTRY_COMPARE_WITH_TIMEOUT(handed.size(), 1, 10000);
        QCOMPARE(opened, QList<QUrl>{QUrl::fromLocalFile(bad)});
        QVERIFY(started.isEmpty());
        QVERIFY2(viewer.heading().contains("cannot play here"), qPrintable(viewer.heading()));
        QVERIFY(!span->isPlayingSpan());

        span->setRouteOverride(std::nullopt);
        if (SpanPlayer::haveAudioOutput()) {
            viewer.play();
            QCOMPARE(handed.size(), 2);
            QVERIFY(handed.last().at(1).toString().contains("before"));
            QCOMPARE(opened.size(), 2);
        }
#endif
    }
};

QTEST_MAIN(TestSpanPlayback)
#include "test_span_playback.moc"
