// A compact binary form of a Document, used to pass results from the extraction helper process
// back to the parent (and usable as a cache format). Little-endian, length-prefixed, versioned;
// decoding checks every length and rejects anything malformed. Pure functions, thread-safe.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "quire/ingest/error.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

std::string encodeDocument(const Document& document);
std::expected<Document, Error> decodeDocument(std::string_view bytes);

} // namespace quire::ingest
