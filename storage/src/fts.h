// SQL functions the storage module adds to each connection.
#pragma once

#include <sqlite3.h>

#include <expected>

#include "quire/storage/error.h"

namespace quire::storage::detail {

// Registers the FTS5 auxiliary function quire_offsets(segments_fts): the byte ranges of every
// matched phrase in column 0 as text "begin end begin end ...", overlapping ranges merged.
std::expected<void, Error> registerFtsFunctions(sqlite3* db);

} // namespace quire::storage::detail
