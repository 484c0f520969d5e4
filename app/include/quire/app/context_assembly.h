// Context assembly (ARCHITECTURE.md 2.3): a workspace's documents, in the workspace's stable
// order, laid out as one context for the model: a system turn with the preset's instructions,
// then a user turn opened by the preset's documents intro holding per document a header naming
// it and its segments, each opened by the inline mark
// the model can cite ("[doc 12 p.4]", "[doc 3 L120-140]", "[doc 7 00:12:31]"); with the code
// preset, a tree overview of the files before each batch. The result is the token stream and a
// source map (token range -> document, segment, anchor).
//
// Prefix stability: every piece (template opening, prompt, overview, header, segment) is
// tokenized on its own and the ids are concatenated, so the tokens of a document depend only on
// the pieces before it; appending documents (a new batch) never changes a token already
// assembled, and a stored KV prefix stays valid. The question is not part of the context: it is
// encoded by encodeQuestion() and appended after it, in the same user turn, which it closes.
//
// Deterministic: the same inputs and tokenizer give the same ids. Pure; thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <functional>
#include <string>
#include <vector>

#include "quire/app/preset.h"
#include "quire/app/source_map.h"
#include "quire/inference/chat_template.h"
#include "quire/inference/tokenizer.h"
#include "quire/ingest/model/types.h"

namespace quire::app {

struct ContextDocument {
    int number = 0; // "doc N", from the workspace layout
    int batch = 0;  // documents added together share a batch (and a tree overview)
    std::int64_t sourceId = 0;
    std::int64_t documentId = 0;
    std::string path;        // the source file
    std::string displayPath; // relative to its batch's root
    std::string title;
    std::string language;
    ingest::SourceKind kind = ingest::SourceKind::Unknown;
    std::vector<ingest::Segment> segments; // anchor.document = documentId
    std::int64_t storedSegments = 0;       // the catalog's count (segments may not be loaded)
    std::vector<std::int64_t> segmentIds;  // storage ids, parallel to segments (may be empty)
};

struct AssemblyInput {
    std::string workspace; // its name, for the prompt
    Preset preset;
    std::vector<ContextDocument> documents; // in context order, exclusions already removed
};

struct DocumentTokens {
    int number = 0;
    std::int64_t tokens = 0; // header and segments
};

struct AssembledContext {
    std::vector<inference::TokenId> tokens;
    SourceMap map;
    std::int64_t promptTokens = 0;   // template opening and system prompt, before any document
    std::int64_t overviewTokens = 0; // tree overviews
    std::vector<DocumentTokens> perDocument;
    std::string text; // the context as text (for previews and tests)
};

using AssemblyProgress = std::function<void(std::size_t documentsDone, std::size_t documentsTotal)>;

struct AssemblyError {
    bool cancelled = false;
    std::string message;
};

std::expected<AssembledContext, AssemblyError> assembleContext(const AssemblyInput& input,
                                                               const inference::Tokenizer& tokenizer,
                                                               const inference::ChatTemplate& chat,
                                                               const AssemblyProgress& progress = {},
                                                               const std::atomic<bool>* cancel = nullptr);

// The tokens that follow the context for one question: the preset's question prompt (the
// question text itself is never parsed for special tokens), the end of the user turn and the
// assistant header.
std::vector<inference::TokenId> encodeQuestion(const Preset& preset, const std::string& question,
                                               const inference::Tokenizer& tokenizer,
                                               const inference::ChatTemplate& chat);

// The header line of a document in the context, e.g. "=== doc 3: src/main.cpp (code, cpp,
// lines 1-120) ===".
std::string documentHeader(const ContextDocument& doc);
// The text of one segment in the context: its mark and its text.
std::string segmentPiece(int docNumber, const ingest::Segment& segment, ingest::SourceKind kind);
// The tree overview of a batch's files (display paths), each with its document number.
std::string treeOverview(const std::vector<const ContextDocument*>& docs);
// `path` relative to `root` when it lies inside it, else the path itself.
std::string displayPathFor(const std::string& path, const std::string& root);
// The longest directory that holds every path (with a trailing '/'), or "" when there is none.
std::string commonRoot(const std::vector<std::string>& paths);

} // namespace quire::app
