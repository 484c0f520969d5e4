// .gitignore / .ignore pattern matching for the directory walk. An IgnoreRules object holds the
// rules of one ignore file (or several files of one directory, in order); IgnoreStack layers the
// files found from the walk root down to the current directory, the deeper ones taking
// precedence, and the later rule of a file beating the earlier one, as git does.
// Supported: comments, escaped '#'/'!'/trailing spaces, negation, anchored patterns (leading or
// inner '/'), directory-only patterns (trailing '/'), '*', '?', '[...]' classes, and '**' for
// any number of directories. Values only; a const object is safe to share between threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quire::ingest {

class IgnoreRules {
public:
    // `text` is the content of an ignore file; later calls append (later rules win).
    void addRules(std::string_view text);
    bool empty() const { return m_rules.empty(); }

    // Decides for `relativePath` (relative to this file's directory, '/' separated, no leading
    // '/'): true = ignored, false = re-included by a negated rule, nullopt = no rule matched.
    std::optional<bool> match(std::string_view relativePath, bool isDirectory) const;

private:
    struct Rule {
        std::string pattern; // without '!', leading '/' or trailing '/'
        bool negated = false;
        bool directoryOnly = false;
        bool anchored = false; // matched against the whole relative path, else the base name
    };
    std::vector<Rule> m_rules;
};

// Glob match with gitignore semantics ('*' and '?' stop at '/', '**' crosses directories).
bool globMatch(std::string_view pattern, std::string_view text);

// The ignore files in effect for one directory of the walk, from the root down.
class IgnoreStack {
public:
    // `directory` is relative to the walk root ("" for the root itself, else "a/b").
    void push(std::string directory, IgnoreRules rules);
    void pop();
    std::size_t depth() const { return m_levels.size(); }

    // `relativePath` relative to the walk root. True when the entry is ignored.
    bool ignored(std::string_view relativePath, bool isDirectory) const;

private:
    struct Level {
        std::string directory;
        IgnoreRules rules;
    };
    std::vector<Level> m_levels;
};

} // namespace quire::ingest
