// Options for extracting one file, per kind. Plain values: copied into the helper process as
// command-line arguments (worker_protocol.cpp keeps both directions in one place).
#pragma once

#include <cstdint>
#include <string>

#include "quire/ingest/pdf_extractor.h"
#include "quire/ingest/text_extractor.h"

namespace quire::ingest {

struct DocxOptions {
    std::uint64_t maxUncompressedBytes = std::uint64_t{256} << 20; // per document part actually inflated
    double maxCompressionRatio = 200; // uncompressed / compressed size of one part
};

struct MediaOptions {
    bool transcribe = true;
    std::string asrModelDir =
        "/usr/share/pocketsphinx/model/en-us"; // holds en-us/, en-us.lm.bin, cmudict-en-us.dict
    bool keyFrames = true;                     // video only
    std::string frameDir;                      // where key frames are written; empty: <tmp>/quire-frames
    double frameIntervalSec = 10;              // a key frame at least this often
    double sceneThreshold = 0.25;              // mean absolute change (0..1) of a small gray thumbnail
    int frameMaxWidth = 640;                   // key frames are scaled down to this width
};

struct ExtractOptions {
    TextOptions text;
    PdfOptions pdf;
    DocxOptions docx;
    MediaOptions media;
};

} // namespace quire::ingest
