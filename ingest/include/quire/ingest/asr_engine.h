// Speech recognition behind one small interface, so that the PocketSphinx engine used today can
// be replaced (Whisper) without touching the media pipeline. Input: 16 kHz mono samples in
// [-1, 1] of one utterance (the voice-activity splitter bounds them to ~20 s). An engine object
// is used by one thread at a time; create one per thread.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quire/ingest/error.h"

namespace quire::ingest {

struct AsrWord {
    std::string text;
    std::int64_t beginMs = 0; // from the start of the utterance
    std::int64_t endMs = 0;
};

struct AsrResult {
    std::string text; // words separated by single spaces; empty when nothing was recognised
    std::vector<AsrWord> words;
};

class AsrEngine {
public:
    virtual ~AsrEngine() = default;
    virtual std::string name() const = 0;
    virtual std::expected<AsrResult, Error> recognize(std::span<const float> samples16k) = 0;
};

// CMU PocketSphinx (Debian's 0.8+5prealpha) with the US English acoustic model, language model
// and dictionary under `modelDir` (en-us/, en-us.lm.bin, cmudict-en-us.dict).
std::expected<std::unique_ptr<AsrEngine>, Error>
createPocketSphinxEngine(const std::filesystem::path& modelDir = "/usr/share/pocketsphinx/model/en-us");

} // namespace quire::ingest
