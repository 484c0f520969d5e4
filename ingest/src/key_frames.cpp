#include "key_frames.h"

#include <cmath>
#include <cstdio>
#include <fstream>

namespace quire::ingest {

namespace {
constexpr int kThumbW = 32, kThumbH = 18;
}

KeyFrameWriter::KeyFrameWriter(const MediaOptions& options, std::filesystem::path dir, std::string prefix)
    : m_options(options), m_dir(std::move(dir)), m_prefix(std::move(prefix))
{
}

bool KeyFrameWriter::sceneChanged(const AVFrame* f)
{
    m_thumbScaler.reset(sws_getCachedContext(m_thumbScaler.release(), f->width, f->height,
                                             static_cast<AVPixelFormat>(f->format), kThumbW, kThumbH,
                                             AV_PIX_FMT_GRAY8, SWS_AREA, nullptr, nullptr, nullptr));
    if (!m_thumbScaler)
        return false;
    m_thumb.assign(kThumbW * kThumbH, 0);
    uint8_t* dst[4] = {m_thumb.data(), nullptr, nullptr, nullptr};
    int dstStride[4] = {kThumbW, 0, 0, 0};
    sws_scale(m_thumbScaler.get(), f->data, f->linesize, 0, f->height, dst, dstStride);
    bool changed = false;
    if (m_previousThumb.size() == m_thumb.size()) {
        double diff = 0;
        for (std::size_t i = 0; i < m_thumb.size(); ++i)
            diff += std::abs(int(m_thumb[i]) - int(m_previousThumb[i]));
        changed = diff / (255.0 * static_cast<double>(m_thumb.size())) > m_options.sceneThreshold;
    }
    m_previousThumb.swap(m_thumb);
    return changed;
}

std::expected<void, Error> KeyFrameWriter::offer(const AVFrame* frame, double seconds)
{
    if (m_failed || !frame || frame->width <= 0 || frame->height <= 0)
        return {};
    bool key = m_frames.empty() || seconds - m_lastKey >= m_options.frameIntervalSec;
    if (seconds - m_lastCheck >= 0.25) { // scene checks four times a second are plenty
        m_lastCheck = seconds;
        const bool changed = sceneChanged(frame);
        key = key || (changed && seconds - m_lastKey >= 1.0);
    }
    if (!key)
        return {};
    auto written = write(frame, seconds);
    if (!written)
        m_failed = true;
    return written;
}

std::expected<void, Error> KeyFrameWriter::write(const AVFrame* f, double seconds)
{
    if (!m_encoder) {
        const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
        if (!codec)
            return std::unexpected(
                Error{ErrorCode::Unsupported, "FFmpeg has no JPEG encoder; no key frames written"});
        int w = f->width, h = f->height;
        if (w > m_options.frameMaxWidth && m_options.frameMaxWidth > 0) {
            h = static_cast<int>(std::lround(double(h) * m_options.frameMaxWidth / w));
            w = m_options.frameMaxWidth;
        }
        w &= ~1;
        h &= ~1;
        m_encoder.reset(avcodec_alloc_context3(codec));
        m_encoder->width = std::max(2, w);
        m_encoder->height = std::max(2, h);
        m_encoder->pix_fmt = AV_PIX_FMT_YUVJ420P;
        m_encoder->time_base = {1, 25};
        m_encoder->flags |= AV_CODEC_FLAG_QSCALE;
        m_encoder->global_quality = FF_QP2LAMBDA * 4;
        if (int r = avcodec_open2(m_encoder.get(), codec, nullptr); r < 0)
            return std::unexpected(
                Error{ErrorCode::Unsupported, "cannot open the JPEG encoder: " + ff::errorText(r)});
        m_outFrame.reset(av_frame_alloc());
        m_outFrame->format = AV_PIX_FMT_YUVJ420P;
        m_outFrame->width = m_encoder->width;
        m_outFrame->height = m_encoder->height;
        if (av_frame_get_buffer(m_outFrame.get(), 0) < 0)
            return std::unexpected(Error{ErrorCode::TooComplex, "out of memory for a key frame"});
        m_packet.reset(av_packet_alloc());
        std::error_code ec;
        std::filesystem::create_directories(m_dir, ec);
        if (ec)
            return std::unexpected(Error{ErrorCode::Io, "cannot create the key-frame folder " +
                                                            m_dir.string() + ": " + ec.message()});
    }
    m_outScaler.reset(sws_getCachedContext(
        m_outScaler.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format), m_encoder->width,
        m_encoder->height, AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!m_outScaler || av_frame_make_writable(m_outFrame.get()) < 0)
        return std::unexpected(Error{ErrorCode::Unsupported, "cannot convert video frames for key frames"});
    sws_scale(m_outScaler.get(), f->data, f->linesize, 0, f->height, m_outFrame->data, m_outFrame->linesize);
    m_outFrame->pts = static_cast<int64_t>(m_frames.size());
    m_outFrame->quality = m_encoder->global_quality;
    if (int r = avcodec_send_frame(m_encoder.get(), m_outFrame.get()); r < 0)
        return std::unexpected(Error{ErrorCode::Format, "JPEG encoding failed: " + ff::errorText(r)});
    if (int r = avcodec_receive_packet(m_encoder.get(), m_packet.get()); r < 0)
        return std::unexpected(Error{ErrorCode::Format, "JPEG encoding failed: " + ff::errorText(r)});
    const long long ms = std::llround(seconds * 1000);
    const std::filesystem::path file = m_dir / (m_prefix + "-" + std::to_string(ms) + ".jpg");
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(m_packet->data), m_packet->size);
    av_packet_unref(m_packet.get());
    if (!out)
        return std::unexpected(Error{ErrorCode::Io, "cannot write " + file.string()});
    m_frames.push_back({seconds, file.string()});
    m_lastKey = seconds;
    return {};
}

} // namespace quire::ingest
