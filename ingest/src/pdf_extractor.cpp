#include "quire/ingest/pdf_extractor.h"

// libpoppler itself (libpoppler-private-dev) for the text layer; poppler-cpp for the rest.
#include <GlobalParams.h>
#include <PDFDoc.h>
#include <TextOutputDev.h>
#include <goo/GooString.h>
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
#include "quire/ingest/text_file.h"
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

// Word text as UTF-8 that is valid (a broken ToUnicode map can yield surrogates).
void setWordText(LayoutWord& w, std::string_view bytes)
{
    if (isValidUtf8(bytes)) {
        w.text.assign(bytes);
        return;
    }
    TextDecoder decoder;
    decoder.force(TextEncoding::Utf8);
    w.text.clear();
    decoder.decode(bytes, w.text);
    decoder.finish(w.text);
}

// The words of each page from libpoppler's TextOutputDev, the layout pdftotext uses, read
// directly: poppler-cpp's page::text_list() over the same device also converts every word to
// UTF-16 through iconv and records a box for every character, which costs about as much as
// the layout itself. Uses the GlobalParams that the open poppler::document keeps alive, so it
// must not outlive that document; usable() is false when the file cannot be opened this way,
// and then the caller goes through poppler-cpp.
class TextLayerReader {
public:
    explicit TextLayerReader(const std::filesystem::path& path)
    {
        if (globalParams)
            m_doc = std::make_unique<PDFDoc>(std::make_unique<GooString>(path.string()));
    }
    bool usable() const { return m_doc && m_doc->isOk(); }

    std::vector<LayoutWord> words(int pageIndex) const
    {
        std::vector<LayoutWord> words;
        TextOutputDev device(nullptr, false, 0, false, false);
        if (!device.isOk())
            return words;
        m_doc->displayPageSlice(&device, pageIndex + 1, 72, 72, 0, false, false, false, -1, -1, -1, -1);
        const std::unique_ptr<TextWordList> list = device.makeWordList();
        if (!list)
            return words;
        words.reserve(static_cast<std::size_t>(list->getLength()));
        for (int i = 0; i < list->getLength(); ++i) {
            const TextWord* word = list->get(i);
            const std::unique_ptr<GooString> text(word->getText());
            if (!text)
                continue;
            LayoutWord w;
            setWordText(w, text->toStr());
            if (blank(w.text))
                continue;
            double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
            word->getBBox(&x0, &y0, &x1, &y1);
            w.box = {x0, y0, x1 - x0, y1 - y0};
            w.spaceAfter = word->hasSpaceAfter();
            words.push_back(std::move(w));
        }
        return words;
    }

private:
    std::unique_ptr<PDFDoc> m_doc;
};

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

// What the pages of one file have in common as they are read.
struct PageState {
    std::unique_ptr<Ocr> ocr;
    bool ocrUsable = true;
    int ocrPages = 0;
    int withoutText = 0;
    std::vector<std::string> problems;
};

// Page `i` into `doc`: its text layer, else OCR when that is on.
void readPage(poppler::document& pdf, const TextLayerReader& layer, int i, const PdfOptions& options,
              Document& doc, PageState& state)
{
    std::unique_ptr<poppler::page> page; // poppler-cpp's page: for OCR, or when `layer` is unusable
    auto cppPage = [&] {
        if (!page)
            page.reset(pdf.create_page(i));
        return page.get();
    };
    const std::string unreadable = "page " + std::to_string(i + 1) + " could not be read";
    std::vector<LayoutWord> words;
    if (layer.usable())
        words = layer.words(i);
    else if (cppPage())
        words = textLayer(*page);
    else
        return state.problems.push_back(unreadable);
    if (!words.empty())
        return addParagraphs(doc, i + 1, groupParagraphs(words), options.wordBoxes);
    if (!options.ocr) {
        ++state.withoutText;
        return;
    }
    if (!state.ocrUsable)
        return;
    if (!cppPage())
        return state.problems.push_back(unreadable);
    if (!state.ocr)
        state.ocr = std::make_unique<Ocr>(options.ocrLanguage, options.tessdataDir);
    auto paragraphs = ocrPage(*page, options, *state.ocr);
    if (!paragraphs) {
        state.problems.push_back("page " + std::to_string(i + 1) + ": " + paragraphs.error().message);
        state.ocrUsable = paragraphs.error().code != ErrorCode::Unsupported; // no language data: stop trying
        return;
    }
    ++state.ocrPages;
    addParagraphs(doc, i + 1, std::move(*paragraphs), options.wordBoxes);
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

    const TextLayerReader layer(path); // declared after `pdf`: gone before it
    PageState pages;
    for (int i = 0; i < limit; ++i) {
        if (cancel && cancel->load(std::memory_order_relaxed))
            return std::unexpected(Error{ErrorCode::Cancelled, "cancelled at page " + std::to_string(i + 1)});
        readPage(*pdf, layer, i, options, doc, pages);
        if (progress)
            progress(i + 1, limit);
    }
    problems.insert(problems.end(), pages.problems.begin(), pages.problems.end());
    if (pages.withoutText > 0)
        problems.push_back(std::to_string(pages.withoutText) + " page(s) have no text layer and OCR is off");
    if (pages.ocrPages > 0)
        log()->debug("{}: {} page(s) read by OCR", path.string(), pages.ocrPages);
    if (!problems.empty()) {
        doc.status = SourceStatus::Partial;
        for (const auto& p : problems)
            doc.error += (doc.error.empty() ? "" : "; ") + p;
    }
    return doc;
}

} // namespace quire::ingest
