// The error type at the storage module's surface. Returned through std::expected.
#pragma once

#include <string>

namespace quire::storage {

enum class ErrorCode : int {
    Open = 1,          // cannot open or create the file
    NotADatabase = 2,  // the file exists and is not a Quire SQLite library
    TooNew = 3,        // written by a newer Quire; never touched
    Sql = 4,           // a statement failed
    Full = 5,          // disk or database full; earlier data is intact
    Corrupt = 6,       // a checksum or integrity check failed
    NotFound = 7,
};

struct Error {
    ErrorCode code = ErrorCode::Sql;
    std::string message;
};

}  // namespace quire::storage
