// Audio and video to time-anchored segments with FFmpeg. Any container FFmpeg reads (wav, mp3,
// m4a, flac, ogg, mp4, mkv, webm, ...) is demuxed once: the best audio stream is decoded and
// resampled to 16 kHz mono, split by voice activity, and each utterance is recognised by an
// AsrEngine into a Segment with TimeAnchor{begin, end} in milliseconds. For video, key frames
// (the first, scene changes, and at least every N seconds) are written as JPEG files; each
// speech segment refers to the key frame shown when it starts (Segment::framePath), and a key
// frame with no speech after it gets a segment of its own with empty text.
// Outcomes: a file that decodes only in part is Partial ("ends early"); a video without audio
// is Partial (frames only); a file with no audio and no video stream, or one FFmpeg cannot
// open, is an error (Unsupported / Format). Thread-safe for different files.
#pragma once

#include <atomic>
#include <expected>
#include <filesystem>
#include <vector>

#include "quire/ingest/asr_engine.h"
#include "quire/ingest/error.h"
#include "quire/ingest/extract_options.h"
#include "quire/ingest/extractor.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

// The best audio stream of `path` as 16 kHz mono samples in [-1, 1].
std::expected<std::vector<float>, Error> decodeAudio16kMono(const std::filesystem::path& path,
                                                            const std::atomic<bool>* cancel = nullptr);

// `engine` may be null: a PocketSphinx engine is then created from options.asrModelDir when
// options.transcribe is set.
std::expected<Document, Error> extractMedia(const std::filesystem::path& path,
                                            const MediaOptions& options = {}, AsrEngine* engine = nullptr,
                                            const std::atomic<bool>* cancel = nullptr,
                                            const FractionProgress& progress = {});

} // namespace quire::ingest
