#include "quire/ingest/pdf_extractor.h"

#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-image.h>
#include <poppler-page-renderer.h>
#include <poppler-page.h>

#include <memory>
#include <mutex>
#include <vector>

#include "log.h"
#include "ocr.h"
#include "pdf_layout.h"
#include "text_decoder.h"

namespace quire::ingest {

namespace {

// Poppler reports problems through one process-wide hook; route them to the thread at work.
thread_local std::vector<std::string>* t_popplerErrors = nullptr;

void popplerError(const std::string& message, void*)
{
    std::string_view text = message;
    if (text.starts_with("error: "))
        text.remove_prefix(7);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.remove_suffix(1);
    if (t_popplerErrors && t_popplerErrors->size() < 64)
        t_popplerErrors->push_back(std::string(text));
    log()->debug("poppler: {}", message);
}

struct ErrorCapture {
    std::vector<std::string> messages;
    ErrorCapture()
    {
        static std::once_flag once;
        std::call_once(once, [] { poppler::set_debug_error_function(popplerError, nullptr); });
        t_popplerErrors = &messages;
    }
    ~ErrorCapture() { t_popplerErrors = nullptr; }
    std::string first() const { return messages.empty() ? std::string() : messages.front(); }
};

// poppler::ustring holds UTF-16; its to_utf8() opens an iconv converter per call, which costs
// more than Poppler's own text layout when called per word. Convert directly.
std::string toUtf8(const poppler::ustring& s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char32_t cp = s[i];
        if (cp < 0x80) { // most words are ASCII
            out += static_cast<char>(cp);
            continue;
        }
        if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            ++i;
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        appendUtf8(out, cp);
    }
    return out;
}

bool blank(std::string_view s)
{
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return false;
    return true;
}

std::vector<LayoutWord> textLayer(const poppler::page& page)
{
    std::vector<LayoutWord> words;
    std::vector<poppler::text_box> boxes = page.text_list(0);
    words.reserve(boxes.size());
    for (const poppler::text_box& tb : boxes) {
        LayoutWord w;
        w.text = toUtf8(tb.text());
        if (blank(w.text))
            continue;
        const poppler::rectf r = tb.bbox();
        w.box = {r.x(), r.y(), r.width(), r.height()};
        w.spaceAfter = tb.has_space_after();
        words.push_back(std::move(w));
    }
    return words;
}

std::expected<std::vector<LayoutParagraph>, Error> ocrPage(const poppler::page& page,
                                                           const PdfOptions& options, Ocr& ocr)
{
    poppler::page_renderer renderer;
    renderer.set_render_hint(poppler::page_renderer::antialiasing, true);
    renderer.set_render_hint(poppler::page_renderer::text_antialiasing, true);
    renderer.set_image_format(poppler::image::format_gray8);
    const poppler::image img = renderer.render_page(&page, options.ocrDpi, options.ocrDpi);
    if (!img.is_valid() || img.width() <= 0 || img.height() <= 0)
        return std::unexpected(Error{ErrorCode::Format, "could not render the page for OCR"});
    GrayImage gray;
    gray.data = reinterpret_cast<const unsigned char*>(img.const_data());
    gray.width = img.width();
    gray.height = img.height();
    gray.bytesPerLine = img.bytes_per_row();
    gray.bytesPerPixel = img.format() == poppler::image::format_gray8 ? 1 : 4;
    return ocr.recognize(gray, options.ocrDpi, 72.0 / options.ocrDpi);
}

void addParagraphs(Document& doc, int pageNumber, std::vector<LayoutParagraph>&& paragraphs, bool wordBoxes)
{
    for (LayoutParagraph& p : paragraphs) {
        if (blank(p.text))
            continue;
        Segment s;
        s.text = std::move(p.text);
        s.anchor.where = PageAnchor{pageNumber, p.box};
        if (wordBoxes)
            s.words = std::move(p.words);
        doc.segments.push_back(std::move(s));
    }
}

} // namespace

std::expected<Document, Error> extractPdf(const std::filesystem::path& path, const PdfOptions& options,
                                          const std::atomic<bool>* cancel, const PageProgress& progress)
{
    ErrorCapture errors;
    std::unique_ptr<poppler::document> pdf(poppler::document::load_from_file(path.string()));
    if (!pdf) {
        std::string why = errors.first();
        return std::unexpected(
            Error{ErrorCode::Format, path.filename().string() + " is not a readable PDF" +
                                         (why.empty() ? std::string() : " (" + why + ")")});
    }
    if (pdf->is_locked())
        return std::unexpected(
            Error{ErrorCode::Encrypted, path.filename().string() +
                                            " is encrypted and needs a password; open it in a PDF viewer "
                                            "and save an unprotected copy to add it"});
    const std::vector<std::string> loadErrors = errors.messages;

    Document doc;
    doc.source.path = path.string();
    doc.source.kind = SourceKind::Pdf;
    doc.title = toUtf8(pdf->get_title());
    if (blank(doc.title))
        doc.title = path.filename().string();
    doc.status = SourceStatus::Ingested;

    const int pageCount = pdf->pages();
    if (pageCount <= 0)
        return std::unexpected(Error{
            ErrorCode::Format, path.filename().string() + " has no readable pages" +
                                   (loadErrors.empty() ? std::string() : " (" + loadErrors.front() + ")")});
    const int limit = options.maxPages > 0 ? std::min(options.maxPages, pageCount) : pageCount;
    std::vector<std::string> problems;
    if (!loadErrors.empty())
        problems.push_back("damaged file repaired by Poppler (" + loadErrors.front() + ")");
    if (limit < pageCount)
        problems.push_back("only the first " + std::to_string(limit) + " of " + std::to_string(pageCount) +
                           " pages were read");

    std::unique_ptr<Ocr> ocr;
    int ocrPages = 0;
    bool ocrUsable = true;
    int pagesWithoutText = 0;
    for (int i = 0; i < limit; ++i) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return std::unexpected(Error{ErrorCode::Cancelled, "cancelled at page " + std::to_string(i + 1)});
        std::unique_ptr<poppler::page> page(pdf->create_page(i));
        if (!page) {
            problems.push_back("page " + std::to_string(i + 1) + " could not be read");
            continue;
        }
        std::vector<LayoutWord> words = textLayer(*page);
        if (!words.empty()) {
            addParagraphs(doc, i + 1, groupParagraphs(words), options.wordBoxes);
        } else if (options.ocr && ocrUsable) {
            if (!ocr)
                ocr = std::make_unique<Ocr>(options.ocrLanguage, options.tessdataDir);
            auto paragraphs = ocrPage(*page, options, *ocr);
            if (!paragraphs) {
                problems.push_back("page " + std::to_string(i + 1) + ": " + paragraphs.error().message);
                ocrUsable =
                    paragraphs.error().code != ErrorCode::Unsupported; // no language data: stop trying
            } else {
                ++ocrPages;
                addParagraphs(doc, i + 1, std::move(*paragraphs), options.wordBoxes);
            }
        } else if (!options.ocr) {
            ++pagesWithoutText;
        }
        if (progress)
            progress(i + 1, limit);
    }
    if (pagesWithoutText > 0)
        problems.push_back(std::to_string(pagesWithoutText) + " page(s) have no text layer and OCR is off");
    if (ocrPages > 0)
        log()->debug("{}: {} page(s) read by OCR", path.string(), ocrPages);
    if (!problems.empty()) {
        doc.status = SourceStatus::Partial;
        for (const auto& p : problems)
            doc.error += (doc.error.empty() ? "" : "; ") + p;
    }
    return doc;
}

} // namespace quire::ingest
