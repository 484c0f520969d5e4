#include "quire/ingest/document_codec.h"

#include <bit>
#include <cstddef>
#include <cstring>
#include <type_traits>

namespace quire::ingest {

namespace {

constexpr std::string_view kMagic = "QDOC";
constexpr std::uint32_t kVersion = 1;
static_assert(std::endian::native == std::endian::little, "the codec writes host order: little-endian only");

class Writer {
public:
    template <class T> void pod(T value)
    {
        static_assert(std::is_trivially_copyable_v<T>);
        m_out.append(reinterpret_cast<const char*>(&value), sizeof value);
    }
    void str(std::string_view s)
    {
        pod(static_cast<std::uint32_t>(s.size()));
        m_out.append(s);
    }
    void box(const BoundingBox& b) { pod(b.x), pod(b.y), pod(b.width), pod(b.height); }
    void raw(const void* data, std::size_t size) { m_out.append(static_cast<const char*>(data), size); }
    void reserve(std::size_t size) { m_out.reserve(size); }
    std::string take() { return std::move(m_out); }

private:
    std::string m_out;
};

class Reader {
public:
    explicit Reader(std::string_view in) : m_in(in) {}
    bool ok() const { return m_ok; }

    template <class T> T pod()
    {
        T value{};
        if (m_in.size() < sizeof value) {
            m_ok = false;
            return value;
        }
        std::memcpy(&value, m_in.data(), sizeof value);
        m_in.remove_prefix(sizeof value);
        return value;
    }
    std::string str()
    {
        const auto n = pod<std::uint32_t>();
        if (!m_ok || m_in.size() < n) {
            m_ok = false;
            return {};
        }
        std::string s(m_in.substr(0, n));
        m_in.remove_prefix(n);
        return s;
    }
    BoundingBox box()
    {
        BoundingBox b;
        b.x = pod<double>(), b.y = pod<double>(), b.width = pod<double>(), b.height = pod<double>();
        return b;
    }
    void raw(void* out, std::size_t size)
    {
        if (m_in.size() < size) {
            m_ok = false;
            return;
        }
        std::memcpy(out, m_in.data(), size);
        m_in.remove_prefix(size);
    }
    // A count of items each at least `minBytes` long; fails when the input cannot hold them.
    std::uint32_t count(std::size_t minBytes)
    {
        const auto n = pod<std::uint32_t>();
        if (m_ok && n * minBytes > m_in.size())
            m_ok = false;
        return m_ok ? n : 0;
    }
    bool atEnd() const { return m_in.empty(); }

private:
    std::string_view m_in;
    bool m_ok = true;
};

enum AnchorTag : std::uint8_t { None = 0, Page = 1, Line = 2, Time = 3, Paragraph = 4 };

// Word boxes travel as one block: a WordBox in memory is its wire form (u32 offset, u32 length,
// four doubles, little-endian), so a page's hundreds of boxes are one copy each way.
constexpr std::size_t kWordBoxBytes = 8 + 32;
static_assert(std::is_trivially_copyable_v<WordBox> && std::is_standard_layout_v<WordBox> &&
                  sizeof(WordBox) == kWordBoxBytes && offsetof(WordBox, length) == 4 &&
                  offsetof(WordBox, box) == 8 && offsetof(BoundingBox, height) == 24,
              "WordBox no longer matches its wire form: write the fields one by one");

} // namespace

std::string encodeDocument(const Document& d)
{
    Writer w;
    std::size_t estimate = 256 + d.source.path.size() + d.title.size() + d.error.size();
    for (const Segment& s : d.segments)
        estimate += 96 + s.text.size() + s.words.size() * kWordBoxBytes;
    w.reserve(estimate);
    w.str(kMagic);
    w.pod(kVersion);
    w.str(d.source.path);
    w.pod(static_cast<std::int32_t>(d.source.kind));
    w.str(d.source.contentHash);
    w.pod(d.source.size);
    w.pod(d.source.mtimeNs);
    w.str(d.title);
    w.str(d.language);
    w.pod(static_cast<std::int32_t>(d.status));
    w.str(d.error);
    w.pod(static_cast<std::uint32_t>(d.segments.size()));
    for (const Segment& s : d.segments) {
        w.str(s.text);
        w.pod(s.anchor.document);
        if (const auto* p = std::get_if<PageAnchor>(&s.anchor.where)) {
            w.pod(std::uint8_t{Page});
            w.pod(std::int32_t{p->page});
            w.box(p->box);
        } else if (const auto* l = std::get_if<LineAnchor>(&s.anchor.where)) {
            w.pod(std::uint8_t{Line});
            w.pod(std::int32_t{l->lineBegin});
            w.pod(std::int32_t{l->lineEnd});
        } else if (const auto* t = std::get_if<TimeAnchor>(&s.anchor.where)) {
            w.pod(std::uint8_t{Time});
            w.pod(t->beginMs);
            w.pod(t->endMs);
        } else if (const auto* g = std::get_if<ParagraphAnchor>(&s.anchor.where)) {
            w.pod(std::uint8_t{Paragraph});
            w.pod(std::int32_t{g->paragraph});
        } else {
            w.pod(std::uint8_t{None});
        }
        w.pod(std::uint8_t{s.tokenCount.has_value()});
        if (s.tokenCount)
            w.pod(std::int32_t{*s.tokenCount});
        w.pod(std::uint8_t{s.framePath.has_value()});
        if (s.framePath)
            w.str(*s.framePath);
        w.pod(std::int32_t{s.headingLevel});
        w.pod(static_cast<std::uint32_t>(s.words.size()));
        w.raw(s.words.data(), s.words.size() * kWordBoxBytes);
    }
    return w.take();
}

std::expected<Document, Error> decodeDocument(std::string_view bytes)
{
    auto bad = [](const char* what) {
        return std::unexpected(Error{ErrorCode::Format, std::string("malformed document record: ") + what});
    };
    Reader r(bytes);
    if (r.str() != kMagic || !r.ok())
        return bad("no header");
    if (r.pod<std::uint32_t>() != kVersion)
        return bad("unknown version");
    Document d;
    d.source.path = r.str();
    d.source.kind = static_cast<SourceKind>(r.pod<std::int32_t>());
    d.source.contentHash = r.str();
    d.source.size = r.pod<std::int64_t>();
    d.source.mtimeNs = r.pod<std::int64_t>();
    d.title = r.str();
    d.language = r.str();
    d.status = static_cast<SourceStatus>(r.pod<std::int32_t>());
    d.error = r.str();
    const std::uint32_t n = r.count(4 + 8 + 1 + 1 + 1 + 4 + 4);
    d.segments.reserve(n);
    for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
        Segment s;
        s.text = r.str();
        s.anchor.document = r.pod<std::int64_t>();
        switch (r.pod<std::uint8_t>()) {
        case None:
            break;
        case Page: {
            PageAnchor p;
            p.page = r.pod<std::int32_t>();
            p.box = r.box();
            s.anchor.where = p;
            break;
        }
        case Line: {
            LineAnchor l;
            l.lineBegin = r.pod<std::int32_t>();
            l.lineEnd = r.pod<std::int32_t>();
            s.anchor.where = l;
            break;
        }
        case Time: {
            TimeAnchor t;
            t.beginMs = r.pod<std::int64_t>();
            t.endMs = r.pod<std::int64_t>();
            s.anchor.where = t;
            break;
        }
        case Paragraph:
            s.anchor.where = ParagraphAnchor{r.pod<std::int32_t>()};
            break;
        default:
            return bad("unknown anchor");
        }
        if (r.pod<std::uint8_t>())
            s.tokenCount = r.pod<std::int32_t>();
        if (r.pod<std::uint8_t>())
            s.framePath = r.str();
        s.headingLevel = r.pod<std::int32_t>();
        const std::uint32_t words = r.count(kWordBoxBytes);
        s.words.resize(words);
        r.raw(s.words.data(), words * kWordBoxBytes);
        d.segments.push_back(std::move(s));
    }
    if (!r.ok())
        return bad("truncated");
    if (!r.atEnd())
        return bad("trailing bytes");
    return d;
}

} // namespace quire::ingest
