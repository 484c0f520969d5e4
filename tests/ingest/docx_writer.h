// Writes minimal DOCX files for the tests with libzip: a document.xml body from given XML, a
// styles.xml with "heading 1"/"heading 2"/"Title" styles, and optional core properties.
#pragma once

#include <zip.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace quire::ingest::test {

inline constexpr const char* kWordNs = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

inline std::string docxParagraph(const std::string& text, const std::string& style = {})
{
    std::string p = "<w:p>";
    if (!style.empty())
        p += "<w:pPr><w:pStyle w:val=\"" + style + "\"/></w:pPr>";
    p += "<w:r><w:t xml:space=\"preserve\">" + text + "</w:t></w:r></w:p>";
    return p;
}

inline std::string docxDocument(const std::string& bodyXml)
{
    return std::string(
               "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"") +
           kWordNs + "\"><w:body>" + bodyXml + "<w:sectPr/></w:body></w:document>";
}

inline std::string docxStyles()
{
    return std::string("<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:styles xmlns:w=\"") + kWordNs +
           "\">"
           "<w:style w:type=\"paragraph\" w:styleId=\"Heading1\"><w:name w:val=\"heading 1\"/></w:style>"
           "<w:style w:type=\"paragraph\" w:styleId=\"Berschrift2\"><w:name w:val=\"heading 2\"/></w:style>"
           "<w:style w:type=\"paragraph\" w:styleId=\"Title\"><w:name w:val=\"Title\"/></w:style>"
           "<w:style w:type=\"paragraph\" w:styleId=\"Normal\"><w:name w:val=\"Normal\"/></w:style>"
           "</w:styles>";
}

// Parts are (name, bytes); written with deflate, in order.
inline bool writeZip(const std::filesystem::path& path,
                     const std::vector<std::pair<std::string, std::string>>& parts)
{
    int err = 0;
    zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!zip)
        return false;
    for (const auto& [name, bytes] : parts) {
        zip_source_t* src = zip_source_buffer(zip, bytes.data(), bytes.size(), 0);
        if (!src || zip_file_add(zip, name.c_str(), src, ZIP_FL_OVERWRITE) < 0) {
            zip_source_free(src);
            zip_discard(zip);
            return false;
        }
    }
    return zip_close(zip) == 0; // the buffers must live until here
}

inline bool writeDocx(const std::filesystem::path& path, const std::string& bodyXml,
                      const std::string& title = {})
{
    std::vector<std::pair<std::string, std::string>> parts = {
        {"[Content_Types].xml", "<?xml version=\"1.0\"?><Types "
                                "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>"},
        {"word/document.xml", docxDocument(bodyXml)},
        {"word/styles.xml", docxStyles()},
    };
    if (!title.empty())
        parts.push_back(
            {"docProps/core.xml",
             "<?xml version=\"1.0\"?><cp:coreProperties "
             "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
             "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>" +
                 title + "</dc:title></cp:coreProperties>"});
    return writeZip(path, parts);
}

} // namespace quire::ingest::test
