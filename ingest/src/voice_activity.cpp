#include "voice_activity.h"

#include <algorithm>
#include <cmath>

namespace quire::ingest {

VoiceActivitySplitter::VoiceActivitySplitter(VadOptions options)
    : m_o(options), m_frameSize(static_cast<std::size_t>(options.sampleRate * 30 / 1000))
{
    m_pending.reserve(m_frameSize);
}

double VoiceActivitySplitter::floorDb()
{
    if (m_history.empty())
        return m_o.minFloorDb;
    std::vector<double> sorted(m_history.begin(), m_history.end());
    const std::size_t k = sorted.size() / 10;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
    return std::max(m_o.minFloorDb, sorted[k]);
}

void VoiceActivitySplitter::feed(std::span<const float> samples, const SpanSink& sink)
{
    for (float s : samples) {
        m_pending.push_back(s);
        if (m_pending.size() == m_frameSize) {
            frame(sink);
            m_pending.clear();
        }
    }
}

void VoiceActivitySplitter::frame(const SpanSink& sink)
{
    double energy = 0;
    for (float s : m_pending)
        energy += double(s) * s;
    const double db = 10 * std::log10(energy / static_cast<double>(m_frameSize) + 1e-12);
    const bool speech = db > floorDb() + m_o.thresholdDb;
    m_history.push_back(db);
    if (m_history.size() > 300) // 9 s
        m_history.pop_front();

    const std::size_t padding =
        static_cast<std::size_t>(m_o.sampleRate) * static_cast<std::size_t>(m_o.paddingMs) / 1000;
    const int hangoverFrames = m_o.hangoverMs / 30;
    const std::size_t maxSamples =
        static_cast<std::size_t>(m_o.sampleRate) * static_cast<std::size_t>(m_o.maxSpanMs) / 1000;

    if (!m_inSpan) {
        m_speechRun = speech ? m_speechRun + 1 : 0;
        m_preRoll.insert(m_preRoll.end(), m_pending.begin(), m_pending.end());
        const std::size_t keep = padding + m_frameSize * 3;
        while (m_preRoll.size() > keep)
            m_preRoll.pop_front();
        if (m_speechRun >= 3) {
            m_inSpan = true;
            m_silenceRun = 0;
            m_span.samples.assign(m_preRoll.begin(), m_preRoll.end());
            m_span.beginSample = m_position + static_cast<std::int64_t>(m_frameSize) -
                                 static_cast<std::int64_t>(m_preRoll.size());
            m_spanEnergies.assign(m_span.samples.size() / m_frameSize, db);
            m_preRoll.clear();
        }
    } else {
        m_span.samples.insert(m_span.samples.end(), m_pending.begin(), m_pending.end());
        m_spanEnergies.push_back(db);
        m_silenceRun = speech ? 0 : m_silenceRun + 1;
        if (m_silenceRun >= hangoverFrames) {
            // Keep `padding` of the trailing silence.
            const std::size_t silent = static_cast<std::size_t>(m_silenceRun) * m_frameSize;
            const std::size_t drop = silent > padding ? silent - padding : 0;
            m_span.samples.resize(m_span.samples.size() - drop);
            close(sink, 0);
        } else if (m_span.samples.size() >= maxSamples) {
            // Cut at the quietest frame of the last 2 s; the rest starts the next span.
            const std::size_t frames = m_spanEnergies.size();
            const std::size_t window = std::min<std::size_t>(frames - 1, static_cast<std::size_t>(2000 / 30));
            std::size_t best = frames - 1;
            for (std::size_t i = frames - window; i < frames; ++i)
                if (m_spanEnergies[i] < m_spanEnergies[best])
                    best = i;
            close(sink, frames - best - 1);
        }
    }
    m_position += static_cast<std::int64_t>(m_frameSize);
}

// Emits the span except its last `keepFrames` frames, which open the next span (when > 0).
void VoiceActivitySplitter::close(const SpanSink& sink, std::size_t keepFrames)
{
    SpeechSpan next;
    if (keepFrames > 0) {
        const std::size_t keep = std::min(m_span.samples.size(), keepFrames * m_frameSize);
        next.samples.assign(m_span.samples.end() - static_cast<std::ptrdiff_t>(keep), m_span.samples.end());
        m_span.samples.resize(m_span.samples.size() - keep);
        next.beginSample = m_span.endSample();
    }
    const std::size_t minSamples =
        static_cast<std::size_t>(m_o.sampleRate) * static_cast<std::size_t>(m_o.minSpanMs) / 1000;
    if (m_span.samples.size() >= minSamples)
        sink(std::move(m_span));
    m_span = std::move(next);
    if (keepFrames > 0) {
        std::vector<double> tail(m_spanEnergies.end() -
                                     static_cast<std::ptrdiff_t>(std::min(keepFrames, m_spanEnergies.size())),
                                 m_spanEnergies.end());
        m_spanEnergies = std::move(tail);
        m_silenceRun = 0;
    } else {
        m_spanEnergies.clear();
        m_inSpan = false;
        m_speechRun = 0;
        m_preRoll.clear();
    }
}

void VoiceActivitySplitter::finish(const SpanSink& sink)
{
    if (m_inSpan) {
        m_span.samples.insert(m_span.samples.end(), m_pending.begin(), m_pending.end());
        m_pending.clear();
        close(sink, 0);
    }
}

} // namespace quire::ingest
