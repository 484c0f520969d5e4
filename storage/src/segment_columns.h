// How a Segment and its Anchor map onto the columns of the segments table, shared by the catalog
// and full-text search so both read anchors the same way.
#pragma once

#include "quire/ingest/model/types.h"
#include "sql.h"

namespace quire::storage::detail {

// Persisted values of segments.anchor_kind; never renumber, never reuse.
enum class AnchorKind : int { None = 0, Page = 1, Lines = 2, Time = 3, Paragraph = 4 };

// The segment columns in the order readSegment() expects, qualified by the alias "g".
inline constexpr const char* kSegmentColumns =
    "g.id, g.document_id, g.ordinal, g.text, g.anchor_kind, g.page, g.box_x, g.box_y, g.box_w, g.box_h, "
    "g.line_begin, g.line_end, g.t_begin_ms, g.t_end_ms, g.paragraph, g.token_count, g.frame_path";
inline constexpr int kSegmentColumnCount = 17;

struct StoredSegment {
    std::int64_t id = 0;
    std::int64_t document = 0;
    int ordinal = 0;
    ingest::Segment segment;
};

// Reads kSegmentColumns starting at column `first`.
StoredSegment readSegment(const sql::Stmt& stmt, int first);

// Binds anchor_kind and the ten anchor columns starting at parameter `first` (in the order of
// the table: kind, page, box x/y/w/h, line begin/end, time begin/end, paragraph).
void bindAnchor(sql::Stmt& stmt, int first, const ingest::Anchor& anchor);

} // namespace quire::storage::detail
