#include "quire/ingest/extractor.h"

#include "quire/ingest/docx_extractor.h"
#include "quire/ingest/media_extractor.h"
#include "quire/ingest/pdf_extractor.h"
#include "quire/ingest/text_extractor.h"

namespace quire::ingest {

std::expected<Document, Error> extractFile(const std::filesystem::path& path, SourceKind kind,
                                           const ExtractOptions& options, const std::atomic<bool>* cancel,
                                           const FractionProgress& progress)
{
    switch (kind) {
    case SourceKind::Text:
    case SourceKind::Code: {
        std::error_code ec;
        const auto size = static_cast<double>(std::filesystem::file_size(path, ec));
        return extractTextDocument(path, kind, options.text, cancel, [&](std::int64_t done) {
            if (progress && size > 0)
                progress(static_cast<double>(done) / size);
        });
    }
    case SourceKind::Pdf:
        return extractPdf(path, options.pdf, cancel, [&](int done, int total) {
            if (progress)
                progress(static_cast<double>(done) / std::max(1, total));
        });
    case SourceKind::Docx: {
        auto doc = extractDocx(path, options.docx);
        if (progress)
            progress(1.0);
        return doc;
    }
    case SourceKind::Audio:
    case SourceKind::Video:
        return extractMedia(path, options.media, nullptr, cancel, progress);
    case SourceKind::Unknown:
        break;
    }
    return std::unexpected(Error{ErrorCode::Unsupported, "no extractor for " + path.filename().string() +
                                                             " (" + toString(kind) + ")"});
}

} // namespace quire::ingest
