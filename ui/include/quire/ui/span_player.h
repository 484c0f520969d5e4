// Plays the cited span of a recording: from the span's start to its end, where it pauses. With
// Qt Multimedia (a build with QUIRE_HAVE_MULTIMEDIA) and an audio output present, in the app's
// own QMediaPlayer; otherwise, or when that player cannot play the file, the file opens in the
// system's player through QDesktopServices (which cannot be told where to start: the span's
// times are reported with the reason).
//
// Owns its QMediaPlayer (created on first use, a Qt child). Lives on the UI thread.
#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QSet>
#include <QString>
#include <QTimer>
#include <QUrl>

#include <functional>
#include <optional>

class QMediaPlayer;

namespace quire::ui {

// The stop-at-end rule, apart from any player so that it can be checked with made-up positions.
// Armed after the seek to the span's start; fed each position the player reports with the wall
// time since playback began. The end is reached at a position at or past it, once a position
// inside the span was seen (earlier positions past the end belong to a seek not yet done), or
// when the wall time exceeds the span's length by wallSlackMs (a player whose clock stalls).
class SpanEndRule {
public:
    static constexpr qint64 kWallSlackMs = 3000;
    void arm(qint64 beginMs, qint64 endMs);
    bool reached(qint64 positionMs, qint64 wallMs);
    bool armed() const { return m_armed; }
    void disarm() { m_armed = false; }

private:
    qint64 m_begin = 0;
    qint64 m_end = 0;
    bool m_armed = false;
    bool m_sawInside = false;
};

class SpanPlayer : public QObject {
    Q_OBJECT
public:
    enum class Route { Embedded, SystemPlayer };
    struct RouteInputs {
        bool haveMultimedia = false;   // the build has Qt Multimedia
        bool haveAudioOutput = false;  // the machine has an audio output device
        bool fileFailedBefore = false; // the embedded player failed on this file already
    };
    // Where a span is played: in the app when it can, else in the system player.
    static Route chooseRoute(const RouteInputs& in);
    static bool haveMultimedia();  // this build has Qt Multimedia
    static bool haveAudioOutput(); // an audio output device exists (false without Qt Multimedia)

    explicit SpanPlayer(QObject* parent = nullptr);
    ~SpanPlayer() override;

    // Plays `path` from beginMs until endMs (at least one second when the span has no length).
    void play(const QString& path, qint64 beginMs, qint64 endMs);
    void stop();
    bool isPlayingSpan() const { return m_active; }
    qint64 spanBegin() const { return m_begin; }
    qint64 spanEnd() const { return m_end; }
    QString source() const { return m_path; }

    // The embedded player, created on first use; nullptr without Qt Multimedia.
    QMediaPlayer* mediaPlayer();

    // Fed with each position the player reports, and polled between its reports: where the
    // SpanEndRule says the span has ended, the player pauses and finished() is emitted.
    void checkPosition(qint64 positionMs);

    // Tests force a route (the embedded player on a machine without an audio output: it then
    // plays with no QAudioOutput attached); nullopt restores chooseRoute().
    void setRouteOverride(std::optional<Route> route) { m_override = route; }

    // Opens a file in the system player: QDesktopServices::openUrl unless a test replaces it.
    using Opener = std::function<bool(const QUrl&)>;
    void setSystemOpener(Opener opener) { m_opener = std::move(opener); }

signals:
    void started(qint64 positionMs);  // the embedded player plays, from this position
    void finished(qint64 positionMs); // paused at the span's end (or the media's)
    void handedToSystemPlayer(const QString& path, const QString& reason);

private:
    void createPlayer();
    void startAtBegin();
    void finish(qint64 positionMs);
    void fallBack(const QString& reason);

    QMediaPlayer* m_player = nullptr;
    Opener m_opener;
    QString m_path;
    qint64 m_begin = 0;
    qint64 m_end = 0;
    bool m_active = false;       // a span is playing or about to
    bool m_startPending = false; // waiting for the source to load
    bool m_startedSignal = false;
    SpanEndRule m_rule;
    std::optional<Route> m_override;
    QTimer m_poll;           // checks the position between the player's reports
    QElapsedTimer m_playing; // wall time since playback started: a last resort to stop
    QSet<QString> m_failed;  // files the embedded player could not play
};

} // namespace quire::ui
