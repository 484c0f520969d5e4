// Finds special and added tokens written in text: leftmost, longest match over a byte trie.
// Immutable after building; thread-safe to read.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/bpe.h"

namespace quire::inference::tok {

class SpecialTokenMatcher {
public:
    // alwaysMatch: matched even when the caller does not ask to parse special tokens
    // (user-defined tokens); otherwise only when it does (control tokens).
    void add(std::string_view text, Id id, bool alwaysMatch);
    bool empty() const { return m_nodes.size() <= 1; }
    bool hasAlwaysMatched() const { return m_anyAlways; }

    struct Match {
        std::size_t begin = 0, end = 0;
        Id id = -1;
    };
    // The first match at or after `from`; id -1 when there is none.
    Match next(std::string_view text, std::size_t from, bool parseSpecial) const;

private:
    struct Node {
        std::vector<std::pair<unsigned char, std::int32_t>> children; // sorted by byte
        Id id = -1;
        bool always = false;
    };
    std::int32_t child(std::int32_t node, unsigned char b) const;
    std::vector<Node> m_nodes{Node{}};
    bool m_first[256] = {};
    bool m_anyAlways = false;
};

} // namespace quire::inference::tok
