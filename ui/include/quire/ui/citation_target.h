// What the document viewer opens: a place in a stored document, from a citation chip in an
// answer or from a search hit. A plain value.
#pragma once

#include <QString>

#include <optional>

#include "quire/app/citation.h"
#include "quire/ingest/model/types.h"

namespace quire::ui {

struct CitationTarget {
    std::int64_t documentId = 0;
    int docNumber = 0;
    QString path; // the source file
    QString title;
    ingest::Anchor anchor;                     // page and box, lines, time span or paragraph
    QString label;                             // "doc 3 L4-9"
    std::optional<app::CitationStatus> status; // empty for a search hit
};

} // namespace quire::ui
