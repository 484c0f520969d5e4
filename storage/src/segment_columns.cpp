#include "segment_columns.h"

namespace quire::storage::detail {

StoredSegment readSegment(const sql::Stmt& s, int c)
{
    StoredSegment out;
    out.id = s.int64(c + 0);
    out.document = s.int64(c + 1);
    out.ordinal = s.int32(c + 2);
    out.segment.text = s.text(c + 3);
    out.segment.anchor.document = out.document;
    switch (static_cast<AnchorKind>(s.int32(c + 4))) {
    case AnchorKind::Page:
        out.segment.anchor.where =
            ingest::PageAnchor{s.int32(c + 5), {s.real(c + 6), s.real(c + 7), s.real(c + 8), s.real(c + 9)}};
        break;
    case AnchorKind::Lines:
        out.segment.anchor.where = ingest::LineAnchor{s.int32(c + 10), s.int32(c + 11)};
        break;
    case AnchorKind::Time:
        out.segment.anchor.where = ingest::TimeAnchor{s.int64(c + 12), s.int64(c + 13)};
        break;
    case AnchorKind::Paragraph:
        out.segment.anchor.where = ingest::ParagraphAnchor{s.int32(c + 14)};
        break;
    case AnchorKind::None:
        break;
    }
    if (!s.isNull(c + 15))
        out.segment.tokenCount = s.int32(c + 15);
    if (!s.isNull(c + 16))
        out.segment.framePath = s.text(c + 16);
    return out;
}

void bindAnchor(sql::Stmt& s, int c, const ingest::Anchor& anchor)
{
    for (int i = 1; i <= 10; ++i)
        s.bindNull(c + i);
    AnchorKind kind = AnchorKind::None;
    if (const auto* page = std::get_if<ingest::PageAnchor>(&anchor.where)) {
        kind = AnchorKind::Page;
        s.bind(c + 1, page->page);
        s.bind(c + 2, page->box.x);
        s.bind(c + 3, page->box.y);
        s.bind(c + 4, page->box.width);
        s.bind(c + 5, page->box.height);
    } else if (const auto* lines = std::get_if<ingest::LineAnchor>(&anchor.where)) {
        kind = AnchorKind::Lines;
        s.bind(c + 6, lines->lineBegin);
        s.bind(c + 7, lines->lineEnd);
    } else if (const auto* time = std::get_if<ingest::TimeAnchor>(&anchor.where)) {
        kind = AnchorKind::Time;
        s.bind(c + 8, time->beginMs);
        s.bind(c + 9, time->endMs);
    } else if (const auto* para = std::get_if<ingest::ParagraphAnchor>(&anchor.where)) {
        kind = AnchorKind::Paragraph;
        s.bind(c + 10, para->paragraph);
    }
    s.bind(c, static_cast<int>(kind));
}

} // namespace quire::storage::detail
