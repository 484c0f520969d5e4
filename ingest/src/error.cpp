#include "quire/ingest/error.h"

namespace quire::ingest {

const char* errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::Io:
        return "io";
    case ErrorCode::TooLarge:
        return "too-large";
    case ErrorCode::Encoding:
        return "encoding";
    case ErrorCode::Format:
        return "format";
    case ErrorCode::Encrypted:
        return "encrypted";
    case ErrorCode::Timeout:
        return "timeout";
    case ErrorCode::Crashed:
        return "crashed";
    case ErrorCode::Cancelled:
        return "cancelled";
    case ErrorCode::TooComplex:
        return "too-complex";
    case ErrorCode::Unsupported:
        return "unsupported";
    }
    return "unknown";
}

} // namespace quire::ingest
