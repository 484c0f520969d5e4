#include "quire/ingest/docx_extractor.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>

namespace quire::ingest {

namespace {

struct ZipCloser {
    void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
};
struct XmlDocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;
using XmlPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

// Inflates one part, refusing zip bombs. nullopt-like: an empty optional when the part is absent.
std::expected<std::optional<std::string>, Error> readPart(zip_t* zip, const char* name,
                                                          const DocxOptions& options, const std::string& file)
{
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(zip, name, 0, &st) != 0)
        return std::optional<std::string>();
    const std::uint64_t cap = options.maxUncompressedBytes;
    if ((st.valid & ZIP_STAT_SIZE) && st.size > cap)
        return std::unexpected(Error{
            ErrorCode::TooComplex, file + ": " + name + " would inflate to " + std::to_string(st.size >> 20) +
                                       " MiB, over the limit of " + std::to_string(cap >> 20) + " MiB"});
    if ((st.valid & ZIP_STAT_SIZE) && (st.valid & ZIP_STAT_COMP_SIZE) && st.size > (1u << 20)) {
        const double ratio =
            static_cast<double>(st.size) / static_cast<double>(std::max<std::uint64_t>(1, st.comp_size));
        if (ratio > options.maxCompressionRatio)
            return std::unexpected(
                Error{ErrorCode::TooComplex,
                      file + ": " + name + " is compressed " + std::to_string(static_cast<long long>(ratio)) +
                          ":1, a zip bomb (the limit is " +
                          std::to_string(static_cast<long long>(options.maxCompressionRatio)) + ":1)"});
    }
    std::unique_ptr<zip_file_t, ZipFileCloser> part(zip_fopen(zip, name, 0));
    if (!part)
        return std::unexpected(
            Error{ErrorCode::Format, file + ": cannot open " + name + " (" + zip_strerror(zip) + ")"});
    std::string data;
    char buffer[65536];
    for (;;) {
        const zip_int64_t n = zip_fread(part.get(), buffer, sizeof buffer);
        if (n < 0)
            return std::unexpected(Error{ErrorCode::Format, file + ": " + name + " is damaged (" +
                                                                zip_file_strerror(part.get()) + ")"});
        if (n == 0)
            break;
        data.append(buffer, static_cast<std::size_t>(n));
        if (data.size() > cap)
            return std::unexpected(
                Error{ErrorCode::TooComplex, file + ": " + name + " inflates past the limit of " +
                                                 std::to_string(cap >> 20) + " MiB (its header said less)"});
    }
    return std::optional<std::string>(std::move(data));
}

std::expected<XmlPtr, Error> parseXml(const std::string& data, const char* name, const std::string& file)
{
    // No network, no entity substitution, no DTD loading: nothing but the bytes of the part.
    XmlPtr doc(xmlReadMemory(data.data(), static_cast<int>(std::min<std::size_t>(data.size(), INT32_MAX)),
                             name, nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc) {
        const xmlError* e = xmlGetLastError();
        std::string why = e && e->message ? e->message : "unknown error";
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        return std::unexpected(
            Error{ErrorCode::Format, file + ": " + name + " is not well-formed XML (" + why + ")"});
    }
    return doc;
}

bool is(const xmlNode* n, const char* local)
{
    return n && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST local) == 0;
}

const xmlNode* child(const xmlNode* n, const char* local)
{
    for (const xmlNode* c = n ? n->children : nullptr; c; c = c->next)
        if (is(c, local))
            return c;
    return nullptr;
}

std::string attr(const xmlNode* n, const char* local)
{
    if (!n)
        return {};
    for (const xmlAttr* a = n->properties; a; a = a->next) {
        if (xmlStrcmp(a->name, BAD_CAST local) == 0) {
            xmlChar* v = xmlNodeListGetString(n->doc, a->children, 1);
            std::string s = v ? reinterpret_cast<const char*>(v) : "";
            xmlFree(v);
            return s;
        }
    }
    return {};
}

std::string lower(std::string s)
{
    std::ranges::transform(s, s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// styleId -> heading level (1..9), from styles.xml names ("heading 2", "Title") or outline levels.
std::map<std::string, int> headingStyles(const xmlDoc* styles)
{
    std::map<std::string, int> levels;
    const xmlNode* root = styles ? xmlDocGetRootElement(styles) : nullptr;
    for (const xmlNode* s = root ? root->children : nullptr; s; s = s->next) {
        if (!is(s, "style"))
            continue;
        const std::string id = attr(s, "styleId");
        const std::string name = lower(attr(child(s, "name"), "val"));
        int level = 0;
        if (name.starts_with("heading ") && name.size() == 9 &&
            std::isdigit(static_cast<unsigned char>(name[8])))
            level = name[8] - '0';
        else if (name == "title")
            level = 1;
        else if (const xmlNode* o = child(child(s, "pPr"), "outlineLvl"))
            level = std::atoi(attr(o, "val").c_str()) + 1;
        if (level >= 1 && level <= 9)
            levels[id] = level;
    }
    return levels;
}

void collectText(const xmlNode* n, std::string& out)
{
    for (const xmlNode* c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (is(c, "t")) {
            xmlChar* v = xmlNodeGetContent(c);
            if (v)
                out += reinterpret_cast<const char*>(v);
            xmlFree(v);
        } else if (is(c, "tab")) {
            out += '\t';
        } else if (is(c, "br") || is(c, "cr")) {
            out += '\n';
        } else if (is(c, "noBreakHyphen")) {
            out += '-';
        } else if (is(c, "delText") || is(c, "instrText") || is(c, "del") || is(c, "pPr") || is(c, "rPr")) {
            // deleted revisions, field codes and formatting carry no body text
        } else {
            collectText(c, out); // runs, hyperlinks, insertions, smart tags, fields' results
        }
    }
}

std::string trim(std::string s)
{
    const auto notSpace = [](unsigned char c) { return !std::isspace(c); };
    s.erase(s.begin(), std::find_if(s.begin(), s.end(), notSpace));
    s.erase(std::find_if(s.rbegin(), s.rend(), notSpace).base(), s.end());
    return s;
}

struct BodyWalker {
    const std::map<std::string, int>& headings;
    Document& doc;
    int index = 0;

    void emit(std::string text, int level)
    {
        text = trim(std::move(text));
        if (!text.empty()) {
            Segment s;
            s.text = std::move(text);
            s.anchor.where = ParagraphAnchor{index};
            s.headingLevel = level;
            doc.segments.push_back(std::move(s));
        }
        ++index;
    }

    int levelOf(const xmlNode* p) const
    {
        const xmlNode* pPr = child(p, "pPr");
        if (const xmlNode* o = child(pPr, "outlineLvl")) {
            const int l = std::atoi(attr(o, "val").c_str()) + 1;
            if (l >= 1 && l <= 9)
                return l;
        }
        const auto it = headings.find(attr(child(pPr, "pStyle"), "val"));
        return it == headings.end() ? 0 : it->second;
    }

    void walk(const xmlNode* container)
    {
        for (const xmlNode* n = container->children; n; n = n->next) {
            if (is(n, "p")) {
                std::string text;
                collectText(n, text);
                emit(std::move(text), levelOf(n));
            } else if (is(n, "tbl")) {
                for (const xmlNode* row = n->children; row; row = row->next) {
                    if (!is(row, "tr"))
                        continue;
                    std::string text;
                    for (const xmlNode* cell = row->children; cell; cell = cell->next) {
                        if (!is(cell, "tc"))
                            continue;
                        std::string cellText;
                        collectText(cell, cellText);
                        cellText = trim(std::move(cellText));
                        if (!text.empty())
                            text += " | ";
                        text += cellText;
                    }
                    emit(std::move(text), 0);
                }
            } else if (is(n, "sdt")) {
                if (const xmlNode* content = child(n, "sdtContent"))
                    walk(content);
            }
        }
    }
};

} // namespace

std::expected<Document, Error> extractDocx(const std::filesystem::path& path, const DocxOptions& options)
{
    const std::string file = path.filename().string();
    int err = 0;
    ZipPtr zip(zip_open(path.c_str(), ZIP_RDONLY, &err));
    if (!zip) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        std::string why = zip_error_strerror(&ze);
        zip_error_fini(&ze);
        return std::unexpected(Error{ErrorCode::Format, file + " is not a readable DOCX (" + why + ")"});
    }
    auto body = readPart(zip.get(), "word/document.xml", options, file);
    if (!body)
        return std::unexpected(body.error());
    if (!*body)
        return std::unexpected(
            Error{ErrorCode::Format, file + " has no word/document.xml: not a Word document"});
    auto styles = readPart(zip.get(), "word/styles.xml", options, file);
    if (!styles)
        return std::unexpected(styles.error());
    auto core = readPart(zip.get(), "docProps/core.xml", options, file);

    auto xml = parseXml(**body, "word/document.xml", file);
    if (!xml)
        return std::unexpected(xml.error());
    XmlPtr stylesXml;
    if (*styles)
        if (auto parsed = parseXml(**styles, "word/styles.xml", file))
            stylesXml = std::move(*parsed);

    Document doc;
    doc.source.path = path.string();
    doc.source.kind = SourceKind::Docx;
    doc.title = file;
    if (core && *core)
        if (auto coreXml = parseXml(**core, "docProps/core.xml", file)) {
            const xmlNode* root = xmlDocGetRootElement(coreXml->get());
            if (const xmlNode* title = child(root, "title")) {
                std::string t;
                xmlChar* v = xmlNodeGetContent(title);
                t = v ? trim(reinterpret_cast<const char*>(v)) : "";
                xmlFree(v);
                if (!t.empty())
                    doc.title = t;
            }
        }
    const auto headings = headingStyles(stylesXml.get());
    const xmlNode* bodyNode = child(xmlDocGetRootElement(xml->get()), "body");
    if (!bodyNode)
        return std::unexpected(Error{ErrorCode::Format, file + ": word/document.xml has no body"});
    BodyWalker walker{headings, doc};
    walker.walk(bodyNode);
    doc.status = SourceStatus::Ingested;
    return doc;
}

} // namespace quire::ingest
