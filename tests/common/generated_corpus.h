// Helpers the end-to-end tests (tests/app, tests/ui) share to write the corpora they generate at
// run time: files with their folders, and PDF pages of contract-like clauses. Header-only; the
// PDFs come from the ingest tests' minimal writer (tests/ingest/pdf_writer.h).
#pragma once

#include <QDir>
#include <QFileInfo>
#include <QString>

#include <fstream>
#include <string>
#include <vector>

#include "ingest/pdf_writer.h"

namespace quire::test {

// Writes `bytes` to `path`, creating its folder; false when it cannot.
inline bool writeFile(const QString& path, const std::string& bytes)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    std::ofstream f(path.toStdString(), std::ios::binary);
    f << bytes;
    return bool(f.flush());
}

// One paragraph per clause on a page, each wrapped at about 80 characters.
inline ingest::test::PdfPage clausePage(const std::vector<std::string>& clauses)
{
    std::vector<std::vector<std::string>> paragraphs;
    for (const auto& c : clauses) {
        std::vector<std::string> lines;
        std::string line;
        std::size_t start = 0;
        while (start < c.size()) {
            std::size_t end = c.find(' ', start);
            if (end == std::string::npos)
                end = c.size();
            const std::string word = c.substr(start, end - start);
            if (!line.empty() && line.size() + 1 + word.size() > 80) {
                lines.push_back(line);
                line.clear();
            }
            line += (line.empty() ? "" : " ") + word;
            start = end + 1;
        }
        if (!line.empty())
            lines.push_back(line);
        paragraphs.push_back(lines);
    }
    return ingest::test::textPage(paragraphs);
}

} // namespace quire::test
