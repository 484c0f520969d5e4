// Groups the words of one page, given in reading order with their boxes, into lines and the
// lines into paragraphs: a new line when a word moves back left or off the line's height; a new
// paragraph at a vertical gap larger than ~0.7 line heights, a jump upwards or sideways (a new
// column), or a change of font size (a heading). Pure functions.
#pragma once

#include <string>
#include <vector>

#include "quire/ingest/model/types.h"

namespace quire::ingest {

struct LayoutWord {
    std::string text; // UTF-8
    BoundingBox box;  // points, origin top-left
    bool spaceAfter = true;
};

struct LayoutParagraph {
    std::string text;
    BoundingBox box;
    std::vector<WordBox> words; // offsets into text
};

std::vector<LayoutParagraph> groupParagraphs(const std::vector<LayoutWord>& words);

// Appends `word` to `paragraph` (separated by `separator`, which may be empty) and records its box.
void appendWord(LayoutParagraph& paragraph, std::string_view separator, std::string_view word,
                const BoundingBox& box);

BoundingBox unite(const BoundingBox& a, const BoundingBox& b);

} // namespace quire::ingest
