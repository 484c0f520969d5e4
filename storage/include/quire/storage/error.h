// The error type at the storage module's surface, returned through std::expected. Codes are
// stable numbers: callers switch on them (Full: tell the user the disk is full; NotFound from the
// block store: recompute the block).
#pragma once

#include <string>

namespace quire::storage {

enum class ErrorCode : int {
    Open = 1,         // cannot open or create the file
    NotADatabase = 2, // the file exists and is not a Quire SQLite library
    TooNew = 3,       // written by a newer Quire; never touched
    Sql = 4,          // a statement failed
    Full = 5,         // disk or database full; earlier data is intact
    Corrupt = 6,      // a checksum or integrity check failed
    NotFound = 7,     // no such row; for KV blocks also "present but failed its checksum"
    Cancelled = 8,    // a job was dropped (writer thread stopped) or a callback asked to stop
    Invalid = 9,      // the caller passed something that cannot be stored (bad key, bad size)
};

struct Error {
    ErrorCode code = ErrorCode::Sql;
    std::string message;
};

} // namespace quire::storage
