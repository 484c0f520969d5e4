// BENCH asr: real-time factor of speech transcription (decode with FFmpeg, resample, voice
// activity split, PocketSphinx recognition) as audio seconds per wall second, on about a minute
// of espeak-ng speech plus shared/testdata/media/jfk.wav when present. Baseline 1.0 = real time.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_util.h"
#include "quire/ingest/media_extractor.h"

using namespace quire;
namespace fs = std::filesystem;

int main()
{
    bench::TempDir dir;
    std::string script;
    const char* sentences[] = {
        "Please call me tomorrow morning about the contract.",
        "We will meet at the office on Friday.",
        "The quick brown fox jumps over the lazy dog.",
        "The weather is nice today and the sun is shining.",
        "I would like to order a large pizza for dinner.",
        "The report is due at the end of the month.",
        "Our team finished the project two weeks early.",
        "Let us review the budget before the next meeting.",
    };
    for (int round = 0; round < 2; ++round)
        for (const char* s : sentences)
            script += std::string(s) + " ";
    const fs::path wav = dir.path() / "speech.wav";
    const std::string cmd = "espeak-ng -v en-us+f2 -s 150 -w '" + wav.string() + "' '" + script + "'";
    if (std::system(cmd.c_str()) != 0) {
        std::printf("espeak-ng is not installed; nothing to measure\n");
        return 77;
    }
    std::vector<fs::path> inputs = {wav};
    const fs::path jfk = fs::path(QUIRE_SHARED_DIR) / "testdata/media/jfk.wav";
    if (fs::exists(jfk))
        inputs.push_back(jfk);

    auto engine = ingest::createPocketSphinxEngine();
    if (!engine) {
        std::printf("%s\n", engine.error().message.c_str());
        return 1;
    }
    double audio = 0, wall = 0;
    const double cpu0 = bench::cpuSeconds();
    std::size_t segments = 0;
    ingest::MediaOptions options;
    for (const auto& input : inputs) {
        auto samples = ingest::decodeAudio16kMono(input);
        if (!samples)
            return 1;
        audio += static_cast<double>(samples->size()) / 16000.0;
        wall += bench::seconds([&] {
            auto doc = ingest::extractMedia(input, options, engine->get());
            segments += doc ? doc->segments.size() : 0;
        });
    }
    const double rtf = audio / wall;
    std::printf("# CPU time %.1f s: %.2f audio seconds per CPU second\n", bench::cpuSeconds() - cpu0,
                audio / (bench::cpuSeconds() - cpu0));
    std::printf("# %.1f s of audio in %.1f s, %zu segments (engine %s, model loaded beforehand)\n", audio,
                wall, segments, (*engine)->name().c_str());
    std::printf("BENCH asr ours=%.2f audio-s/s baseline=1.00 audio-s/s (real time) ratio=%.2f\n", rtf, rtf);
    return 0;
}
