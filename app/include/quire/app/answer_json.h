// Citations and attributions of an answer as JSON: what a turn stores (storage::Turn::
// citationsJson), what `quire-cli export` writes, and what a viewer needs to open the cited
// place (document id, segment id, anchor, the matched byte range). Also the Markdown and JSON
// export of a whole session. Pure functions; thread-safe.
#pragma once

#include <QJsonObject>

#include <string>
#include <vector>

#include "quire/app/citation.h"
#include "quire/app/source_map.h"
#include "quire/storage/conversations.h"

namespace quire::app {

QJsonObject anchorToJson(const ingest::Anchor& anchor);

// {"version":1, "citations":[...], "attributions":[...]}
QJsonObject answerCheckToJson(const std::string& answer, const AnswerCheck& check, const SourceMap& map);

struct SessionExport {
    std::string workspace;
    storage::SessionRow session;
    std::vector<storage::Turn> turns;
};

std::string exportMarkdown(const SessionExport& e);
std::string exportJson(const SessionExport& e);

} // namespace quire::app
