#include "quire/storage/search.h"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "fts.h"
#include "segment_columns.h"
#include "sql.h"

namespace quire::storage {

namespace detail {

namespace {

// FTS5 reports matches as token positions; the tokenizer's callback gives each token's bytes.
// Tokenizing the one segment again maps positions to byte ranges.
struct TokenSpans {
    std::vector<std::pair<int, int>> spans;
};

int collectToken(void* ctx, int flags, const char*, int, int start, int end)
{
    if (flags & FTS5_TOKEN_COLOCATED) // a synonym at the same position: no new position
        return SQLITE_OK;
    static_cast<TokenSpans*>(ctx)->spans.emplace_back(start, end);
    return SQLITE_OK;
}

void offsetsFunction(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* ctx, int,
                     sqlite3_value**)
{
    int count = 0;
    if (int rc = api->xInstCount(fts, &count); rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    std::vector<std::pair<int, int>> tokenRanges; // first and last token of each instance
    for (int i = 0; i < count; ++i) {
        int phrase = 0, column = 0, offset = 0;
        if (api->xInst(fts, i, &phrase, &column, &offset) != SQLITE_OK || column != 0)
            continue;
        tokenRanges.emplace_back(offset, offset + std::max(api->xPhraseSize(fts, phrase), 1) - 1);
    }
    std::sort(tokenRanges.begin(), tokenRanges.end());

    const char* text = nullptr;
    int size = 0;
    if (int rc = api->xColumnText(fts, 0, &text, &size); rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    TokenSpans tokens;
    if (int rc = api->xTokenize(fts, text, size, &tokens, collectToken); rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    std::vector<std::pair<int, int>> bytes;
    for (const auto& [first, last] : tokenRanges) {
        if (first < 0 || static_cast<size_t>(last) >= tokens.spans.size())
            continue;
        const int begin = tokens.spans[static_cast<size_t>(first)].first;
        const int end = tokens.spans[static_cast<size_t>(last)].second;
        if (!bytes.empty() && begin <= bytes.back().second)
            bytes.back().second = std::max(bytes.back().second, end);
        else
            bytes.emplace_back(begin, end);
    }
    std::string out;
    for (const auto& [begin, end] : bytes) {
        if (!out.empty())
            out += ' ';
        out.append(std::to_string(begin)).append(" ").append(std::to_string(end));
    }
    sqlite3_result_text(ctx, out.c_str(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
}

} // namespace

std::expected<void, Error> registerFtsFunctions(sqlite3* db)
{
    auto stmt = sql::prepare(db, "SELECT fts5(?1)");
    if (!stmt)
        return std::unexpected(Error{ErrorCode::Open, "this SQLite has no FTS5: " + stmt.error().message});
    fts5_api* api = nullptr;
    sqlite3_bind_pointer(stmt->get(), 1, &api, "fts5_api_ptr", nullptr);
    stmt->step();
    if (!api)
        return std::unexpected(Error{ErrorCode::Open, "this SQLite has no FTS5"});
    if (int rc = api->xCreateFunction(api, "quire_offsets", nullptr, offsetsFunction, nullptr);
        rc != SQLITE_OK)
        return std::unexpected(sql::errorFromCode(rc, db, "register quire_offsets"));
    return {};
}

} // namespace detail

namespace {

std::vector<TextRange> parseRanges(const std::string& text)
{
    std::vector<TextRange> out;
    const char* p = text.data();
    const char* end = p + text.size();
    std::int64_t values[2];
    int have = 0;
    while (p < end) {
        while (p < end && *p == ' ')
            ++p;
        auto [next, ec] = std::from_chars(p, end, values[have]);
        if (ec != std::errc())
            break;
        p = next;
        if (++have == 2) {
            out.push_back({values[0], values[1]});
            have = 0;
        }
    }
    return out;
}

} // namespace

std::string FullTextSearch::quoteWords(const std::string& words)
{
    std::istringstream in(words);
    std::string word, out;
    while (in >> word) {
        std::string quoted = "\"";
        for (char c : word)
            quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        {
            if (!out.empty())
                out += ' ';
            out.append(quoted).append("\"");
        }
    }
    return out;
}

std::expected<std::vector<SearchHit>, Error>
FullTextSearch::search(std::int64_t workspace, const std::string& query, const SearchOptions& options)
{
    static const std::string kSelect = std::string("SELECT ") + detail::kSegmentColumns + R"sql(,
       s.path, d.title, snippet(segments_fts, 0, ?2, ?3, ?4, ?5), quire_offsets(segments_fts),
       bm25(segments_fts)
FROM segments_fts
JOIN segments g ON g.id = segments_fts.rowid
JOIN documents d ON d.id = g.document_id
JOIN sources s ON s.id = d.source_id
WHERE segments_fts MATCH ?1 AND s.workspace_id = ?6
ORDER BY bm25(segments_fts), g.id
LIMIT ?7 OFFSET ?8)sql";
    const std::string match = options.ftsSyntax ? query : quoteWords(query);
    if (match.find_first_not_of(" \t\r\n") == std::string::npos)
        return std::vector<SearchHit>{};
    sqlite3* db = m_db.handle();
    auto stmt = sql::prepare(db, kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    stmt->bind(1, match);
    stmt->bind(2, options.markOpen);
    stmt->bind(3, options.markClose);
    stmt->bind(4, options.ellipsis);
    stmt->bind(5, std::clamp(options.snippetTokens, 1, 64));
    stmt->bind(6, workspace);
    stmt->bind(7, std::max(options.limit, 0));
    stmt->bind(8, std::max(options.offset, 0));
    std::vector<SearchHit> hits;
    int rc;
    constexpr int c = detail::kSegmentColumnCount;
    while ((rc = stmt->step()) == SQLITE_ROW) {
        auto stored = detail::readSegment(*stmt, 0);
        SearchHit hit;
        hit.segmentId = stored.id;
        hit.documentId = stored.document;
        hit.anchor = std::move(stored.segment.anchor);
        hit.text = std::move(stored.segment.text);
        hit.path = stmt->text(c);
        hit.title = stmt->text(c + 1);
        hit.snippet = stmt->text(c + 2);
        hit.matches = parseRanges(stmt->text(c + 3));
        hit.rank = stmt->real(c + 4);
        hits.push_back(std::move(hit));
    }
    if (rc != SQLITE_DONE) {
        Error e = sql::errorFromCode(rc, db, "search");
        if (options.ftsSyntax && e.code == ErrorCode::Sql)
            e = Error{ErrorCode::Invalid, "cannot search for '" + query + "': " + sqlite3_errmsg(db)};
        return std::unexpected(e);
    }
    return hits;
}

} // namespace quire::storage
