#include "pdf_layout.h"

#include <algorithm>
#include <cmath>

namespace quire::ingest {

BoundingBox unite(const BoundingBox& a, const BoundingBox& b)
{
    if (a.width <= 0 && a.height <= 0)
        return b;
    const double x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
    const double x1 = std::max(a.x + a.width, b.x + b.width), y1 = std::max(a.y + a.height, b.y + b.height);
    return {x0, y0, x1 - x0, y1 - y0};
}

void appendWord(LayoutParagraph& p, std::string_view separator, std::string_view word, const BoundingBox& box)
{
    if (!p.text.empty())
        p.text.append(separator);
    WordBox wb;
    wb.offset = static_cast<std::uint32_t>(p.text.size());
    wb.length = static_cast<std::uint32_t>(word.size());
    wb.box = box;
    p.text.append(word);
    p.words.push_back(wb);
    p.box = unite(p.box, box);
}

namespace {

struct Line {
    std::vector<const LayoutWord*> words;
    BoundingBox box;
    double height = 0; // the tallest word: the font size, roughly
};

std::vector<Line> groupLines(const std::vector<LayoutWord>& words)
{
    std::vector<Line> lines;
    for (const LayoutWord& w : words) {
        if (w.text.empty())
            continue;
        bool newLine = lines.empty();
        if (!newLine) {
            const Line& line = lines.back();
            const LayoutWord& prev = *line.words.back();
            const double prevMid = prev.box.y + prev.box.height / 2;
            const double mid = w.box.y + w.box.height / 2;
            const double h = std::max(1.0, std::min(prev.box.height, w.box.height));
            const bool wentBack = w.box.x + 0.5 < prev.box.x;
            const bool offLine = std::abs(mid - prevMid) > 0.5 * h;
            const bool farRight = w.box.x - (prev.box.x + prev.box.width) > 6 * h; // across a gutter
            newLine = wentBack || offLine || farRight;
        }
        if (newLine)
            lines.push_back({});
        Line& line = lines.back();
        line.words.push_back(&w);
        line.box = unite(line.box, w.box);
        line.height = std::max(line.height, w.box.height);
    }
    return lines;
}

bool startsLower(std::string_view s)
{
    return !s.empty() && ((s[0] >= 'a' && s[0] <= 'z') || static_cast<unsigned char>(s[0]) >= 0xC3);
}

bool breaksParagraph(const Line& a, const Line& b)
{
    const double h = std::max(a.height, b.height);
    const double gap = b.box.y - (a.box.y + a.box.height);
    if (gap > 0.7 * h)
        return true;
    if (b.box.y + 0.5 * h < a.box.y)
        return true; // moved up: a new column or a new region
    const double overlap =
        std::min(a.box.x + a.box.width, b.box.x + b.box.width) - std::max(a.box.x, b.box.x);
    if (overlap <= 0)
        return true; // side by side: another column
    const double ratio = std::max(a.height, b.height) / std::max(0.1, std::min(a.height, b.height));
    return ratio > 1.3; // font size changed: heading and body
}

} // namespace

std::vector<LayoutParagraph> groupParagraphs(const std::vector<LayoutWord>& words)
{
    std::vector<LayoutParagraph> paragraphs;
    const std::vector<Line> lines = groupLines(words);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i == 0 || breaksParagraph(lines[i - 1], lines[i]))
            paragraphs.push_back({});
        LayoutParagraph& p = paragraphs.back();
        const auto& lineWords = lines[i].words;
        for (std::size_t k = 0; k < lineWords.size(); ++k) {
            const LayoutWord* w = lineWords[k];
            std::string_view sep = " ";
            if (p.text.empty()) {
                sep = "";
            } else if (k == 0) {
                // "infor-" + "mation" across a line break: join without the hyphen.
                if (p.text.back() == '-' && p.text.size() >= 2 && p.text[p.text.size() - 2] != ' ' &&
                    startsLower(w->text)) {
                    p.text.pop_back();
                    --p.words.back().length;
                    sep = "";
                }
            } else if (!lineWords[k - 1]->spaceAfter) {
                sep = "";
            }
            appendWord(p, sep, w->text, w->box);
        }
    }
    return paragraphs;
}

} // namespace quire::ingest
