// PDF to page-anchored segments with Poppler (poppler-cpp opens the document and renders pages
// for OCR; the text layer comes from libpoppler's TextOutputDev, as in pdftotext). Each page's
// text layer is read in reading order with word boxes; words are grouped into paragraphs, one Segment per paragraph with a
// PageAnchor (page and the paragraph's box, in points from the page's top-left corner) and its
// WordBoxes. A page without a text layer is rendered (300 dpi by default) and read with
// Tesseract, keeping the word boxes. Encrypted files give ErrorCode::Encrypted; files Poppler
// cannot open give ErrorCode::Format; files it had to repair come back Partial with the reason.
// Runs in the calling process: the Ingestor calls it inside the helper process for isolation.
// Thread-safe for different files (Poppler's error hook is process-wide; messages go to the
// thread that triggered them).
#pragma once

#include <atomic>
#include <expected>
#include <filesystem>
#include <functional>
#include <string>

#include "quire/ingest/error.h"
#include "quire/ingest/model/types.h"

namespace quire::ingest {

struct PdfOptions {
    bool ocr = true; // read pages without a text layer with Tesseract
    int ocrDpi = 300;
    std::string ocrLanguage = "eng";
    std::string tessdataDir; // empty: Tesseract's default
    int maxPages = 0;        // 0: all pages; else the rest is dropped and the document is Partial
    bool wordBoxes = true;   // keep per-word boxes in Segment::words
};

using PageProgress = std::function<void(int pagesDone, int pageCount)>;

std::expected<Document, Error> extractPdf(const std::filesystem::path& path, const PdfOptions& options = {},
                                          const std::atomic<bool>* cancel = nullptr,
                                          const PageProgress& progress = {});

} // namespace quire::ingest
