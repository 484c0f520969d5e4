// Full-text search over the segment text of one workspace (SQLite FTS5, unicode61 tokenizer with
// diacritics folded). A hit carries its segment's anchor, a snippet with the matches marked, and
// the byte offsets of every match in the segment text, so a viewer can highlight exactly.
//
// Ownership and threads: borrows a Database; use it on that connection's thread. Searching only
// reads, so it belongs on a reader connection.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "quire/ingest/model/types.h"
#include "quire/storage/database.h"
#include "quire/storage/error.h"

namespace quire::storage {

struct TextRange {
    std::int64_t begin = 0; // byte offset in the UTF-8 segment text
    std::int64_t end = 0;   // one past the last byte
    bool operator==(const TextRange&) const = default;
};

struct SearchHit {
    std::int64_t segmentId = 0;
    std::int64_t documentId = 0;
    std::string path;  // the source file
    std::string title; // the document title
    ingest::Anchor anchor;
    std::string text;               // the whole segment
    std::string snippet;            // a few words around the best match, matches wrapped in the markers
    std::vector<TextRange> matches; // every matched phrase in `text`, in order
    double rank = 0;                // bm25; lower is better
};

struct SearchOptions {
    int limit = 50;
    int offset = 0;
    // false: the query is words a person typed; every word must occur (prefix match on the last
    // word is not applied). true: the query is FTS5 syntax (AND, OR, NEAR, "phrases", prefix*).
    bool ftsSyntax = false;
    std::string markOpen = "[";
    std::string markClose = "]";
    std::string ellipsis = "…";
    int snippetTokens = 24; // at most 64
};

class FullTextSearch {
public:
    explicit FullTextSearch(Database& db) : m_db(db) {}

    // Segments of `workspace` matching `query`, best first. A query with FTS5 syntax errors
    // (ftsSyntax) gives ErrorCode::Invalid; an empty query gives no hits.
    std::expected<std::vector<SearchHit>, Error> search(std::int64_t workspace, const std::string& query,
                                                        const SearchOptions& options = {});

    // Turns typed words into an FTS5 query that matches segments containing all of them.
    static std::string quoteWords(const std::string& words);

private:
    Database& m_db;
};

} // namespace quire::storage
