#include "tokenizer/sentencepiece.h"

#include <cstdio>
#include <queue>

#include "tokenizer/unicode.h"

namespace quire::inference::tok {

void SentencePieceModel::build(std::vector<std::string> texts, const std::vector<bool>& mergeable,
                               std::vector<float> scores, Id unknown)
{
    m_texts = std::move(texts);
    m_scores = std::move(scores);
    m_scores.resize(m_texts.size(), 0.0f);
    m_unknown = unknown;
    m_vocab.build(m_texts, mergeable);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        m_byteToken[b] = -1;
        for (std::size_t id = 0; id < m_texts.size(); ++id)
            if (m_texts[id].size() == 6 && m_texts[id] == name) {
                m_byteToken[b] = static_cast<Id>(id);
                break;
            }
    }
}

void SentencePieceModel::encode(std::string_view text, std::vector<Id>& out) const
{
    struct Symbol {
        std::int32_t prev, next;
        std::uint32_t begin, len;
    };
    std::vector<Symbol> syms;
    syms.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t len =
            std::min<std::size_t>(utf8SequenceLength(static_cast<unsigned char>(text[i])), text.size() - i);
        const auto idx = static_cast<std::int32_t>(syms.size());
        syms.push_back({idx - 1, i + len < text.size() ? idx + 1 : -1, static_cast<std::uint32_t>(i),
                        static_cast<std::uint32_t>(len)});
        i += len;
    }
    struct Bigram {
        float score;
        std::int32_t left, right;
        std::uint32_t size;
        bool operator<(const Bigram& o) const
        {
            return score < o.score || (score == o.score && left > o.left);
        }
    };
    std::priority_queue<Bigram> queue;
    auto tryAdd = [&](std::int32_t l, std::int32_t r) {
        if (l < 0 || r < 0)
            return;
        const auto& a = syms[static_cast<std::size_t>(l)];
        const auto& b = syms[static_cast<std::size_t>(r)];
        const auto id = m_vocab.find(text.substr(a.begin, a.len + b.len));
        if (!id)
            return;
        queue.push({m_scores[static_cast<std::size_t>(*id)], l, r, a.len + b.len});
    };
    for (std::size_t i = 1; i < syms.size(); ++i)
        tryAdd(static_cast<std::int32_t>(i - 1), static_cast<std::int32_t>(i));
    while (!queue.empty()) {
        const Bigram bg = queue.top();
        queue.pop();
        auto& l = syms[static_cast<std::size_t>(bg.left)];
        auto& r = syms[static_cast<std::size_t>(bg.right)];
        if (l.len == 0 || r.len == 0 || l.len + r.len != bg.size || l.next != bg.right)
            continue; // stale
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0)
            syms[static_cast<std::size_t>(r.next)].prev = bg.left;
        tryAdd(l.prev, bg.left);
        tryAdd(bg.left, l.next);
    }
    for (std::int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[static_cast<std::size_t>(i)].next) {
        const auto& s = syms[static_cast<std::size_t>(i)];
        const std::string_view piece = text.substr(s.begin, s.len);
        if (const auto id = m_vocab.find(piece)) {
            out.push_back(*id);
            continue;
        }
        for (const char c : piece) { // byte fallback
            const Id b = m_byteToken[static_cast<unsigned char>(c)];
            if (b >= 0)
                out.push_back(b);
            else if (m_unknown >= 0)
                out.push_back(m_unknown);
        }
    }
}

std::string escapeSpaces(std::string_view text)
{
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    for (const char c : text) {
        if (c == ' ')
            out += "\xE2\x96\x81";
        else
            out += c;
    }
    return out;
}

} // namespace quire::inference::tok
