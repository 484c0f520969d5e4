// KV blocks: how a Session's KV cache leaves the engine and comes back (the snapshot store,
// ARCHITECTURE.md section 4), and the keys the store files them under.
//
// - A block is the KV of tokens [begin, end): every non-chunked layer for those positions and,
//   when `end` falls inside an attention chunk, the chunked layers for the positions of that
//   chunk up to `end` (a chunk-aligned block needs nothing from the chunked layers: the next
//   token starts a fresh chunk). Bytes are exactly what the runner holds (its KvDtype), after a
//   64-byte header: magic "QKVB", format version, dtype, layers, KV heads, head dim, token range,
//   the first chunked position, chunk size; then the block's token ids (int32), then per layer K
//   then V. Host byte order (little-endian on every target).
// - ModelFingerprint: the fields that decide whether KV bytes fit a model (architecture,
//   hyperparameters, weight files, quantization, KV dtype, RoPE, tokenizer, block format
//   version) kept as named text, so a refused snapshot can say which field differs; key() is a
//   16-byte hash of that text. Weight file identity is size + mtime + a hash of the first MiB and
//   of 16 sampled 64 KiB chunks (not the whole file: hashing GBs on every open would cost more
//   than a restore); a file rewritten in place with the same size, mtime and sampled bytes would
//   go unnoticed.
// - prefixHash chains (previous block's hash, this block's token ids, fingerprint key), so a
//   block's key names every token before it; another tokenizer gives other ids, hence other keys.
//
// The hash is a 128-bit non-cryptographic hash written here (the engine core uses only the
// standard library). Thread-safety: free functions are pure; Session rules apply to its methods.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quire/inference/backend.h"
#include "quire/inference/error.h"
#include "quire/inference/tokenizer.h"

namespace quire::inference {

class Model;

inline constexpr std::uint32_t kKvBlockFormatVersion = 1;
inline constexpr std::size_t kKvBlockHeaderBytes = 64;

struct KvBlockHeader {
    std::uint32_t formatVersion = kKvBlockFormatVersion;
    KvDtype dtype = KvDtype::F32;
    int nLayers = 0;
    int nKvHeads = 0;
    int headDim = 0;
    std::int64_t tokenBegin = 0;
    std::int64_t tokenEnd = 0;
    std::int64_t chunkedBegin = 0; // chunked layers hold [chunkedBegin, tokenEnd); == tokenEnd: none
    int chunkSize = 0;
};

// The position from which chunked layers are stored in a block ending at `end`.
std::int64_t kvChunkedBegin(const KvLayout& layout, std::int64_t end);
// Total bytes of the block [begin, end) under `layout`, header included.
std::size_t kvBlockBytes(const KvLayout& layout, std::int64_t begin, std::int64_t end);
std::expected<KvBlockHeader, Error> parseKvBlockHeader(std::span<const std::byte> block);
// The token ids a block was exported for.
std::expected<std::vector<TokenId>, Error> kvBlockTokens(std::span<const std::byte> block);

// 128-bit streaming hash (not cryptographic).
class Hasher128 {
public:
    void update(std::span<const std::byte> bytes);
    void update(std::string_view text);
    void updateU64(std::uint64_t value);
    std::string digest() const; // 16 bytes
private:
    void word(std::uint64_t w);
    std::uint64_t m_a = 0x9e3779b97f4a7c15ull, m_b = 0xc2b2ae3d27d4eb4full;
    std::uint64_t m_length = 0;
    std::uint64_t m_tail = 0;
    int m_tailBytes = 0;
};

std::string toHex(std::string_view bytes);

// The key of a block: chains the previous block's key (empty for the first block), the token ids
// of this block and the fingerprint key.
std::string chainPrefixHash(std::string_view previous, std::span<const TokenId> tokens,
                            std::string_view fingerprintKey);

struct ModelFingerprint {
    std::vector<std::pair<std::string, std::string>> fields; // in a fixed order

    std::string text() const; // "name=value" lines
    std::string key() const;  // 16 bytes
    static ModelFingerprint parse(std::string_view text);
    // "weights: 98362432 bytes ... (stored) vs ... (this model)" for each field that differs.
    std::vector<std::string> differences(const ModelFingerprint& current) const;
};

// The fingerprint of `model` with its KV held as `kv` describes.
ModelFingerprint modelFingerprint(const Model& model, const KvLayout& kv);

// Size + mtime + sampled hash of a file, or of every file of a folder (see the header comment).
std::string fileIdentity(const std::filesystem::path& path);

} // namespace quire::inference
