#include "tokenizer/json.h"

#include <cctype>
#include <charconv>

#include "tokenizer/unicode.h"

namespace quire::inference::json {

namespace {

constexpr int kMaxDepth = 256;

struct ParseError {
    std::string what;
};

class Parser {
public:
    explicit Parser(std::string_view s) : m_s(s) {}

    Value document()
    {
        Value v = value(0);
        skipSpace();
        if (m_pos != m_s.size())
            fail("unexpected text after the document");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const
    {
        std::size_t line = 1;
        for (std::size_t i = 0; i < m_pos && i < m_s.size(); ++i)
            line += m_s[i] == '\n';
        throw ParseError{what + " at line " + std::to_string(line) + " (byte " + std::to_string(m_pos) + ")"};
    }

    void skipSpace()
    {
        while (m_pos < m_s.size() &&
               (m_s[m_pos] == ' ' || m_s[m_pos] == '\n' || m_s[m_pos] == '\r' || m_s[m_pos] == '\t'))
            ++m_pos;
    }

    bool consume(std::string_view word)
    {
        if (m_s.substr(m_pos, word.size()) != word)
            return false;
        m_pos += word.size();
        return true;
    }

    Value value(int depth)
    {
        if (depth > kMaxDepth)
            fail("nesting deeper than " + std::to_string(kMaxDepth));
        skipSpace();
        if (m_pos >= m_s.size())
            fail("unexpected end of the document");
        const char c = m_s[m_pos];
        if (c == '{')
            return object(depth);
        if (c == '[')
            return array(depth);
        if (c == '"')
            return Value{string()};
        if (consume("true"))
            return Value{true};
        if (consume("false"))
            return Value{false};
        if (consume("null"))
            return Value{nullptr};
        return Value{number()};
    }

    Value object(int depth)
    {
        ++m_pos;
        Object o;
        skipSpace();
        if (m_pos < m_s.size() && m_s[m_pos] == '}') {
            ++m_pos;
            return Value{std::move(o)};
        }
        for (;;) {
            skipSpace();
            if (m_pos >= m_s.size() || m_s[m_pos] != '"')
                fail("expected a member name");
            std::string key = string();
            skipSpace();
            if (m_pos >= m_s.size() || m_s[m_pos] != ':')
                fail("expected ':'");
            ++m_pos;
            o.push_back(Member{std::move(key), value(depth + 1)});
            skipSpace();
            if (m_pos < m_s.size() && m_s[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_s.size() && m_s[m_pos] == '}') {
                ++m_pos;
                return Value{std::move(o)};
            }
            fail("expected ',' or '}'");
        }
    }

    Value array(int depth)
    {
        ++m_pos;
        Array a;
        skipSpace();
        if (m_pos < m_s.size() && m_s[m_pos] == ']') {
            ++m_pos;
            return Value{std::move(a)};
        }
        for (;;) {
            a.push_back(value(depth + 1));
            skipSpace();
            if (m_pos < m_s.size() && m_s[m_pos] == ',') {
                ++m_pos;
                continue;
            }
            if (m_pos < m_s.size() && m_s[m_pos] == ']') {
                ++m_pos;
                return Value{std::move(a)};
            }
            fail("expected ',' or ']'");
        }
    }

    unsigned hex4()
    {
        if (m_pos + 4 > m_s.size())
            fail("a truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = m_s[m_pos++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail("a bad \\u escape");
        }
        return v;
    }

    std::string string()
    {
        ++m_pos; // opening quote
        std::string out;
        for (;;) {
            if (m_pos >= m_s.size())
                fail("an unterminated string");
            const char c = m_s[m_pos++];
            if (c == '"')
                return out;
            if (static_cast<unsigned char>(c) < 0x20)
                fail("a control character inside a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (m_pos >= m_s.size())
                fail("an unterminated escape");
            const char e = m_s[m_pos++];
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
                unsigned cp = hex4();
                if (cp >= 0xD800 && cp <= 0xDBFF && m_s.substr(m_pos, 2) == "\\u") {
                    const std::size_t save = m_pos;
                    m_pos += 2;
                    const unsigned lo = hex4();
                    if (lo >= 0xDC00 && lo <= 0xDFFF)
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else
                        m_pos = save;
                }
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    cp = 0xFFFD; // a lone surrogate
                tok::appendUtf8(out, cp);
                break;
            }
            default:
                fail(std::string("an unknown escape \\") + e);
            }
        }
    }

    double number()
    {
        const std::size_t start = m_pos;
        while (m_pos < m_s.size() &&
               (std::isdigit(static_cast<unsigned char>(m_s[m_pos])) || m_s[m_pos] == '-' ||
                m_s[m_pos] == '+' || m_s[m_pos] == '.' || m_s[m_pos] == 'e' || m_s[m_pos] == 'E'))
            ++m_pos;
        double d = 0;
        const auto r = std::from_chars(m_s.data() + start, m_s.data() + m_pos, d);
        if (start == m_pos || r.ec != std::errc() || r.ptr != m_s.data() + m_pos)
            fail("expected a value");
        return d;
    }

    std::string_view m_s;
    std::size_t m_pos = 0;
};

} // namespace

const Value* Value::get(std::string_view key) const
{
    const auto* o = object();
    if (!o)
        return nullptr;
    for (const auto& [k, v] : *o)
        if (k == key)
            return &v;
    return nullptr;
}

std::string_view Value::stringOr(std::string_view key, std::string_view fallback) const
{
    const auto* v = get(key);
    const auto* s = v ? v->string() : nullptr;
    return s ? std::string_view(*s) : fallback;
}

bool Value::boolOr(std::string_view key, bool fallback) const
{
    const auto* v = get(key);
    const auto* b = v ? v->boolean() : nullptr;
    return b ? *b : fallback;
}

std::expected<Value, std::string> parse(std::string_view text)
{
    try {
        return Parser(text).document();
    } catch (const ParseError& e) {
        return std::unexpected(e.what);
    }
}

} // namespace quire::inference::json
