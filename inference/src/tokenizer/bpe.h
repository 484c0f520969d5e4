// Byte-pair encoding over raw bytes: a vocabulary (byte string -> id) and a merge table
// ((left id, right id) -> (rank, merged id)). Both GGUF/Hugging Face merge lists and tiktoken
// rank files become this form: for tiktoken the rank of a pair is the rank of its
// concatenation. encodeWord() merges the lowest-ranked adjacent pair, leftmost on ties, until
// none is left. Immutable after building; thread-safe to read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quire::inference::tok {

using Id = std::int32_t;

// Open-addressing map from byte strings to ids; the strings live in an external table that
// must outlive the map and not change.
class StringIdMap {
public:
    void build(const std::vector<std::string>& strings, const std::vector<bool>& include);
    void insert(Id id);
    std::optional<Id> find(std::string_view s) const;
    static std::uint64_t hash(std::string_view s);

private:
    struct Slot {
        Id id = -1;
        std::uint32_t tag = 0;
    };
    std::vector<Slot> m_slots;
    std::size_t m_count = 0;
    const std::vector<std::string>* m_strings = nullptr;
    void grow();
};

class PairTable {
public:
    void reserve(std::size_t n);
    // Keeps the lowest rank when a pair is inserted twice.
    void insert(Id left, Id right, std::int32_t rank, Id merged);
    struct Hit {
        std::int32_t rank;
        Id merged;
    };
    // rank is INT32_MAX on a miss.
    Hit find(Id left, Id right) const;
    std::size_t size() const { return m_count; }

private:
    struct Slot {
        std::uint64_t key = ~std::uint64_t(0);
        std::int32_t rank = 0;
        Id merged = -1;
    };
    std::vector<Slot> m_slots;
    std::size_t m_count = 0;
    void grow();
};

class BpeModel {
public:
    // pieces[id] are the raw bytes of each token; `mergeable` marks those BPE may produce.
    void setVocabulary(const std::vector<std::string>* pieces, const std::vector<bool>& mergeable);
    // tiktoken: every pair whose concatenation is a token merges at that token's rank (= id).
    void derivePairsFromRanks();
    void addMerge(Id left, Id right, std::int32_t rank, Id merged)
    {
        m_pairs.insert(left, right, rank, merged);
    }
    void setIgnoreMerges(bool v) { m_ignoreMerges = v; }

    std::optional<Id> find(std::string_view bytes) const { return m_vocab.find(bytes); }
    // Appends the ids of one pre-tokenized piece.
    void encodeWord(std::string_view bytes, std::vector<Id>& out) const;
    std::size_t mergeCount() const { return m_pairs.size(); }
    Id byteToken(unsigned char b) const { return m_byteToken[b]; }

private:
    void encodeSmall(std::string_view bytes, std::vector<Id>& out) const;
    void encodeLarge(std::string_view bytes, std::vector<Id>& out) const;

    const std::vector<std::string>* m_pieces = nullptr;
    StringIdMap m_vocab;
    PairTable m_pairs;
    Id m_byteToken[256];
    bool m_ignoreMerges = false;
};

} // namespace quire::inference::tok
