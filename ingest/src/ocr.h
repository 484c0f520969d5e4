// Tesseract OCR of a rendered page image into paragraphs with word boxes. One object per thread
// (a TessBaseAPI is not thread-safe); the engine is initialised on first use.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "pdf_layout.h"
#include "quire/ingest/error.h"

namespace tesseract {
class TessBaseAPI;
}

namespace quire::ingest {

struct GrayImage {
    const unsigned char* data = nullptr;
    int width = 0;
    int height = 0;
    int bytesPerLine = 0;
    int bytesPerPixel = 1; // 1 (gray) or 4 (BGRA)
};

class Ocr {
public:
    Ocr(std::string language, std::string tessdataDir);
    ~Ocr();
    Ocr(const Ocr&) = delete;
    Ocr& operator=(const Ocr&) = delete;

    // Paragraphs in reading order; boxes are scaled by `pointsPerPixel` (72 / dpi for a page).
    std::expected<std::vector<LayoutParagraph>, Error> recognize(const GrayImage& image, int dpi,
                                                                 double pointsPerPixel);

private:
    std::string m_language;
    std::string m_tessdata;
    std::unique_ptr<tesseract::TessBaseAPI> m_api;
};

} // namespace quire::ingest
