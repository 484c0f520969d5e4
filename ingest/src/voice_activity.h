// Energy-based voice activity detection on 16 kHz mono audio, streamed: frames of 30 ms are
// speech when their energy is 12 dB above the noise floor (the 10th percentile of the last ~9 s
// of frame energies, never below -60 dBFS). A span opens after 3 speech frames, closes after
// `hangoverMs` of non-speech, keeps `paddingMs` of audio before and after, and is cut at the
// quietest frame of its last 2 s when it reaches `maxSpanMs` (so recognisers get bounded input).
// One object per stream; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <vector>

namespace quire::ingest {

struct VadOptions {
    int sampleRate = 16000;
    double thresholdDb = 12;
    double minFloorDb = -60;
    int hangoverMs = 450;
    int paddingMs = 200;
    int minSpanMs = 250;
    int maxSpanMs = 20000;
};

struct SpeechSpan {
    std::int64_t beginSample = 0; // from the start of the stream
    std::vector<float> samples;
    std::int64_t endSample() const { return beginSample + static_cast<std::int64_t>(samples.size()); }
};

class VoiceActivitySplitter {
public:
    using SpanSink = std::function<void(SpeechSpan&&)>;

    explicit VoiceActivitySplitter(VadOptions options = {});
    void feed(std::span<const float> samples, const SpanSink& sink);
    void finish(const SpanSink& sink);

private:
    void frame(const SpanSink& sink);
    void close(const SpanSink& sink, std::size_t keepFrames);
    double floorDb();

    VadOptions m_o;
    std::size_t m_frameSize;
    std::vector<float> m_pending; // samples of the frame being filled
    std::deque<float> m_preRoll;  // the last `paddingMs` before a span opens
    std::deque<double> m_history; // recent frame energies (dB) for the noise floor
    std::int64_t m_position = 0;  // samples consumed into frames
    bool m_inSpan = false;
    int m_speechRun = 0;  // consecutive speech frames while outside a span
    int m_silenceRun = 0; // consecutive non-speech frames inside a span
    SpeechSpan m_span;
    std::vector<double> m_spanEnergies; // per frame of m_span, aligned to its end
};

} // namespace quire::ingest
