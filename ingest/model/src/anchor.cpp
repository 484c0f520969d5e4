#include "quire/ingest/model/types.h"

#include <cstdio>

namespace quire::ingest {

const char* toString(SourceKind kind)
{
    switch (kind) {
    case SourceKind::Text: return "text";
    case SourceKind::Code: return "code";
    case SourceKind::Pdf: return "pdf";
    case SourceKind::Docx: return "docx";
    case SourceKind::Audio: return "audio";
    case SourceKind::Video: return "video";
    case SourceKind::Unknown: break;
    }
    return "unknown";
}

const char* toString(SourceStatus status)
{
    switch (status) {
    case SourceStatus::Pending: return "pending";
    case SourceStatus::Ingested: return "ingested";
    case SourceStatus::Partial: return "partial";
    case SourceStatus::Quarantined: return "quarantined";
    case SourceStatus::Skipped: return "skipped";
    }
    return "unknown";
}

namespace {
std::string formatTime(std::int64_t ms)
{
    const std::int64_t s = ms / 1000;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>((s / 60) % 60), static_cast<long long>(s % 60));
    return buf;
}
}  // namespace

std::string formatAnchor(const Anchor& anchor)
{
    struct Visitor {
        std::string operator()(std::monostate) const { return {}; }
        std::string operator()(const PageAnchor& a) const
        {
            std::string s = "p.";
            s += std::to_string(a.page);
            return s;
        }
        std::string operator()(const LineAnchor& a) const
        {
            char buf[48];
            if (a.lineBegin == a.lineEnd)
                std::snprintf(buf, sizeof buf, "L%d", a.lineBegin);
            else
                std::snprintf(buf, sizeof buf, "L%d-%d", a.lineBegin, a.lineEnd);
            return buf;
        }
        std::string operator()(const TimeAnchor& a) const { return formatTime(a.beginMs); }
        std::string operator()(const ParagraphAnchor& a) const
        {
            std::string s = "\xC2\xB6";  // pilcrow
            s += std::to_string(a.paragraph + 1);
            return s;
        }
    };
    return std::visit(Visitor{}, anchor.where);
}

}  // namespace quire::ingest
