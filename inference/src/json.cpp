#include "quire/inference/json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "quire/inference/utf8.h"

namespace quire::inference {

namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : m_text(text) {}

    std::expected<Json, Error> document()
    {
        Json value;
        if (!parseValue(value, 0))
            return std::unexpected(Error{ErrorCode::Format, m_error});
        skipSpace();
        if (m_pos != m_text.size())
            return std::unexpected(Error{ErrorCode::Format, where("unexpected text after the JSON value")});
        return value;
    }

private:
    static constexpr int kMaxDepth = 512;

    std::string where(const std::string& what) const
    {
        // Line and column help a person fix a hand-edited config; the byte offset helps a program.
        std::size_t line = 1, column = 1;
        for (std::size_t i = 0; i < m_pos && i < m_text.size(); ++i) {
            if (m_text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        return "JSON: " + what + " at line " + std::to_string(line) + ", column " + std::to_string(column) +
               " (byte " + std::to_string(m_pos) + ")";
    }
    bool fail(const std::string& what)
    {
        if (m_error.empty())
            m_error = where(what);
        return false;
    }
    void skipSpace()
    {
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\t' ||
                                         m_text[m_pos] == '\n' || m_text[m_pos] == '\r'))
            ++m_pos;
    }
    bool literal(std::string_view word)
    {
        if (m_text.substr(m_pos, word.size()) != word)
            return fail("invalid literal");
        m_pos += word.size();
        return true;
    }

    bool parseValue(Json& out, int depth)
    {
        if (depth > kMaxDepth)
            return fail("nesting too deep");
        skipSpace();
        if (m_pos >= m_text.size())
            return fail("unexpected end of input");
        switch (m_text[m_pos]) {
        case '{':
            return parseObject(out, depth);
        case '[':
            return parseArray(out, depth);
        case '"': {
            std::string s;
            if (!parseString(s))
                return false;
            out = Json(std::move(s));
            return true;
        }
        case 't':
            out = Json(true);
            return literal("true");
        case 'f':
            out = Json(false);
            return literal("false");
        case 'n':
            out = Json(nullptr);
            return literal("null");
        default:
            return parseNumber(out);
        }
    }

    bool parseObject(Json& out, int depth)
    {
        ++m_pos; // '{'
        Json::Object object;
        skipSpace();
        if (m_pos < m_text.size() && m_text[m_pos] == '}') {
            ++m_pos;
            out = Json(std::move(object));
            return true;
        }
        for (;;) {
            skipSpace();
            if (m_pos >= m_text.size() || m_text[m_pos] != '"')
                return fail("expected a member name");
            std::string key;
            if (!parseString(key))
                return false;
            skipSpace();
            if (m_pos >= m_text.size() || m_text[m_pos] != ':')
                return fail("expected ':'");
            ++m_pos;
            Json value;
            if (!parseValue(value, depth + 1))
                return false;
            object.insert_or_assign(std::move(key), std::move(value));
            skipSpace();
            if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_text.size() && m_text[m_pos] == '}') {
                ++m_pos;
                out = Json(std::move(object));
                return true;
            }
            return fail("expected ',' or '}'");
        }
    }

    bool parseArray(Json& out, int depth)
    {
        ++m_pos; // '['
        Json::Array array;
        skipSpace();
        if (m_pos < m_text.size() && m_text[m_pos] == ']') {
            ++m_pos;
            out = Json(std::move(array));
            return true;
        }
        for (;;) {
            Json value;
            if (!parseValue(value, depth + 1))
                return false;
            array.push_back(std::move(value));
            skipSpace();
            if (m_pos < m_text.size() && m_text[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_text.size() && m_text[m_pos] == ']') {
                ++m_pos;
                out = Json(std::move(array));
                return true;
            }
            return fail("expected ',' or ']'");
        }
    }

    bool hex4(std::uint32_t& v)
    {
        if (m_pos + 4 > m_text.size())
            return fail("truncated \\u escape");
        v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_text[m_pos++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= std::uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= std::uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= std::uint32_t(c - 'A' + 10);
            else
                return fail("bad hex digit in \\u escape");
        }
        return true;
    }

    bool parseString(std::string& out)
    {
        ++m_pos; // '"'
        for (;;) {
            if (m_pos >= m_text.size())
                return fail("unterminated string");
            const char c = m_text[m_pos++];
            if (c == '"')
                return true;
            if (static_cast<unsigned char>(c) < 0x20)
                return fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (m_pos >= m_text.size())
                return fail("unterminated escape");
            const char e = m_text[m_pos++];
            switch (e) {
            case '"':
                out += '"';
                break;
            case '\\':
                out += '\\';
                break;
            case '/':
                out += '/';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                std::uint32_t cp;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    std::uint32_t lo;
                    if (m_text.substr(m_pos, 2) != "\\u")
                        return fail("unpaired surrogate");
                    m_pos += 2;
                    if (!hex4(lo))
                        return false;
                    if (lo < 0xDC00 || lo >= 0xE000)
                        return fail("unpaired surrogate");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    return fail("unpaired surrogate");
                }
                appendUtf8(out, cp);
                break;
            }
            default:
                return fail("unknown escape");
            }
        }
    }

    bool parseNumber(Json& out)
    {
        const std::size_t start = m_pos;
        if (m_pos < m_text.size() && m_text[m_pos] == '-')
            ++m_pos;
        auto digits = [&] {
            const std::size_t s = m_pos;
            while (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9')
                ++m_pos;
            return m_pos - s;
        };
        if (digits() == 0)
            return fail("invalid value");
        if (m_pos < m_text.size() && m_text[m_pos] == '.') {
            ++m_pos;
            if (digits() == 0)
                return fail("invalid number");
        }
        if (m_pos < m_text.size() && (m_text[m_pos] == 'e' || m_text[m_pos] == 'E')) {
            ++m_pos;
            if (m_pos < m_text.size() && (m_text[m_pos] == '+' || m_text[m_pos] == '-'))
                ++m_pos;
            if (digits() == 0)
                return fail("invalid number");
        }
        double value = 0;
        const auto [ptr, ec] = std::from_chars(m_text.data() + start, m_text.data() + m_pos, value);
        if (ec == std::errc::result_out_of_range) {
            // overflow gives +-inf, underflow 0, as strtod reports them
            value = std::strtod(std::string(m_text.substr(start, m_pos - start)).c_str(), nullptr);
        } else if (ec != std::errc() || ptr != m_text.data() + m_pos) {
            return fail("invalid number");
        }
        out = Json(value);
        return true;
    }

    std::string_view m_text;
    std::size_t m_pos = 0;
    std::string m_error;
};

} // namespace

std::expected<Json, Error> Json::parse(std::string_view text)
{
    return Parser(text).document();
}

std::optional<std::int64_t> Json::asInt() const
{
    const double* d = asNumber();
    if (!d || !std::isfinite(*d) || std::trunc(*d) != *d || std::fabs(*d) > 9.007199254740992e15)
        return std::nullopt;
    return static_cast<std::int64_t>(*d);
}

const Json* Json::find(std::string_view key) const
{
    const Object* o = asObject();
    if (!o)
        return nullptr;
    const auto it = o->find(key);
    return it == o->end() ? nullptr : &it->second;
}

} // namespace quire::inference
