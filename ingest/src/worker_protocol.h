// The contract between the Ingestor and the helper process quire-ingest-worker.
//   quire-ingest-worker --kind pdf|docx|audio|video --path FILE [option flags...]   (one file)
//   quire-ingest-worker --serve                                                     (many files)
// With --serve the helper reads 'R' frames from stdin, each holding the arguments of one file
// separated by NUL bytes, and answers each in turn; it exits at the end of its input. For every
// file it writes framed messages to its stdout: 'P' progress (a double in 0..1), then one 'D'
// (an encoded Document) or 'E' (an i32 error code and a message). Its stderr is free text
// (library diagnostics); the parent keeps the tail for the quarantine reason.
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "quire/ingest/error.h"
#include "quire/ingest/extract_options.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest::worker {

enum class Frame : char { Request = 'R', Progress = 'P', Document = 'D', Error = 'E' };

struct Request {
    SourceKind kind = SourceKind::Unknown;
    std::filesystem::path path;
    ExtractOptions options;
};

std::vector<std::string> toArguments(const Request& request);
std::expected<Request, std::string> fromArguments(const std::vector<std::string>& args);

// One frame: a type byte, a little-endian u64 length, the payload.
std::string frame(Frame type, std::string_view payload);
std::string errorPayload(const Error& error);
std::string requestPayload(const std::vector<std::string>& args);
std::vector<std::string> argumentsFromPayload(std::string_view payload);
Error errorFromPayload(std::string_view payload);

} // namespace quire::ingest::worker
