#include "quire/ingest/text_file.h"

#include <fstream>

#include "log.h"

namespace quire::ingest {

bool isValidUtf8(std::string_view s)
{
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int n = 0;
        unsigned cp = 0;
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        if (end - p <= n)
            return false;
        for (int i = 1; i <= n; ++i) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        static constexpr unsigned minimum[] = {0, 0x80, 0x800, 0x10000};
        if (cp < minimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

namespace {

void appendUtf8(std::string& out, unsigned cp)
{
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

std::string fromUtf16(std::string_view bytes, bool bigEndian)
{
    std::string out;
    out.reserve(bytes.size());
    auto unit = [&](size_t i) -> unsigned {
        const auto a = static_cast<unsigned char>(bytes[i]);
        const auto b = static_cast<unsigned char>(bytes[i + 1]);
        return bigEndian ? (a << 8 | b) : (b << 8 | a);
    };
    for (size_t i = 0; i + 1 < bytes.size(); i += 2) {
        unsigned cp = unit(i);
        if (cp >= 0xD800 && cp < 0xDC00 && i + 3 < bytes.size()) {
            const unsigned lo = unit(i + 2);
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
        }
        appendUtf8(out, cp);
    }
    return out;
}

std::string fromLatin1(std::string_view bytes)
{
    std::string out;
    out.reserve(bytes.size() + bytes.size() / 8);
    for (char c : bytes)
        appendUtf8(out, static_cast<unsigned char>(c));
    return out;
}

}  // namespace

std::expected<TextFile, Error> readTextFile(const std::filesystem::path& path, std::int64_t maxBytes)
{
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec)
        return std::unexpected(Error{ErrorCode::Io, "cannot read " + path.string() + ": " + ec.message()});
    if (static_cast<std::int64_t>(size) > maxBytes)
        return std::unexpected(Error{ErrorCode::TooLarge, path.string() + " is " + std::to_string(size) +
                                                              " bytes, over the limit of " +
                                                              std::to_string(maxBytes)});
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::unexpected(Error{ErrorCode::Io, "cannot open " + path.string()});
    std::string bytes(size, '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<size_t>(in.gcount()) != size)
        return std::unexpected(Error{ErrorCode::Io, "short read on " + path.string()});

    TextFile file;
    std::string decoded;
    if (bytes.starts_with("\xEF\xBB\xBF")) {
        file.encoding = TextEncoding::Utf8Bom;
        decoded = bytes.substr(3);
    } else if (bytes.starts_with("\xFF\xFE")) {
        file.encoding = TextEncoding::Utf16LE;
        decoded = fromUtf16(std::string_view(bytes).substr(2), false);
    } else if (bytes.starts_with("\xFE\xFF")) {
        file.encoding = TextEncoding::Utf16BE;
        decoded = fromUtf16(std::string_view(bytes).substr(2), true);
    } else if (isValidUtf8(bytes)) {
        decoded = std::move(bytes);
    } else {
        file.encoding = TextEncoding::Latin1;
        decoded = fromLatin1(bytes);
        log()->debug("{} is not UTF-8; read as Latin-1", path.string());
    }

    file.text.reserve(decoded.size());
    for (size_t i = 0; i < decoded.size(); ++i) {
        const char c = decoded[i];
        if (c == '\r') {
            file.text += '\n';
            if (i + 1 < decoded.size() && decoded[i + 1] == '\n')
                ++i;
        } else {
            file.text += c;
        }
    }
    for (char c : file.text)
        file.lineCount += c == '\n';
    if (!file.text.empty() && file.text.back() != '\n')
        ++file.lineCount;
    return file;
}

}  // namespace quire::ingest
