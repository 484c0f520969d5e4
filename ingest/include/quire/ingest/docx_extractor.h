// DOCX (Office Open XML word processing) to paragraph-anchored segments, with libzip and
// libxml2. Every body-level block gets an index, in document order: a paragraph (empty ones
// included, so indices match the paragraph count a word processor shows) or a table row (its
// cells joined by " | "); content controls are looked through. Each non-empty block becomes a
// Segment with ParagraphAnchor{index}; headings (styles "heading N"/"Title" or an outline
// level) carry Segment::headingLevel. Zip bombs are refused: a part whose declared size is over
// the cap or whose compression ratio is over the limit is not inflated, and inflation stops at
// the cap whatever the header claims. Thread-safe for different files.
#pragma once

#include <expected>
#include <filesystem>

#include "quire/ingest/error.h"
#include "quire/ingest/extract_options.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

std::expected<Document, Error> extractDocx(const std::filesystem::path& path,
                                           const DocxOptions& options = {});

} // namespace quire::ingest
