#include "quire/app/source_map.h"

#include <algorithm>
#include <cstdio>

namespace quire::app {

namespace {

std::string formatTime(std::int64_t ms)
{
    const std::int64_t s = ms / 1000;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>((s / 60) % 60), static_cast<long long>(s % 60));
    return buf;
}

bool overlaps(int a0, int a1, int b0, int b1)
{
    return a0 <= b1 && b0 <= a1;
}

} // namespace

std::string formatLocator(const Locator& where)
{
    // Built with append: g++ 12 warns falsely (-Wrestrict) on "literal" + std::string&&.
    std::string s;
    auto range = [&](const char* one, const char* many, int a, int b) {
        s.append(b > a ? many : one);
        s.append(std::to_string(a));
        if (b > a) {
            s.push_back('-');
            s.append(std::to_string(b));
        }
    };
    switch (where.kind) {
    case Locator::Kind::Document:
        break;
    case Locator::Kind::Page:
        range("p.", "pp.", where.first, where.last);
        break;
    case Locator::Kind::Lines:
        range("L", "L", where.first, where.last);
        break;
    case Locator::Kind::Time:
        s.append(formatTime(where.beginMs));
        if (where.endMs > where.beginMs) {
            s.push_back('-');
            s.append(formatTime(where.endMs));
        }
        break;
    case Locator::Kind::Paragraph:
        s.append("\xC2\xB6");
        s.append(std::to_string(where.first));
        break;
    }
    return s;
}

std::string formatMark(int docNumber, const ingest::Anchor& anchor)
{
    std::string place = ingest::formatAnchor(anchor);
    std::string mark = "[doc " + std::to_string(docNumber);
    if (!place.empty())
        mark += " " + place;
    return mark + "]";
}

const MappedDocument* SourceMap::document(int number) const
{
    for (const auto& d : documents) {
        if (d.number == number)
            return &d;
    }
    return nullptr;
}

const MappedSegment* SourceMap::segmentAtToken(std::int64_t t) const
{
    auto it = std::upper_bound(segments.begin(), segments.end(), t,
                               [](std::int64_t v, const MappedSegment& s) { return v < s.tokenBegin; });
    if (it == segments.begin())
        return nullptr;
    --it;
    return t < it->tokenEnd ? &*it : nullptr;
}

std::vector<std::size_t> SourceMap::resolve(int number, const Locator& where, std::int64_t toleranceMs) const
{
    std::vector<std::size_t> out;
    const MappedDocument* doc = document(number);
    if (!doc)
        return out;
    const std::size_t end = doc->firstSegment + doc->segmentCount;
    for (std::size_t i = doc->firstSegment; i < end && i < segments.size(); ++i) {
        const auto& w = segments[i].anchor.where;
        bool hit = false;
        switch (where.kind) {
        case Locator::Kind::Document:
            hit = true;
            break;
        case Locator::Kind::Page:
            if (const auto* p = std::get_if<ingest::PageAnchor>(&w))
                hit = p->page >= where.first && p->page <= std::max(where.first, where.last);
            break;
        case Locator::Kind::Lines:
            if (const auto* l = std::get_if<ingest::LineAnchor>(&w))
                hit = overlaps(l->lineBegin, l->lineEnd, where.first, std::max(where.first, where.last));
            break;
        case Locator::Kind::Time:
            if (const auto* t = std::get_if<ingest::TimeAnchor>(&w)) {
                const std::int64_t b = where.beginMs, e = std::max(where.beginMs, where.endMs);
                hit = t->beginMs <= e && b <= t->endMs;
            }
            break;
        case Locator::Kind::Paragraph:
            if (const auto* g = std::get_if<ingest::ParagraphAnchor>(&w))
                hit = g->paragraph + 1 == where.first;
            break;
        }
        if (hit)
            out.push_back(i);
    }
    // A time written to the second rarely falls exactly inside a segment's span: take the
    // segments within the tolerance when nothing contains the instant.
    if (out.empty() && where.kind == Locator::Kind::Time) {
        for (std::size_t i = doc->firstSegment; i < end && i < segments.size(); ++i) {
            if (const auto* t = std::get_if<ingest::TimeAnchor>(&segments[i].anchor.where)) {
                const std::int64_t b = where.beginMs - toleranceMs,
                                   e = std::max(where.beginMs, where.endMs) + toleranceMs;
                if (t->beginMs <= e && b <= t->endMs)
                    out.push_back(i);
            }
        }
    }
    return out;
}

std::string SourceMap::markFor(std::size_t index) const
{
    const auto& s = segments.at(index);
    return formatMark(s.docNumber, s.anchor);
}

Locator SourceMap::locatorFor(std::size_t index) const
{
    const auto& w = segments.at(index).anchor.where;
    Locator l;
    if (const auto* p = std::get_if<ingest::PageAnchor>(&w)) {
        l.kind = Locator::Kind::Page;
        l.first = l.last = p->page;
    } else if (const auto* r = std::get_if<ingest::LineAnchor>(&w)) {
        l.kind = Locator::Kind::Lines;
        l.first = r->lineBegin;
        l.last = r->lineEnd;
    } else if (const auto* t = std::get_if<ingest::TimeAnchor>(&w)) {
        l.kind = Locator::Kind::Time;
        l.beginMs = t->beginMs;
        l.endMs = t->endMs;
    } else if (const auto* g = std::get_if<ingest::ParagraphAnchor>(&w)) {
        l.kind = Locator::Kind::Paragraph;
        l.first = l.last = g->paragraph + 1;
    }
    return l;
}

} // namespace quire::app
