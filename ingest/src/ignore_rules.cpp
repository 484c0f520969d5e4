#include "quire/ingest/ignore_rules.h"

namespace quire::ingest {

namespace {

// Matches a bracket expression starting at pattern[p] == '['; on success `p` moves past ']'.
// Returns nullopt when the bracket is unterminated (then '[' is a literal).
std::optional<bool> matchClass(std::string_view pattern, std::size_t& p, char c)
{
    std::size_t i = p + 1;
    bool negate = false;
    if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
        negate = true;
        ++i;
    }
    bool matched = false;
    bool first = true;
    while (i < pattern.size() && (pattern[i] != ']' || first)) {
        first = false;
        char lo = pattern[i];
        if (lo == '\\' && i + 1 < pattern.size())
            lo = pattern[++i];
        char hi = lo;
        if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
            hi = pattern[i + 2];
            if (hi == '\\' && i + 3 < pattern.size()) {
                hi = pattern[i + 3];
                ++i;
            }
            i += 2;
        }
        if (c >= lo && c <= hi)
            matched = true;
        ++i;
    }
    if (i >= pattern.size())
        return std::nullopt;
    p = i + 1;
    return matched != negate && c != '/';
}

bool globAt(std::string_view pat, std::size_t p, std::string_view text, std::size_t t)
{
    while (p < pat.size()) {
        const char pc = pat[p];
        if (pc == '*') {
            const bool doubleStar = p + 1 < pat.size() && pat[p + 1] == '*';
            const bool atSegmentStart = p == 0 || pat[p - 1] == '/';
            if (doubleStar && atSegmentStart && (p + 2 == pat.size() || pat[p + 2] == '/')) {
                if (p + 2 == pat.size())
                    return true; // trailing "**": everything below
                // "**/": zero or more whole directories
                const std::size_t rest = p + 3;
                if (globAt(pat, rest, text, t))
                    return true;
                for (std::size_t i = t; i < text.size(); ++i)
                    if (text[i] == '/' && globAt(pat, rest, text, i + 1))
                        return true;
                return false;
            }
            while (p < pat.size() && pat[p] == '*')
                ++p;
            if (p == pat.size())
                return text.find('/', t) == std::string_view::npos;
            for (std::size_t i = t; i <= text.size(); ++i) {
                if (globAt(pat, p, text, i))
                    return true;
                if (i < text.size() && text[i] == '/')
                    return false;
            }
            return false;
        }
        if (t >= text.size())
            return false;
        if (pc == '?') {
            if (text[t] == '/')
                return false;
            ++p;
            ++t;
            continue;
        }
        if (pc == '[') {
            std::size_t q = p;
            if (auto m = matchClass(pat, q, text[t])) {
                if (!*m)
                    return false;
                p = q;
                ++t;
                continue;
            }
        }
        char literal = pc;
        if (pc == '\\' && p + 1 < pat.size())
            literal = pat[++p];
        if (literal != text[t])
            return false;
        ++p;
        ++t;
    }
    return t == text.size();
}

} // namespace

bool globMatch(std::string_view pattern, std::string_view text)
{
    return globAt(pattern, 0, text, 0);
}

void IgnoreRules::addRules(std::string_view text)
{
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos)
            end = text.size();
        std::string line(text.substr(start, end - start));
        start = end + 1;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        // Trailing spaces are dropped unless escaped with a backslash.
        while (!line.empty() && line.back() == ' ' && !(line.size() >= 2 && line[line.size() - 2] == '\\'))
            line.pop_back();
        if (line.size() >= 2 && line.back() == ' ' && line[line.size() - 2] == '\\')
            line.erase(line.size() - 2, 1);
        if (line.empty() || line.front() == '#')
            continue;
        Rule rule;
        if (line.front() == '!') {
            rule.negated = true;
            line.erase(0, 1);
        } else if (line.starts_with("\\!") || line.starts_with("\\#")) {
            line.erase(0, 1);
        }
        if (!line.empty() && line.back() == '/') {
            rule.directoryOnly = true;
            while (!line.empty() && line.back() == '/')
                line.pop_back();
        }
        if (line.empty())
            continue;
        if (line.find('/') != std::string::npos) {
            rule.anchored = true;
            if (line.front() == '/')
                line.erase(0, 1);
        }
        rule.pattern = std::move(line);
        m_rules.push_back(std::move(rule));
        if (end == text.size())
            break;
    }
}

std::optional<bool> IgnoreRules::match(std::string_view relativePath, bool isDirectory) const
{
    const std::size_t slash = relativePath.rfind('/');
    const std::string_view base =
        slash == std::string_view::npos ? relativePath : relativePath.substr(slash + 1);
    for (auto it = m_rules.rbegin(); it != m_rules.rend(); ++it) {
        if (it->directoryOnly && !isDirectory)
            continue;
        if (globMatch(it->pattern, it->anchored ? relativePath : base))
            return !it->negated;
    }
    return std::nullopt;
}

void IgnoreStack::push(std::string directory, IgnoreRules rules)
{
    m_levels.push_back({std::move(directory), std::move(rules)});
}

void IgnoreStack::pop()
{
    if (!m_levels.empty())
        m_levels.pop_back();
}

bool IgnoreStack::ignored(std::string_view relativePath, bool isDirectory) const
{
    for (auto it = m_levels.rbegin(); it != m_levels.rend(); ++it) {
        if (it->rules.empty())
            continue;
        std::string_view rel = relativePath;
        if (!it->directory.empty()) {
            if (!rel.starts_with(it->directory) || rel.size() <= it->directory.size() ||
                rel[it->directory.size()] != '/')
                continue;
            rel.remove_prefix(it->directory.size() + 1);
        }
        if (auto decision = it->rules.match(rel, isDirectory))
            return *decision;
    }
    return false;
}

} // namespace quire::ingest
