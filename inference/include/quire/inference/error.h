// The error type at the engine's surface. Engine functions return std::expected<T, Error>;
// nothing is thrown across the module boundary.
#pragma once

#include <string>

namespace quire::inference {

enum class ErrorCode : int {
    Io = 1,
    Format = 2,        // malformed model or tokenizer file
    Unsupported = 3,   // valid file, but a type or architecture this build does not run
    OutOfMemory = 4,
    Cancelled = 5,
    Device = 6,        // a CUDA or backend failure
    InvalidArgument = 7,
};

struct Error {
    ErrorCode code = ErrorCode::Io;
    std::string message;
};

}  // namespace quire::inference
