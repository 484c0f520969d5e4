#include "quire/app/context_assembly.h"

#include <algorithm>
#include <map>

namespace quire::app {

namespace {

// Placeholders split the chat template's rendering into the parts around a message's content.
constexpr const char* kSystemSentinel = "\x01QUIRE-SYSTEM\x01";
constexpr const char* kUserSentinel = "\x01QUIRE-USER\x01";

std::string kindLabel(const ContextDocument& doc)
{
    std::string s = ingest::toString(doc.kind);
    if (!doc.language.empty() && doc.kind == ingest::SourceKind::Code)
        s += ", " + doc.language;
    return s;
}

std::string extentLabel(const ContextDocument& doc)
{
    if (doc.segments.empty())
        return "no text";
    const auto& first = doc.segments.front().anchor.where;
    const auto& last = doc.segments.back().anchor.where;
    if (const auto* a = std::get_if<ingest::PageAnchor>(&first)) {
        const auto* b = std::get_if<ingest::PageAnchor>(&last);
        const int pages = b ? b->page : a->page;
        return pages == 1 ? "1 page" : std::to_string(pages) + " pages";
    }
    if (std::holds_alternative<ingest::LineAnchor>(first)) {
        int end = 0;
        for (const auto& s : doc.segments) {
            if (const auto* l = std::get_if<ingest::LineAnchor>(&s.anchor.where))
                end = std::max(end, l->lineEnd);
        }
        return std::to_string(end) + " lines";
    }
    if (std::holds_alternative<ingest::TimeAnchor>(first)) {
        std::int64_t end = 0;
        for (const auto& s : doc.segments) {
            if (const auto* t = std::get_if<ingest::TimeAnchor>(&s.anchor.where))
                end = std::max(end, t->endMs);
        }
        Locator l;
        l.kind = Locator::Kind::Time;
        l.beginMs = l.endMs = end;
        return formatLocator(l) + " long";
    }
    return std::to_string(doc.segments.size()) + " paragraphs";
}

// Tokenizes ordinary text: document text is never parsed for special tokens, so a file that
// contains "<|im_start|>" cannot open a chat turn.
std::vector<inference::TokenId> plain(const inference::Tokenizer& tok, const std::string& text)
{
    return tok.encode(text, false, false);
}

std::vector<inference::TokenId> special(const inference::Tokenizer& tok, const std::string& text)
{
    return tok.encode(text, false, true);
}

// The chat template rendered around placeholder contents: the system turn holds the preset's
// instructions; the user turn holds the documents and, after them, the question, so the
// context is an open user turn that every question continues.
struct TemplateParts {
    std::string open;         // before the system content
    std::string betweenTurns; // after the system content, up to the user content
    std::string afterUser;    // after the user content, assistant header included
};

TemplateParts splitTemplate(const inference::ChatTemplate& chat)
{
    const std::vector<inference::ChatMessage> msgs = {{"system", kSystemSentinel}, {"user", kUserSentinel}};
    const std::string r = chat.render(msgs, true);
    TemplateParts p;
    const auto s = r.find(kSystemSentinel);
    const auto u = r.find(kUserSentinel);
    if (s == std::string::npos || u == std::string::npos || u < s) {
        // Not expected from the known formats; fall back to plain concatenation.
        p.betweenTurns = "\n\n";
        p.afterUser = "\n\n";
        return p;
    }
    p.open = r.substr(0, s);
    const auto sEnd = s + std::string(kSystemSentinel).size();
    p.betweenTurns = r.substr(sEnd, u - sEnd);
    p.afterUser = r.substr(u + std::string(kUserSentinel).size());
    return p;
}

void append(std::vector<inference::TokenId>& out, const std::vector<inference::TokenId>& ids)
{
    out.insert(out.end(), ids.begin(), ids.end());
}

} // namespace

std::string displayPathFor(const std::string& path, const std::string& root)
{
    if (!root.empty() && path.size() > root.size() && path.compare(0, root.size(), root) == 0)
        return path.substr(root.size());
    return path;
}

std::string commonRoot(const std::vector<std::string>& paths)
{
    if (paths.empty())
        return {};
    std::string prefix = paths.front();
    for (const auto& p : paths) {
        std::size_t n = 0;
        while (n < prefix.size() && n < p.size() && prefix[n] == p[n])
            ++n;
        prefix.resize(n);
    }
    const auto slash = prefix.rfind('/');
    return slash == std::string::npos ? std::string() : prefix.substr(0, slash + 1);
}

std::string documentHeader(const ContextDocument& doc)
{
    std::string h = "=== doc " + std::to_string(doc.number) + ": " + doc.displayPath + " (" + kindLabel(doc) +
                    ", " + extentLabel(doc) + ") ===\n";
    if (!doc.title.empty() && doc.title != doc.displayPath && doc.kind != ingest::SourceKind::Code)
        h += "Title: " + doc.title + "\n";
    return h;
}

std::string segmentPiece(int docNumber, const ingest::Segment& segment, ingest::SourceKind kind)
{
    std::string text = segment.text;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    const std::string mark = formatMark(docNumber, segment.anchor);
    // Code keeps its lines and indentation: the mark stands on its own line above it.
    if (kind == ingest::SourceKind::Code || std::holds_alternative<ingest::LineAnchor>(segment.anchor.where))
        return mark + "\n" + text + "\n";
    return mark + " " + text + "\n";
}

std::string treeOverview(const std::vector<const ContextDocument*>& docs)
{
    // Sorted by path, directories printed once, indented two spaces per level.
    std::vector<const ContextDocument*> sorted(docs);
    std::sort(sorted.begin(), sorted.end(), [](const ContextDocument* a, const ContextDocument* b) {
        return a->displayPath < b->displayPath;
    });
    std::string out = "Files:\n";
    std::vector<std::string> open; // directory components printed so far
    for (const auto* d : sorted) {
        std::vector<std::string> parts;
        std::size_t start = 0;
        while (true) {
            const auto slash = d->displayPath.find('/', start);
            if (slash == std::string::npos) {
                parts.push_back(d->displayPath.substr(start));
                break;
            }
            parts.push_back(d->displayPath.substr(start, slash - start));
            start = slash + 1;
        }
        std::size_t common = 0;
        while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common])
            ++common;
        open.resize(common);
        for (std::size_t i = common; i + 1 < parts.size(); ++i) {
            out += std::string(2 * (i + 1), ' ') + parts[i] + "/\n";
            open.push_back(parts[i]);
        }
        out +=
            std::string(2 * parts.size(), ' ') + parts.back() + "  (doc " + std::to_string(d->number) + ")\n";
    }
    return out + "\n";
}

std::expected<AssembledContext, AssemblyError> assembleContext(const AssemblyInput& input,
                                                               const inference::Tokenizer& tokenizer,
                                                               const inference::ChatTemplate& chat,
                                                               const AssemblyProgress& progress,
                                                               const std::atomic<bool>* cancel)
{
    AssembledContext ctx;
    const TemplateParts parts = splitTemplate(chat);
    append(ctx.tokens, special(tokenizer, parts.open));
    const std::string system = input.preset.systemPrompt(input.workspace);
    append(ctx.tokens, plain(tokenizer, system));
    append(ctx.tokens, special(tokenizer, parts.betweenTurns));
    const std::string intro = input.preset.documentsIntro(input.workspace);
    append(ctx.tokens, plain(tokenizer, intro));
    ctx.text = parts.open + system + parts.betweenTurns + intro;
    ctx.promptTokens = std::int64_t(ctx.tokens.size());

    // Documents of each batch, for the overviews.
    std::map<int, std::vector<const ContextDocument*>> batches;
    for (const auto& d : input.documents)
        batches[d.batch].push_back(&d);
    int previousBatch = -1;

    for (std::size_t di = 0; di < input.documents.size(); ++di) {
        if (cancel && cancel->load())
            return std::unexpected(AssemblyError{true, "cancelled"});
        const ContextDocument& doc = input.documents[di];
        if (input.preset.treeOverview && doc.batch != previousBatch) {
            const std::string tree = treeOverview(batches[doc.batch]);
            const auto ids = plain(tokenizer, tree);
            ctx.overviewTokens += std::int64_t(ids.size());
            append(ctx.tokens, ids);
            ctx.text += tree;
        }
        previousBatch = doc.batch;

        MappedDocument md;
        md.number = doc.number;
        md.documentId = doc.documentId;
        md.sourceId = doc.sourceId;
        md.path = doc.path;
        md.displayPath = doc.displayPath;
        md.title = doc.title;
        md.kind = doc.kind;
        md.tokenBegin = std::int64_t(ctx.tokens.size());
        md.firstSegment = ctx.map.segments.size();
        std::string header = di == 0 ? std::string() : std::string("\n");
        header += documentHeader(doc);
        append(ctx.tokens, plain(tokenizer, header));
        ctx.text += header;
        for (std::size_t si = 0; si < doc.segments.size(); ++si) {
            const auto& seg = doc.segments[si];
            const std::string piece = segmentPiece(doc.number, seg, doc.kind);
            MappedSegment ms;
            ms.segmentId = si < doc.segmentIds.size() ? doc.segmentIds[si] : 0;
            ms.docNumber = doc.number;
            ms.anchor = seg.anchor;
            ms.anchor.document = doc.documentId;
            ms.text = seg.text;
            ms.tokenBegin = std::int64_t(ctx.tokens.size());
            append(ctx.tokens, plain(tokenizer, piece));
            ms.tokenEnd = std::int64_t(ctx.tokens.size());
            ctx.map.segments.push_back(std::move(ms));
            ctx.text += piece;
        }
        md.segmentCount = doc.segments.size();
        md.tokenEnd = std::int64_t(ctx.tokens.size());
        ctx.perDocument.push_back({doc.number, md.tokenEnd - md.tokenBegin});
        ctx.map.documents.push_back(std::move(md));
        if (progress)
            progress(di + 1, input.documents.size());
    }
    return ctx;
}

std::vector<inference::TokenId> encodeQuestion(const Preset& preset, const std::string& question,
                                               const inference::Tokenizer& tokenizer,
                                               const inference::ChatTemplate& chat)
{
    const TemplateParts parts = splitTemplate(chat);
    const std::string prompt = preset.questionPrompt(kUserSentinel);
    const auto at = prompt.find(kUserSentinel);
    std::vector<inference::TokenId> ids;
    // The user turn is still open after the documents: the question continues it.
    append(ids, plain(tokenizer, prompt.substr(0, at)));
    append(ids, plain(tokenizer, question));
    append(ids, plain(tokenizer, prompt.substr(at + std::string(kUserSentinel).size())));
    append(ids, special(tokenizer, parts.afterUser));
    return ids;
}

} // namespace quire::app
