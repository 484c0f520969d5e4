#include "ocr.h"

#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

namespace quire::ingest {

Ocr::Ocr(std::string language, std::string tessdataDir)
    : m_language(std::move(language)), m_tessdata(std::move(tessdataDir))
{
}

Ocr::~Ocr()
{
    if (m_api)
        m_api->End();
}

std::expected<std::vector<LayoutParagraph>, Error> Ocr::recognize(const GrayImage& image, int dpi,
                                                                  double pointsPerPixel)
{
    if (!m_api) {
        auto api = std::make_unique<tesseract::TessBaseAPI>();
        if (api->Init(m_tessdata.empty() ? nullptr : m_tessdata.c_str(), m_language.c_str(),
                      tesseract::OEM_DEFAULT) != 0)
            return std::unexpected(Error{ErrorCode::Unsupported,
                                         "Tesseract could not load the '" + m_language +
                                             "' language data (install tesseract-ocr-" + m_language + ")"});
        api->SetPageSegMode(tesseract::PSM_AUTO);
        m_api = std::move(api);
    }
    m_api->SetImage(image.data, image.width, image.height, image.bytesPerPixel, image.bytesPerLine);
    m_api->SetSourceResolution(dpi);
    if (m_api->Recognize(nullptr) != 0)
        return std::unexpected(Error{ErrorCode::Format, "Tesseract could not read the page image"});

    std::vector<LayoutParagraph> paragraphs;
    std::unique_ptr<tesseract::ResultIterator> it(m_api->GetIterator());
    if (!it)
        return paragraphs;
    constexpr auto kWord = tesseract::RIL_WORD;
    do {
        if (it->Empty(kWord))
            continue;
        std::unique_ptr<char[]> text(it->GetUTF8Text(kWord));
        if (!text || text[0] == 0)
            continue;
        if (paragraphs.empty() || it->IsAtBeginningOf(tesseract::RIL_PARA))
            paragraphs.push_back({});
        int l = 0, t = 0, r = 0, b = 0;
        it->BoundingBox(kWord, &l, &t, &r, &b);
        const BoundingBox box{l * pointsPerPixel, t * pointsPerPixel, (r - l) * pointsPerPixel,
                              (b - t) * pointsPerPixel};
        appendWord(paragraphs.back(), " ", text.get(), box);
    } while (it->Next(kWord));
    m_api->Clear();
    return paragraphs;
}

} // namespace quire::ingest
