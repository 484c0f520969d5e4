#include "text_decoder.h"

#include <cstring>

namespace quire::ingest {

void appendUtf8(std::string& out, char32_t cp)
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

namespace {

// Length of the UTF-8 sequence led by `lead` and the allowed range of its second byte; 0 when
// `lead` cannot start a sequence.
struct LeadInfo {
    int length;
    unsigned char lo, hi;
};

LeadInfo leadInfo(unsigned char c)
{
    if (c < 0x80)
        return {1, 0, 0};
    if (c >= 0xC2 && c <= 0xDF)
        return {2, 0x80, 0xBF};
    if (c == 0xE0)
        return {3, 0xA0, 0xBF};
    if (c == 0xED)
        return {3, 0x80, 0x9F};
    if (c >= 0xE1 && c <= 0xEF)
        return {3, 0x80, 0xBF};
    if (c == 0xF0)
        return {4, 0x90, 0xBF};
    if (c >= 0xF1 && c <= 0xF3)
        return {4, 0x80, 0xBF};
    if (c == 0xF4)
        return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

// How many bytes from `p` (at most `n`) form a valid prefix of the sequence led by p[0].
int validPrefix(const unsigned char* p, std::size_t n, const LeadInfo& info)
{
    int k = 1;
    if (static_cast<std::size_t>(k) < n && k < info.length && p[1] >= info.lo && p[1] <= info.hi)
        ++k;
    else
        return k;
    while (static_cast<std::size_t>(k) < n && k < info.length && (p[k] & 0xC0) == 0x80)
        ++k;
    return k;
}

struct Utf8Census {
    std::size_t multibyte = 0;
    std::size_t invalid = 0;
};

Utf8Census census(std::string_view bytes, bool wholeFile)
{
    Utf8Census c;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        while (i + 32 <= n) { // ASCII 32 bytes at a time: this runs over the start of every file
            std::uint64_t w[4];
            std::memcpy(w, p + i, 32);
            if ((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull)
                break;
            i += 32;
        }
        while (i + 8 <= n) { // ASCII eight bytes at a time
            std::uint64_t word;
            std::memcpy(&word, p + i, 8);
            if (word & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        const LeadInfo info = leadInfo(p[i]);
        if (info.length == 0) {
            ++c.invalid;
            ++i;
            continue;
        }
        const int k = validPrefix(p + i, n - i, info);
        if (k == info.length)
            ++c.multibyte;
        else if (i + static_cast<std::size_t>(k) < n || wholeFile)
            ++c.invalid; // an incomplete sequence at the end of a first chunk is fine
        i += static_cast<std::size_t>(k);
    }
    return c;
}

} // namespace

void TextDecoder::start(std::string_view first, bool wholeFile)
{
    if (first.starts_with("\xEF\xBB\xBF")) {
        m_encoding = TextEncoding::Utf8Bom;
        m_skip = 3;
    } else if (first.starts_with("\xFF\xFE")) {
        m_encoding = TextEncoding::Utf16LE;
        m_skip = 2;
    } else if (first.starts_with("\xFE\xFF")) {
        m_encoding = TextEncoding::Utf16BE;
        m_skip = 2;
    } else {
        const Utf8Census c = census(first, wholeFile);
        // Valid UTF-8, or UTF-8 with a few damaged sequences among many good ones: UTF-8 (the
        // damage is replaced and reported). No multi-byte sequence at all: a legacy 8-bit text.
        if (c.invalid == 0 || c.multibyte >= c.invalid)
            m_encoding = TextEncoding::Utf8;
        else
            m_encoding = TextEncoding::Latin1;
        // A whole file already checked: decode() need not look at it again.
        m_preValidated = wholeFile && c.invalid == 0 ? first.size() : 0;
    }
}

void TextDecoder::invalid(std::int64_t offset, std::string& out)
{
    if (m_firstInvalid < 0)
        m_firstInvalid = offset;
    ++m_invalid;
    out += "\xEF\xBF\xBD";
}

std::size_t TextDecoder::decodeUtf8Run(const unsigned char* p, std::size_t n, std::string& out, bool final,
                                       std::int64_t baseOffset)
{
    std::size_t i = 0;
    std::size_t runStart = 0;
    while (i < n) {
        // Fast path over ASCII, eight bytes at a time.
        while (i + 8 <= n) {
            std::uint64_t word;
            std::memcpy(&word, p + i, 8);
            if (word & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        const LeadInfo info = leadInfo(p[i]);
        const int k = info.length ? validPrefix(p + i, n - i, info) : 1;
        if (info.length && k == info.length) {
            i += static_cast<std::size_t>(k);
            continue;
        }
        if (info.length && i + static_cast<std::size_t>(k) == n && !final) {
            out.append(reinterpret_cast<const char*>(p + runStart), i - runStart);
            return i; // unfinished at the end: the caller carries it over
        }
        out.append(reinterpret_cast<const char*>(p + runStart), i - runStart);
        invalid(baseOffset + static_cast<std::int64_t>(i), out);
        i += static_cast<std::size_t>(k);
        runStart = i;
    }
    out.append(reinterpret_cast<const char*>(p + runStart), n - runStart);
    return n;
}

void TextDecoder::decodeUtf8(std::string_view in, std::string& out, bool final)
{
    std::int64_t offset = m_offset;
    if (!m_carry.empty()) {
        // Finish the sequence begun in the previous chunk with up to three bytes of this one.
        const std::size_t take = std::min<std::size_t>(in.size(), 4 - m_carry.size());
        std::string joined = m_carry + std::string(in.substr(0, take));
        const std::int64_t carryOffset = m_offset - static_cast<std::int64_t>(m_carry.size());
        const auto* p = reinterpret_cast<const unsigned char*>(joined.data());
        const LeadInfo info = leadInfo(p[0]);
        const int k = validPrefix(p, joined.size(), info);
        if (k == info.length) {
            out.append(joined, 0, static_cast<std::size_t>(k));
        } else if (static_cast<std::size_t>(k) == joined.size() && !final) {
            m_carry = joined; // still unfinished (a tiny chunk)
            m_offset += static_cast<std::int64_t>(in.size());
            return;
        } else {
            invalid(carryOffset, out);
        }
        const std::size_t used = static_cast<std::size_t>(k) - m_carry.size();
        in.remove_prefix(used);
        offset += static_cast<std::int64_t>(used);
        m_carry.clear();
    }
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    const std::size_t done = decodeUtf8Run(p, in.size(), out, final, offset);
    m_carry.assign(in.substr(done));
    m_offset = offset + static_cast<std::int64_t>(in.size());
}

void TextDecoder::decodeUtf16(std::string_view in, std::string& out, bool final)
{
    std::string joined;
    if (!m_carry.empty()) {
        joined = m_carry + std::string(in);
        in = joined;
        m_carry.clear();
    }
    const bool be = m_encoding == TextEncoding::Utf16BE;
    auto unit = [&](std::size_t i) -> char32_t {
        const auto a = static_cast<unsigned char>(in[i]);
        const auto b = static_cast<unsigned char>(in[i + 1]);
        return be ? char32_t(a << 8 | b) : char32_t(b << 8 | a);
    };
    std::size_t i = 0;
    while (i + 1 < in.size()) {
        char32_t cp = unit(i);
        if (cp >= 0xD800 && cp < 0xDC00) {
            if (i + 3 >= in.size() && !final)
                break; // the low surrogate is in the next chunk
            if (i + 3 < in.size()) {
                const char32_t lo = unit(i + 2);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    appendUtf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                    i += 4;
                    continue;
                }
            }
            invalid(m_offset, out);
            i += 2;
            continue;
        }
        if (cp >= 0xDC00 && cp < 0xE000)
            invalid(m_offset, out);
        else
            appendUtf8(out, cp);
        i += 2;
    }
    if (final && i < in.size()) {
        invalid(m_offset, out); // an odd byte at the end
        i = in.size();
    }
    m_carry.assign(in.substr(i));
}

void TextDecoder::decode(std::string_view bytes, std::string& out)
{
    if (m_skip > 0) {
        const std::size_t n = std::min(m_skip, bytes.size());
        bytes.remove_prefix(n);
        m_skip -= n;
        m_offset += static_cast<std::int64_t>(n);
    }
    switch (m_encoding) {
    case TextEncoding::Utf8:
    case TextEncoding::Utf8Bom:
        if (m_preValidated > 0 && m_carry.empty() && bytes.size() <= m_preValidated) {
            out.append(bytes);
            m_preValidated = 0;
            m_offset += static_cast<std::int64_t>(bytes.size());
            break;
        }
        m_preValidated = 0;
        decodeUtf8(bytes, out, false);
        break;
    case TextEncoding::Utf16LE:
    case TextEncoding::Utf16BE:
        decodeUtf16(bytes, out, false);
        m_offset += static_cast<std::int64_t>(bytes.size());
        break;
    case TextEncoding::Latin1:
        for (char c : bytes)
            appendUtf8(out, static_cast<unsigned char>(c));
        m_offset += static_cast<std::int64_t>(bytes.size());
        break;
    }
}

void TextDecoder::finish(std::string& out)
{
    if (m_carry.empty())
        return;
    std::string rest;
    rest.swap(m_carry);
    if (m_encoding == TextEncoding::Utf16LE || m_encoding == TextEncoding::Utf16BE) {
        decodeUtf16(rest, out, true);
    } else {
        m_offset -= static_cast<std::int64_t>(rest.size());
        const auto* p = reinterpret_cast<const unsigned char*>(rest.data());
        decodeUtf8Run(p, rest.size(), out, true, m_offset);
        m_offset += static_cast<std::int64_t>(rest.size());
    }
}

} // namespace quire::ingest
