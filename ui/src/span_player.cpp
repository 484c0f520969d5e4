#include "quire/ui/span_player.h"

#include <algorithm>

#include <QDesktopServices>

#if QUIRE_HAVE_MULTIMEDIA
#include <QAudioDevice>
#include <QAudioOutput>
#include <QMediaDevices>
#include <QMediaPlayer>
#endif

namespace quire::ui {

namespace {
constexpr int kPollMs = 40;
constexpr qint64 kMinSpanMs = 1000;
constexpr qint64 kSeekSlackMs = 250; // a seek lands on a packet boundary, a little early
} // namespace

void SpanEndRule::arm(qint64 beginMs, qint64 endMs)
{
    m_begin = beginMs;
    m_end = endMs;
    m_armed = true;
    m_sawInside = false;
}

bool SpanEndRule::reached(qint64 positionMs, qint64 wallMs)
{
    if (!m_armed)
        return false;
    if (positionMs >= m_begin - kSeekSlackMs && positionMs < m_end)
        m_sawInside = true;
    if ((m_sawInside && positionMs >= m_end) || wallMs > (m_end - m_begin) + kWallSlackMs) {
        m_armed = false;
        return true;
    }
    return false;
}

SpanPlayer::Route SpanPlayer::chooseRoute(const RouteInputs& in)
{
    return in.haveMultimedia && in.haveAudioOutput && !in.fileFailedBefore ? Route::Embedded
                                                                           : Route::SystemPlayer;
}

bool SpanPlayer::haveMultimedia()
{
    return QUIRE_HAVE_MULTIMEDIA != 0;
}

bool SpanPlayer::haveAudioOutput()
{
#if QUIRE_HAVE_MULTIMEDIA
    return !QMediaDevices::audioOutputs().isEmpty();
#else
    return false;
#endif
}

SpanPlayer::SpanPlayer(QObject* parent)
    : QObject(parent), m_opener([](const QUrl& url) { return QDesktopServices::openUrl(url); })
{
    m_poll.setInterval(kPollMs);
    connect(&m_poll, &QTimer::timeout, this, [this] {
#if QUIRE_HAVE_MULTIMEDIA
        if (m_player)
            checkPosition(m_player->position());
#endif
    });
}

SpanPlayer::~SpanPlayer() = default;

QMediaPlayer* SpanPlayer::mediaPlayer()
{
    createPlayer();
    return m_player;
}

void SpanPlayer::play(const QString& path, qint64 beginMs, qint64 endMs)
{
    stop();
    m_path = path;
    m_begin = std::max<qint64>(0, beginMs);
    m_end = std::max(endMs, m_begin + kMinSpanMs);
    const RouteInputs in{haveMultimedia(), haveAudioOutput(), m_failed.contains(path)};
    const Route route = m_override && haveMultimedia() ? *m_override : chooseRoute(in);
    if (route == Route::SystemPlayer) {
        if (!in.haveMultimedia)
            fallBack(tr("this build plays no media itself"));
        else if (!in.haveAudioOutput)
            fallBack(tr("no audio output device"));
        else if (in.fileFailedBefore)
            fallBack(tr("the built-in player could not play this file before"));
        else
            fallBack(tr("the system player was chosen"));
        return;
    }
#if QUIRE_HAVE_MULTIMEDIA
    createPlayer();
    m_active = true;
    m_startedSignal = false;
    m_rule.disarm();
    const QUrl url = QUrl::fromLocalFile(path);
    const auto status = m_player->mediaStatus();
    const bool loaded = status == QMediaPlayer::LoadedMedia || status == QMediaPlayer::BufferedMedia ||
                        status == QMediaPlayer::BufferingMedia || status == QMediaPlayer::EndOfMedia;
    if (m_player->source() == url && loaded) {
        startAtBegin();
        return;
    }
    // Setting a new source loads it; LoadedMedia then starts the span (see createPlayer()).
    m_startPending = true;
    m_player->setSource(url);
    if (m_startPending && m_player->mediaStatus() == QMediaPlayer::LoadedMedia)
        startAtBegin();
#endif
}

void SpanPlayer::stop()
{
    m_poll.stop();
    m_startPending = false;
    if (!m_active)
        return;
    m_active = false;
#if QUIRE_HAVE_MULTIMEDIA
    if (m_player)
        m_player->pause();
#endif
}

void SpanPlayer::checkPosition(qint64 positionMs)
{
    if (m_active && !m_startPending &&
        m_rule.reached(positionMs, m_playing.isValid() ? m_playing.elapsed() : 0))
        finish(positionMs);
}

void SpanPlayer::finish(qint64 positionMs)
{
    m_active = false;
    m_poll.stop();
    m_playing.invalidate();
    m_rule.disarm();
#if QUIRE_HAVE_MULTIMEDIA
    if (m_player && m_player->playbackState() == QMediaPlayer::PlayingState)
        m_player->pause();
#endif
    emit finished(positionMs);
}

void SpanPlayer::fallBack(const QString& reason)
{
    stop();
    m_opener(QUrl::fromLocalFile(m_path));
    emit handedToSystemPlayer(m_path, reason);
}

void SpanPlayer::startAtBegin()
{
#if QUIRE_HAVE_MULTIMEDIA
    m_startPending = false;
    m_playing.invalidate();
    m_rule.arm(m_begin, m_end);
    m_player->setPosition(m_begin);
    m_player->play();
    m_poll.start();
#endif
}

void SpanPlayer::createPlayer()
{
#if QUIRE_HAVE_MULTIMEDIA
    if (m_player)
        return;
    m_player = new QMediaPlayer(this);
    // Without an output device a QAudioOutput never lets playback start; without one attached
    // the player still runs (silently), which only a forced route asks for.
    if (haveAudioOutput())
        m_player->setAudioOutput(new QAudioOutput(m_player));
    connect(m_player, &QMediaPlayer::mediaStatusChanged, this, [this](QMediaPlayer::MediaStatus s) {
        if (s == QMediaPlayer::LoadedMedia && m_active && m_startPending) {
            startAtBegin();
        } else if (s == QMediaPlayer::EndOfMedia && m_active) {
            finish(m_player->position());
        } else if (s == QMediaPlayer::InvalidMedia && m_active) {
            m_failed.insert(m_path);
            fallBack(tr("the built-in player cannot read this file"));
        }
    });
    connect(m_player, &QMediaPlayer::playbackStateChanged, this, [this](QMediaPlayer::PlaybackState s) {
        if (s == QMediaPlayer::PlayingState && m_active && !m_startedSignal) {
            m_startedSignal = true;
            m_playing.start();
            emit started(m_player->position());
        }
    });
    connect(m_player, &QMediaPlayer::positionChanged, this, &SpanPlayer::checkPosition);
    connect(m_player, &QMediaPlayer::errorOccurred, this,
            [this](QMediaPlayer::Error, const QString& message) {
                if (!m_active && !m_startPending)
                    return;
                m_failed.insert(m_path);
                fallBack(message.isEmpty() ? tr("the built-in player failed") : message);
            });
#endif
}

} // namespace quire::ui
