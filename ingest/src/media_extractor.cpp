#include "quire/ingest/media_extractor.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <span>

#include "ffmpeg_util.h"
#include "key_frames.h"
#include "log.h"
#include "voice_activity.h"

namespace fs = std::filesystem;

namespace quire::ingest {

namespace {

constexpr int kRate = 16000;

struct DecodeReport {
    bool hasAudio = false;
    bool hasVideo = false;
    double duration = 0;   // container's claim, seconds (0 when unknown)
    double decodedEnd = 0; // how far decoding got, seconds
    int packetErrors = 0;  // packets the decoders rejected
    std::string readError; // why demuxing stopped before the end, if it did
    std::string firstLog;  // FFmpeg's first error message
};

using AudioSink = std::function<void(std::span<const float>)>;
using VideoSink = std::function<void(const AVFrame*, double seconds)>;

std::expected<ff::Codec, Error> openDecoder(const AVStream* st, const std::string& name)
{
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec)
        return std::unexpected(Error{ErrorCode::Unsupported,
                                     name + ": no decoder for " + avcodec_get_name(st->codecpar->codec_id)});
    ff::Codec ctx(avcodec_alloc_context3(codec));
    if (!ctx || avcodec_parameters_to_context(ctx.get(), st->codecpar) < 0)
        return std::unexpected(Error{ErrorCode::Format, name + ": bad codec parameters"});
    ctx->pkt_timebase = st->time_base;
    ctx->thread_count = 2;
    if (int r = avcodec_open2(ctx.get(), codec, nullptr); r < 0)
        return std::unexpected(Error{ErrorCode::Format, name + ": cannot open the " + codec->name +
                                                            " decoder (" + ff::errorText(r) + ")"});
    return ctx;
}

// Demuxes `path` once, feeding 16 kHz mono audio and (when `video` is set) decoded video frames.
std::expected<DecodeReport, Error> decode(const fs::path& path, const AudioSink& audio,
                                          const VideoSink& video, const std::atomic<bool>* cancel,
                                          const FractionProgress& progress)
{
    const std::string name = path.filename().string();
    ff::LogCapture logs;
    DecodeReport report;
    AVFormatContext* raw = nullptr;
    if (int r = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); r < 0) {
        const std::string why = logs.first().empty() ? ff::errorText(r) : logs.first();
        return std::unexpected(
            Error{ErrorCode::Format, name + " is not a readable media file (" + why + ")"});
    }
    ff::Format fmt(raw);
    if (int r = avformat_find_stream_info(fmt.get(), nullptr); r < 0)
        return std::unexpected(
            Error{ErrorCode::Format, name + ": cannot read its streams (" + ff::errorText(r) + ")"});
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
        report.duration = static_cast<double>(fmt->duration) / AV_TIME_BASE;

    const int a = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    int v = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (v >= 0 && (fmt->streams[v]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        v = -1; // cover art in an audio file
    report.hasAudio = a >= 0;
    report.hasVideo = v >= 0;
    if (!report.hasAudio && !report.hasVideo)
        return std::unexpected(Error{ErrorCode::Unsupported, name + " has no audio or video stream"});
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
        if (static_cast<int>(i) != a && (static_cast<int>(i) != v || !video))
            fmt->streams[i]->discard = AVDISCARD_ALL;

    ff::Codec audioCtx, videoCtx;
    ff::Swr swr;
    if (report.hasAudio) {
        auto ctx = openDecoder(fmt->streams[a], name);
        if (!ctx)
            return std::unexpected(ctx.error());
        audioCtx = std::move(*ctx);
    }
    if (report.hasVideo && video) {
        auto ctx = openDecoder(fmt->streams[v], name);
        if (ctx)
            videoCtx = std::move(*ctx);
        else
            log()->warn("{}: video not decoded: {}", name, ctx.error().message);
    }

    ff::Packet packet(av_packet_alloc());
    ff::Frame frame(av_frame_alloc());
    std::vector<float> resampled;
    std::int64_t samplesOut = 0;
    double videoEnd = 0;

    auto resample = [&](const AVFrame* f) -> bool {
        if (!swr) {
            AVChannelLayout in;
            if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || f->ch_layout.nb_channels == 0)
                av_channel_layout_default(&in, std::max(1, f->ch_layout.nb_channels));
            else
                av_channel_layout_copy(&in, &f->ch_layout);
            AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
            SwrContext* s = nullptr;
            const int r =
                swr_alloc_set_opts2(&s, &mono, AV_SAMPLE_FMT_FLT, kRate, &in,
                                    static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr);
            av_channel_layout_uninit(&in);
            swr.reset(s);
            if (r < 0 || swr_init(swr.get()) < 0)
                return false;
        }
        const int capacity = swr_get_out_samples(swr.get(), f ? f->nb_samples : 0) + 32;
        resampled.resize(static_cast<std::size_t>(std::max(capacity, 32)));
        uint8_t* out[1] = {reinterpret_cast<uint8_t*>(resampled.data())};
        const int n =
            swr_convert(swr.get(), out, static_cast<int>(resampled.size()),
                        f ? const_cast<const uint8_t**>(f->extended_data) : nullptr, f ? f->nb_samples : 0);
        if (n > 0) {
            samplesOut += n;
            audio(std::span<const float>(resampled.data(), static_cast<std::size_t>(n)));
        }
        return n >= 0;
    };

    auto drain = [&](AVCodecContext* ctx, bool isAudio) {
        while (avcodec_receive_frame(ctx, frame.get()) == 0) {
            if (isAudio) {
                if (!resample(frame.get()))
                    ++report.packetErrors;
            } else {
                const AVRational tb = fmt->streams[v]->time_base;
                const int64_t ts = frame->best_effort_timestamp;
                const int64_t start =
                    fmt->streams[v]->start_time == AV_NOPTS_VALUE ? 0 : fmt->streams[v]->start_time;
                const double t =
                    ts == AV_NOPTS_VALUE ? videoEnd : std::max(0.0, double(ts - start) * av_q2d(tb));
                videoEnd = std::max(videoEnd, t);
                video(frame.get(), t);
            }
            av_frame_unref(frame.get());
        }
    };

    double lastProgress = 0;
    for (;;) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return std::unexpected(Error{ErrorCode::Cancelled, "cancelled while decoding " + name});
        const int r = av_read_frame(fmt.get(), packet.get());
        if (r == AVERROR_EOF)
            break;
        if (r < 0) {
            report.readError = ff::errorText(r);
            break;
        }
        AVCodecContext* ctx = packet->stream_index == a   ? audioCtx.get()
                              : packet->stream_index == v ? videoCtx.get()
                                                          : nullptr;
        if (ctx) {
            if (avcodec_send_packet(ctx, packet.get()) < 0)
                ++report.packetErrors;
            else
                drain(ctx, ctx == audioCtx.get());
        }
        if (progress && report.duration > 0 && packet->pts != AV_NOPTS_VALUE) {
            const double t = double(packet->pts) * av_q2d(fmt->streams[packet->stream_index]->time_base);
            if (t - lastProgress > report.duration / 200) {
                lastProgress = t;
                progress(std::clamp(t / report.duration, 0.0, 0.999));
            }
        }
        av_packet_unref(packet.get());
    }
    for (AVCodecContext* ctx : {audioCtx.get(), videoCtx.get()}) {
        if (!ctx)
            continue;
        avcodec_send_packet(ctx, nullptr);
        drain(ctx, ctx == audioCtx.get());
    }
    if (swr)
        resample(nullptr); // what the resampler still holds
    report.decodedEnd = std::max(videoEnd, static_cast<double>(samplesOut) / kRate);
    report.firstLog = logs.first();
    return report;
}

std::string framePrefix(const fs::path& path)
{
    std::string stem = path.stem().string();
    for (char& c : stem)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            c = '_';
    if (stem.size() > 48)
        stem.resize(48);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%08zx",
                  std::hash<std::string>{}(fs::absolute(path).string()) & 0xffffffffu);
    return stem + "-" + hash;
}

// Orders speech and key-frame segments by time; speech segments point at the frame on screen.
void attachFrames(Document& doc, const std::vector<KeyFrame>& frames, double frameIntervalSec,
                  double mediaEnd)
{
    std::vector<bool> used(frames.size(), false);
    for (Segment& s : doc.segments) {
        const auto& t = std::get<TimeAnchor>(s.anchor.where);
        std::size_t best = frames.size();
        for (std::size_t i = 0; i < frames.size() && frames[i].seconds * 1000 <= double(t.beginMs) + 1; ++i)
            best = i;
        if (best == frames.size() && !frames.empty())
            best = 0;
        if (best < frames.size()) {
            s.framePath = frames[best].path;
            used[best] = true;
        }
    }
    for (std::size_t i = 0; i < frames.size(); ++i) {
        if (used[i])
            continue;
        double end = i + 1 < frames.size() ? frames[i + 1].seconds : frames[i].seconds + frameIntervalSec;
        if (mediaEnd > frames[i].seconds)
            end = std::min(end, mediaEnd);
        Segment s;
        s.anchor.where = TimeAnchor{std::llround(frames[i].seconds * 1000), std::llround(end * 1000)};
        s.framePath = frames[i].path;
        doc.segments.push_back(std::move(s));
    }
    std::ranges::stable_sort(doc.segments, {},
                             [](const Segment& s) { return std::get<TimeAnchor>(s.anchor.where).beginMs; });
}

} // namespace

std::expected<std::vector<float>, Error> decodeAudio16kMono(const fs::path& path,
                                                            const std::atomic<bool>* cancel)
{
    std::vector<float> samples;
    auto report = decode(
        path, [&samples](std::span<const float> s) { samples.insert(samples.end(), s.begin(), s.end()); },
        nullptr, cancel, {});
    if (!report)
        return std::unexpected(report.error());
    if (!report->hasAudio)
        return std::unexpected(
            Error{ErrorCode::Unsupported, path.filename().string() + " has no audio stream"});
    return samples;
}

std::expected<Document, Error> extractMedia(const fs::path& path, const MediaOptions& options,
                                            AsrEngine* engine, const std::atomic<bool>* cancel,
                                            const FractionProgress& progress)
{
    const std::string name = path.filename().string();
    std::unique_ptr<AsrEngine> ownEngine;
    std::string asrProblem;
    if (options.transcribe && !engine) {
        auto created = createPocketSphinxEngine(options.asrModelDir);
        if (created)
            ownEngine = std::move(*created);
        else
            asrProblem = created.error().message;
        engine = ownEngine.get();
    }

    Document doc;
    doc.source.path = path.string();
    doc.source.kind = SourceKind::Audio;
    doc.title = name;
    doc.language = "en";

    int asrFailures = 0;
    VoiceActivitySplitter vad;
    auto onSpan = [&](SpeechSpan&& span) {
        if (!engine)
            return;
        auto result = engine->recognize(span.samples);
        if (!result) {
            ++asrFailures;
            asrProblem = result.error().message;
            return;
        }
        if (result->text.empty())
            return;
        Segment s;
        s.text = std::move(result->text);
        s.anchor.where = TimeAnchor{span.beginSample * 1000 / kRate, span.endSample() * 1000 / kRate};
        doc.segments.push_back(std::move(s));
    };

    const fs::path frameDir =
        options.frameDir.empty() ? fs::temp_directory_path() / "quire-frames" : fs::path(options.frameDir);
    KeyFrameWriter frames(options, frameDir, framePrefix(path));
    std::string frameProblem;
    VideoSink onVideo;
    if (options.keyFrames)
        onVideo = [&](const AVFrame* f, double t) {
            if (auto r = frames.offer(f, t); !r)
                frameProblem = r.error().message;
        };

    auto report = decode(
        path, [&](std::span<const float> s) { vad.feed(s, onSpan); }, onVideo, cancel, progress);
    if (!report)
        return std::unexpected(report.error());
    vad.finish(onSpan);
    if (report->hasVideo)
        doc.source.kind = SourceKind::Video;
    if (!frames.frames().empty())
        attachFrames(doc, frames.frames(), options.frameIntervalSec, report->decodedEnd);

    std::vector<std::string> problems;
    if (!report->hasAudio)
        problems.push_back("no audio stream: key frames only");
    else if (options.transcribe && !asrProblem.empty())
        problems.push_back(
            "speech recognition failed" +
            (asrFailures ? " on " + std::to_string(asrFailures) + " utterance(s)" : std::string()) + ": " +
            asrProblem);
    if (!frameProblem.empty())
        problems.push_back(frameProblem);
    const bool endsEarly = report->duration > 0 && report->decodedEnd + 1.0 < report->duration * 0.95;
    if (endsEarly || !report->readError.empty()) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "the file ends early or is damaged: decoded %.1f s of %.1f s",
                      report->decodedEnd, report->duration);
        std::string p = buf;
        const std::string why = !report->firstLog.empty() ? report->firstLog : report->readError;
        if (!why.empty())
            p += " (" + why + ")";
        problems.push_back(p);
    }
    if (report->hasAudio && report->decodedEnd <= 0 && frames.frames().empty())
        return std::unexpected(
            Error{ErrorCode::Format,
                  name + ": nothing could be decoded" +
                      (report->firstLog.empty() ? std::string() : " (" + report->firstLog + ")")});
    doc.status = problems.empty() ? SourceStatus::Ingested : SourceStatus::Partial;
    for (const auto& p : problems)
        doc.error += (doc.error.empty() ? "" : "; ") + p;
    if (progress)
        progress(1.0);
    return doc;
}

} // namespace quire::ingest
