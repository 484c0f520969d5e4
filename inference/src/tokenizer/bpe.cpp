#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <queue>

namespace quire::inference::tok {

namespace {

inline std::uint64_t mix(std::uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

} // namespace

std::uint64_t StringIdMap::hash(std::string_view s)
{
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xff51afd7ed558ccdull);
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        std::uint64_t w = 0;
        std::memcpy(&w, p, n);
        h = (h ^ w) * 0x94d049bb133111ebull;
    }
    return mix(h);
}

void StringIdMap::build(const std::vector<std::string>& strings, const std::vector<bool>& include)
{
    m_strings = &strings;
    std::size_t cap = 16;
    while (cap < strings.size() * 2)
        cap <<= 1;
    m_slots.assign(cap, Slot{});
    m_count = 0;
    for (std::size_t i = 0; i < strings.size(); ++i)
        if (include[i])
            insert(static_cast<Id>(i));
}

void StringIdMap::grow()
{
    std::vector<Slot> old;
    old.swap(m_slots);
    m_slots.assign(old.size() * 2, Slot{});
    m_count = 0;
    for (const auto& s : old)
        if (s.id >= 0)
            insert(s.id);
}

void StringIdMap::insert(Id id)
{
    if ((m_count + 1) * 2 > m_slots.size())
        grow();
    const std::string& s = (*m_strings)[static_cast<std::size_t>(id)];
    const std::uint64_t h = hash(s);
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        Slot& slot = m_slots[i];
        if (slot.id < 0) {
            slot = {id, static_cast<std::uint32_t>(h >> 32)};
            ++m_count;
            return;
        }
        if (slot.tag == static_cast<std::uint32_t>(h >> 32) &&
            (*m_strings)[static_cast<std::size_t>(slot.id)] == s)
            return; // a duplicate string keeps its first (lowest) id
    }
}

std::optional<Id> StringIdMap::find(std::string_view s) const
{
    if (m_slots.empty())
        return std::nullopt;
    const std::uint64_t h = hash(s);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot& slot = m_slots[i];
        if (slot.id < 0)
            return std::nullopt;
        if (slot.tag == tag) {
            const std::string& t = (*m_strings)[static_cast<std::size_t>(slot.id)];
            if (t.size() == s.size() && std::memcmp(t.data(), s.data(), s.size()) == 0)
                return slot.id;
        }
    }
}

void PairTable::reserve(std::size_t n)
{
    std::size_t cap = 16;
    while (cap < n * 2)
        cap <<= 1;
    if (cap > m_slots.size()) {
        std::vector<Slot> old;
        old.swap(m_slots);
        m_slots.assign(cap, Slot{});
        m_count = 0;
        for (const auto& s : old)
            if (s.key != ~std::uint64_t(0))
                insert(static_cast<Id>(s.key >> 32), static_cast<Id>(s.key & 0xffffffffu), s.rank, s.merged);
    }
}

void PairTable::grow()
{
    reserve(std::max<std::size_t>(m_slots.size(), 8));
}

void PairTable::insert(Id left, Id right, std::int32_t rank, Id merged)
{
    if ((m_count + 1) * 2 > m_slots.size())
        grow();
    const std::uint64_t key = (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = mix(key * 0x9E3779B97F4A7C15ull) & mask;; i = (i + 1) & mask) {
        Slot& s = m_slots[i];
        if (s.key == ~std::uint64_t(0)) {
            s = {key, rank, merged};
            ++m_count;
            return;
        }
        if (s.key == key) {
            if (rank < s.rank)
                s.rank = rank, s.merged = merged;
            return;
        }
    }
}

PairTable::Hit PairTable::find(Id left, Id right) const
{
    if (m_slots.empty() || left < 0 || right < 0)
        return {INT32_MAX, -1};
    const std::uint64_t key = (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
    const std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = mix(key * 0x9E3779B97F4A7C15ull) & mask;; i = (i + 1) & mask) {
        const Slot& s = m_slots[i];
        if (s.key == key)
            return {s.rank, s.merged};
        if (s.key == ~std::uint64_t(0))
            return {INT32_MAX, -1};
    }
}

void BpeModel::setVocabulary(const std::vector<std::string>* pieces, const std::vector<bool>& mergeable)
{
    m_pieces = pieces;
    m_vocab.build(*pieces, mergeable);
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        m_byteToken[b] = m_vocab.find(std::string_view(&c, 1)).value_or(-1);
    }
}

void BpeModel::derivePairsFromRanks()
{
    const auto& pieces = *m_pieces;
    m_pairs.reserve(pieces.size() * 2);
    for (std::size_t id = 0; id < pieces.size(); ++id) {
        const std::string_view t = pieces[id];
        if (t.size() < 2 || m_vocab.find(t) != static_cast<Id>(id))
            continue;
        for (std::size_t k = 1; k < t.size(); ++k) {
            const auto l = m_vocab.find(t.substr(0, k));
            if (!l)
                continue;
            const auto r = m_vocab.find(t.substr(k));
            if (r)
                m_pairs.insert(*l, *r, static_cast<std::int32_t>(id), static_cast<Id>(id));
        }
    }
}

void BpeModel::encodeWord(std::string_view bytes, std::vector<Id>& out) const
{
    if (bytes.empty())
        return;
    if (bytes.size() == 1) {
        if (const Id id = m_byteToken[static_cast<unsigned char>(bytes[0])]; id >= 0)
            out.push_back(id);
        return;
    }
    if (m_ignoreMerges)
        if (const auto id = m_vocab.find(bytes)) {
            out.push_back(*id);
            return;
        }
    if (bytes.size() <= 128)
        encodeSmall(bytes, out);
    else
        encodeLarge(bytes, out);
}

// Arrays and a linear scan for the lowest rank: quadratic, but fastest for ordinary words.
void BpeModel::encodeSmall(std::string_view bytes, std::vector<Id>& out) const
{
    Id ids[128];
    PairTable::Hit next[128]; // next[i]: merging ids[i] with ids[i + 1]
    std::size_t n = bytes.size();
    for (std::size_t i = 0; i < n; ++i)
        ids[i] = m_byteToken[static_cast<unsigned char>(bytes[i])];
    for (std::size_t i = 0; i + 1 < n; ++i)
        next[i] = m_pairs.find(ids[i], ids[i + 1]);
    while (n > 1) {
        std::size_t best = 0;
        std::int32_t bestRank = INT32_MAX;
        for (std::size_t i = 0; i + 1 < n; ++i)
            if (next[i].rank < bestRank)
                bestRank = next[i].rank, best = i;
        if (bestRank == INT32_MAX)
            break;
        ids[best] = next[best].merged;
        std::memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof(Id));
        std::memmove(next + best + 1, next + best + 2, (n - best - 2) * sizeof(next[0]));
        --n;
        if (best + 1 < n)
            next[best] = m_pairs.find(ids[best], ids[best + 1]);
        if (best > 0)
            next[best - 1] = m_pairs.find(ids[best - 1], ids[best]);
    }
    for (std::size_t i = 0; i < n; ++i)
        if (ids[i] >= 0)
            out.push_back(ids[i]);
}

// A heap of candidate merges over a linked list: n log n for long pieces (runs of one character).
void BpeModel::encodeLarge(std::string_view bytes, std::vector<Id>& out) const
{
    const std::size_t n = bytes.size();
    std::vector<Id> ids(n);
    std::vector<std::int32_t> prev(n), nxt(n);
    for (std::size_t i = 0; i < n; ++i) {
        ids[i] = m_byteToken[static_cast<unsigned char>(bytes[i])];
        prev[i] = static_cast<std::int32_t>(i) - 1;
        nxt[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
    }
    struct Cand {
        std::int32_t rank;
        std::int32_t left;
        Id leftId, rightId, merged;
        bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
    auto consider = [&](std::int32_t l) {
        if (l < 0 || nxt[static_cast<std::size_t>(l)] < 0)
            return;
        const auto r = static_cast<std::size_t>(nxt[static_cast<std::size_t>(l)]);
        const auto hit = m_pairs.find(ids[static_cast<std::size_t>(l)], ids[r]);
        if (hit.rank != INT32_MAX)
            heap.push({hit.rank, l, ids[static_cast<std::size_t>(l)], ids[r], hit.merged});
    };
    for (std::size_t i = 0; i + 1 < n; ++i)
        consider(static_cast<std::int32_t>(i));
    while (!heap.empty()) {
        const Cand c = heap.top();
        heap.pop();
        const auto l = static_cast<std::size_t>(c.left);
        if (ids[l] != c.leftId || nxt[l] < 0 || ids[static_cast<std::size_t>(nxt[l])] != c.rightId)
            continue; // stale: one side has merged since
        const auto r = static_cast<std::size_t>(nxt[l]);
        ids[l] = c.merged;
        ids[r] = -2; // removed
        nxt[l] = nxt[r];
        if (nxt[r] >= 0)
            prev[static_cast<std::size_t>(nxt[r])] = c.left;
        consider(prev[l]);
        consider(c.left);
    }
    for (std::int32_t i = 0; i >= 0; i = nxt[static_cast<std::size_t>(i)])
        if (ids[static_cast<std::size_t>(i)] >= 0)
            out.push_back(ids[static_cast<std::size_t>(i)]);
}

} // namespace quire::inference::tok
