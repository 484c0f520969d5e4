// Picks key frames from a decoded video stream (the first frame, a scene change, or at least
// every `intervalSec`) and writes them as JPEG files. One object per video; not thread-safe.
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "ffmpeg_util.h"
#include "quire/ingest/error.h"
#include "quire/ingest/extract_options.h"

namespace quire::ingest {

struct KeyFrame {
    double seconds = 0;
    std::string path;
};

class KeyFrameWriter {
public:
    // Files are named <dir>/<prefix>-<milliseconds>.jpg.
    KeyFrameWriter(const MediaOptions& options, std::filesystem::path dir, std::string prefix);

    // Looks at one decoded frame at time `seconds`; writes it when it is a key frame.
    // Errors (disk full, encoder missing) are returned once and stop further frames.
    std::expected<void, Error> offer(const AVFrame* frame, double seconds);
    const std::vector<KeyFrame>& frames() const { return m_frames; }

private:
    bool sceneChanged(const AVFrame* frame);
    std::expected<void, Error> write(const AVFrame* frame, double seconds);

    MediaOptions m_options;
    std::filesystem::path m_dir;
    std::string m_prefix;
    std::vector<KeyFrame> m_frames;
    double m_lastKey = -1e9;
    double m_lastCheck = -1e9;
    std::vector<unsigned char> m_thumb, m_previousThumb;
    ff::Sws m_thumbScaler, m_outScaler;
    ff::Codec m_encoder;
    ff::Frame m_outFrame;
    ff::Packet m_packet;
    bool m_failed = false;
};

} // namespace quire::ingest
