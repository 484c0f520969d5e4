#include <pocketsphinx.h>

#include <algorithm>
#include <cmath>

#include "quire/ingest/asr_engine.h"

namespace quire::ingest {

namespace {

struct ConfigFree {
    void operator()(cmd_ln_t* c) const { cmd_ln_free_r(c); }
};
struct DecoderFree {
    void operator()(ps_decoder_t* d) const { ps_free(d); }
};

// "the(2)" -> "the"; fillers and silences are dropped (empty).
std::string cleanWord(const char* word)
{
    std::string w = word ? word : "";
    if (w.empty() || w.front() == '<' || w.front() == '[' || w.front() == '+')
        return {};
    if (const auto paren = w.find('('); paren != std::string::npos)
        w.erase(paren);
    return w;
}

class PocketSphinxEngine final : public AsrEngine {
public:
    PocketSphinxEngine(std::unique_ptr<cmd_ln_t, ConfigFree> config,
                       std::unique_ptr<ps_decoder_t, DecoderFree> decoder)
        : m_config(std::move(config)), m_decoder(std::move(decoder))
    {
    }

    std::string name() const override { return "pocketsphinx"; }

    std::expected<AsrResult, Error> recognize(std::span<const float> samples) override
    {
        m_pcm.resize(samples.size());
        std::ranges::transform(samples, m_pcm.begin(), [](float s) {
            return static_cast<std::int16_t>(std::lround(std::clamp(s, -1.0f, 1.0f) * 32767.0f));
        });
        if (ps_start_utt(m_decoder.get()) < 0)
            return std::unexpected(Error{ErrorCode::Crashed, "PocketSphinx could not start an utterance"});
        if (ps_process_raw(m_decoder.get(), m_pcm.data(), m_pcm.size(), FALSE, TRUE) < 0) {
            ps_end_utt(m_decoder.get());
            return std::unexpected(Error{ErrorCode::Crashed, "PocketSphinx could not process the audio"});
        }
        ps_end_utt(m_decoder.get());
        AsrResult result;
        const int frameRate = cmd_ln_int32_r(m_config.get(), "-frate");
        for (ps_seg_t* seg = ps_seg_iter(m_decoder.get()); seg; seg = ps_seg_next(seg)) {
            std::string word = cleanWord(ps_seg_word(seg));
            if (word.empty())
                continue;
            int start = 0, end = 0;
            ps_seg_frames(seg, &start, &end);
            if (!result.text.empty())
                result.text += ' ';
            result.text += word;
            result.words.push_back(
                {std::move(word), start * 1000LL / frameRate, (end + 1) * 1000LL / frameRate});
        }
        return result;
    }

private:
    std::unique_ptr<cmd_ln_t, ConfigFree> m_config;
    std::unique_ptr<ps_decoder_t, DecoderFree> m_decoder;
    std::vector<std::int16_t> m_pcm;
};

} // namespace

std::expected<std::unique_ptr<AsrEngine>, Error>
createPocketSphinxEngine(const std::filesystem::path& modelDir)
{
    const std::string hmm = (modelDir / "en-us").string();
    const std::string lm = (modelDir / "en-us.lm.bin").string();
    const std::string dict = (modelDir / "cmudict-en-us.dict").string();
    for (const std::string& p : {hmm, lm, dict})
        if (!std::filesystem::exists(p))
            return std::unexpected(
                Error{ErrorCode::Unsupported,
                      "speech model file " + p + " is missing (install pocketsphinx-en-us)"});
    std::unique_ptr<cmd_ln_t, ConfigFree> config(
        cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(), "-dict", dict.c_str(),
                    "-samprate", "16000", "-logfn", "/dev/null", nullptr));
    if (!config)
        return std::unexpected(Error{ErrorCode::Unsupported, "PocketSphinx rejected its configuration"});
    std::unique_ptr<ps_decoder_t, DecoderFree> decoder(ps_init(config.get()));
    if (!decoder)
        return std::unexpected(
            Error{ErrorCode::Unsupported, "PocketSphinx could not load the model in " + modelDir.string()});
    return std::make_unique<PocketSphinxEngine>(std::move(config), std::move(decoder));
}

} // namespace quire::ingest
