#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace quire::inference::tok {

std::int32_t SpecialTokenMatcher::child(std::int32_t node, unsigned char b) const
{
    const auto& c = m_nodes[static_cast<std::size_t>(node)].children;
    const auto it =
        std::lower_bound(c.begin(), c.end(), b, [](const auto& p, unsigned char v) { return p.first < v; });
    return (it != c.end() && it->first == b) ? it->second : -1;
}

void SpecialTokenMatcher::add(std::string_view text, Id id, bool alwaysMatch)
{
    if (text.empty())
        return;
    std::int32_t node = 0;
    for (const char ch : text) {
        const auto b = static_cast<unsigned char>(ch);
        std::int32_t next = child(node, b);
        if (next < 0) {
            next = static_cast<std::int32_t>(m_nodes.size());
            m_nodes.emplace_back();
            auto& c = m_nodes[static_cast<std::size_t>(node)].children;
            c.insert(std::lower_bound(c.begin(), c.end(), b,
                                      [](const auto& p, unsigned char v) { return p.first < v; }),
                     {b, next});
        }
        node = next;
    }
    auto& n = m_nodes[static_cast<std::size_t>(node)];
    if (n.id < 0) { // the first token with this text wins
        n.id = id;
        n.always = alwaysMatch;
    }
    m_first[static_cast<unsigned char>(text[0])] = true;
    m_anyAlways = m_anyAlways || alwaysMatch;
}

SpecialTokenMatcher::Match SpecialTokenMatcher::next(std::string_view text, std::size_t from,
                                                     bool parseSpecial) const
{
    for (std::size_t i = from; i < text.size(); ++i) {
        if (!m_first[static_cast<unsigned char>(text[i])])
            continue;
        std::int32_t node = 0;
        Match best;
        for (std::size_t j = i; j < text.size(); ++j) {
            node = child(node, static_cast<unsigned char>(text[j]));
            if (node < 0)
                break;
            const auto& n = m_nodes[static_cast<std::size_t>(node)];
            if (n.id >= 0 && (parseSpecial || n.always))
                best = {i, j + 1, n.id};
        }
        if (best.id >= 0)
            return best;
    }
    return {text.size(), text.size(), -1};
}

} // namespace quire::inference::tok
