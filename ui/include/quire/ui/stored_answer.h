// A stored turn (question, answer, citations JSON as answer_json.h writes it) turned back into
// an AnswerRecord the chat panel can show with its chips: each citation and attribution gets a
// small source map holding the segment it points at, so a chip of an earlier session still opens
// the cited place. Pure function; thread-safe.
#pragma once

#include "quire/app/service_types.h"
#include "quire/storage/conversations.h"

namespace quire::ui {

app::AnswerRecord recordFromTurn(const storage::Turn& turn);
ingest::Anchor anchorFromJson(const QJsonObject& o);

} // namespace quire::ui
