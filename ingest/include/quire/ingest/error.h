// The error type at the ingest module's surface: a code for programs and a message a person can
// act on. Returned through std::expected; nothing is thrown out of the module.
#pragma once

#include <string>

namespace quire::ingest {

enum class ErrorCode : int {
    Io = 1,          // cannot open or read the file
    TooLarge = 2,    // over the configured size cap
    Encoding = 3,    // not decodable as text
    Format = 4,      // damaged or unsupported file structure
    Encrypted = 5,
    Timeout = 6,
    Crashed = 7,     // the extractor process died
    Cancelled = 8,
    TooComplex = 9,  // over a resource cap while decoding (zip bomb, memory cap)
    Unsupported = 10,  // no extractor for this content (e.g. a media file without an audio stream)
};

// Named errorCodeName, not toString: QTest picks up a toString() found by ADL and frees its result.
const char* errorCodeName(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::Io;
    std::string message;
};

}  // namespace quire::ingest
