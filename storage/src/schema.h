// The two schemas (the library file and the KV block store file) as ordered migrations, and the
// code that applies them. Entry i brings PRAGMA user_version from i to i+1. Once a version has
// shipped its entry is never edited: append a new one.
#pragma once

#include <sqlite3.h>

#include <expected>
#include <span>
#include <string>

#include "quire/storage/error.h"

namespace quire::storage::schema {

std::span<const char* const> libraryMigrations();
std::span<const char* const> blockStoreMigrations();

// Reads user_version; a file newer than `migrations` is refused with ErrorCode::TooNew.
std::expected<int, Error> checkVersion(sqlite3* db, std::span<const char* const> migrations,
                                       const std::string& fileName);
// Applies every missing migration, each in its own transaction.
std::expected<void, Error> migrate(sqlite3* db, std::span<const char* const> migrations,
                                   const std::string& fileName);

} // namespace quire::storage::schema
