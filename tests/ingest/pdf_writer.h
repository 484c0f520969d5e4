// Writes small PDF files for the tests and benchmarks: pages of text in Helvetica placed line by
// line (a real text layer), and pages carrying only a gray image (no text layer, for OCR). The
// output is plain PDF 1.4 syntax with a correct cross-reference table; image data is
// Flate-compressed with zlib. Header-only, test code.
#pragma once

#include <zlib.h>

#include <cstdio>
#include <string>
#include <vector>

namespace quire::ingest::test {

struct PdfTextLine {
    double x = 72;
    double top = 72; // distance of the baseline from the page's top edge, points
    double size = 11;
    std::string text; // Latin-1 / ASCII
};

struct PdfGrayImage {
    int width = 0;
    int height = 0;
    std::vector<unsigned char> pixels; // width * height, 0 = black
};

struct PdfPage {
    double width = 612;
    double height = 792;
    std::vector<PdfTextLine> lines;
    PdfGrayImage image; // drawn over the whole page when not empty
};

inline std::string pdfEscape(const std::string& s)
{
    std::string out;
    for (char c : s) {
        if (c == '(' || c == ')' || c == '\\')
            out += '\\';
        out += c;
    }
    return out;
}

inline std::string deflate(const std::vector<unsigned char>& data)
{
    uLongf size = compressBound(static_cast<uLong>(data.size()));
    std::string out(size, '\0');
    compress2(reinterpret_cast<Bytef*>(out.data()), &size, data.data(), static_cast<uLong>(data.size()), 6);
    out.resize(size);
    return out;
}

// Objects: 1 catalog, 2 page tree, 3 font, then per page: page, content, [image].
inline std::string writePdf(const std::vector<PdfPage>& pages, const std::string& title = {})
{
    std::vector<std::string> objects(3);
    std::vector<int> pageIds;
    for (const PdfPage& page : pages) {
        const int pageId = static_cast<int>(objects.size()) + 1;
        const int contentId = pageId + 1;
        const bool hasImage = !page.image.pixels.empty();
        const int imageId = contentId + 1;
        pageIds.push_back(pageId);
        char box[96];
        std::snprintf(box, sizeof box, "[0 0 %.2f %.2f]", page.width, page.height);
        std::string resources = "<< /Font << /F1 3 0 R >>";
        if (hasImage)
            resources += " /XObject << /Im1 " + std::to_string(imageId) + " 0 R >>";
        resources += " >>";
        objects.push_back("<< /Type /Page /Parent 2 0 R /MediaBox " + std::string(box) + " /Resources " +
                          resources + " /Contents " + std::to_string(contentId) + " 0 R >>");
        std::string content;
        if (hasImage) {
            char cm[128];
            std::snprintf(cm, sizeof cm, "q %.2f 0 0 %.2f 0 0 cm /Im1 Do Q\n", page.width, page.height);
            content += cm;
        }
        for (const PdfTextLine& l : page.lines) {
            char pos[128];
            std::snprintf(pos, sizeof pos, "BT /F1 %.1f Tf %.2f %.2f Td (", l.size, l.x, page.height - l.top);
            content += pos + pdfEscape(l.text) + ") Tj ET\n";
        }
        objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
                          "\nendstream");
        if (hasImage) {
            const std::string data = deflate(page.image.pixels);
            objects.push_back("<< /Type /XObject /Subtype /Image /Width " + std::to_string(page.image.width) +
                              " /Height " + std::to_string(page.image.height) +
                              " /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length " +
                              std::to_string(data.size()) + " >>\nstream\n" + data + "\nendstream");
        }
    }
    std::string kids;
    for (int id : pageIds)
        kids += std::to_string(id) + " 0 R ";
    objects[0] = "<< /Type /Catalog /Pages 2 0 R >>";
    objects[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pageIds.size()) + " >>";
    objects[2] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";

    std::string out = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < objects.size(); ++i) {
        offsets.push_back(out.size());
        out += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
    }
    std::string info;
    if (!title.empty()) {
        offsets.push_back(out.size());
        out +=
            std::to_string(objects.size() + 1) + " 0 obj\n<< /Title (" + pdfEscape(title) + ") >>\nendobj\n";
        info = " /Info " + std::to_string(objects.size() + 1) + " 0 R";
    }
    const std::size_t xref = out.size();
    out += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
    for (std::size_t off : offsets) {
        char entry[24];
        std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", off);
        out += entry;
    }
    out += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) + " /Root 1 0 R" + info +
           " >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
    return out;
}

// A page of `paragraphs`, each a list of lines, set in 11 pt with a blank line between them.
inline PdfPage textPage(const std::vector<std::vector<std::string>>& paragraphs, double size = 11)
{
    PdfPage page;
    double top = 72;
    for (const auto& para : paragraphs) {
        for (const auto& line : para) {
            page.lines.push_back({72, top, size, line});
            top += size * 1.25;
        }
        top += size * 1.25;
    }
    return page;
}

} // namespace quire::ingest::test
