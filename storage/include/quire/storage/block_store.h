// The KV block store (ARCHITECTURE.md section 4): the engine's KV cache, saved in blocks of B
// consecutive tokens, so a prefill of hours can be resumed in seconds.
//
// - A block is keyed by (model fingerprint, prefix hash, layer group), all opaque to storage:
//   the prefix hash chains over every token id up to the block's end, so identical prefixes share
//   blocks across snapshots and workspaces. Each block also records its parent (the prefix hash
//   of the block before it), which makes a chain from any block back to the first.
// - Its bytes are split into rows of at most BlockStoreOptions::maxRowBytes (default 32 MiB,
//   always below SQLite's value limit), written and read with SQLite's incremental blob I/O
//   straight from and to the caller's buffer or callback: a block is never held twice in memory.
// - Each row carries an XXH3-64 checksum, checked on every read. A row that fails it, or a row
//   that is missing, makes the whole block "missing" (ErrorCode::NotFound): it is never
//   returned, and the engine recomputes it.
// - A block is written in one transaction: after a crash it is there whole or not at all.
// - A snapshot is a name in a workspace pointing at the last block of a prefix; the blocks it
//   uses are that block's chain. Blocks no snapshot uses are deleted by collectGarbage().
// - Bytes are stored raw. zstd was measured on bf16 and fp8 KV data (tests/bench/
//   bench_blockstore.cpp prints the figures) and does not pay; see block_store.cpp.
//
// The store lives in its own SQLite file beside the library (Database attaches it as "kv") with
// 64 KiB pages in rollback-journal mode: SQLite does not journal pages appended to a file, so a
// new block's bytes reach the disk once. In WAL mode they would be written twice (the WAL, then
// the checkpoint), halving write throughput. The price: a reader of blocks waits while the writer
// commits a block (busy timeout), which the engine's block-at-a-time traffic tolerates.
//
// Ownership and threads: a BlockStore borrows a Database and is used on that connection's thread.
// Writes (put, saveSnapshot, remove*, collectGarbage) go through the writer thread; reads work on
// any ReadOnly connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "quire/storage/database.h"
#include "quire/storage/error.h"

namespace quire::storage {

struct BlockKey {
    std::string modelFingerprint; // opaque bytes, non-empty
    std::string prefixHash;       // opaque bytes, non-empty
    int layerGroup = 0;
    bool operator==(const BlockKey&) const = default;
};

// Where a block sits in its prefix.
struct BlockPlacement {
    std::string parentHash; // prefix hash of the block before; empty for the first block
    std::int64_t tokenBegin = 0;
    std::int64_t tokenEnd = 0; // one past the block's last token
};

struct BlockInfo {
    std::int64_t id = 0;
    BlockKey key;
    BlockPlacement placement;
    std::int64_t bytes = 0;
    int rows = 0;
    std::int64_t createdUnix = 0;
    int references = 0; // snapshots whose chain uses this block (filled by blocks())
};

struct SnapshotRow {
    std::int64_t id = 0;
    std::int64_t workspace = 0;
    std::string name;
    std::string modelFingerprint;
    std::string lastPrefixHash;
    std::int64_t tokenCount = 0;
    std::int64_t createdUnix = 0;
    std::int64_t blockCount = 0; // blocks (all layer groups) in its chain
    std::int64_t bytes = 0;      // their payload size
    bool complete = false;       // the chain reaches the first block with no gap
};

struct GarbageReport {
    std::int64_t blocks = 0;
    std::int64_t bytes = 0;
};

struct StoreTotals {
    std::int64_t blocks = 0;
    std::int64_t bytes = 0;     // payload bytes in all blocks
    std::int64_t fileBytes = 0; // size of the block store file
    std::int64_t freeBytes = 0; // unused pages inside it (reused by later writes; compact() returns them)
};

struct BlockStoreOptions {
    // The largest row, clamped below SQLite's value limit. Why 32 MiB and not the 256 MiB first
    // planned: a row is created as a zeroblob and then filled; unless its pages fit the writer's
    // page cache, SQLite spills the zero pages to the file and reads them back to fill them. On
    // tmpfs (so without disk noise) that write path ran at 0.33-0.48 GB/s with 256 MiB rows and a
    // 16 MiB cache, and at 0.5-1.1 GB/s with rows that fit the cache. The writer's cache is raised
    // to hold one row (at most 64 MiB of cache), so SQLite holds at most a row of a block, never a
    // second copy of the whole block.
    std::int64_t maxRowBytes = std::int64_t{32} << 20;
    std::size_t chunkBytes = std::size_t{8} << 20; // buffer for callback-fed writes and reads
};

// Fills `out` with the next out.size() bytes of the block being written; an Error aborts the
// write (ErrorCode::Cancelled to cancel).
using BlockProducer = std::function<std::expected<void, Error>(std::span<std::byte> out)>;
// Receives the block's bytes in order; an Error aborts the read.
using BlockConsumer = std::function<std::expected<void, Error>(std::span<const std::byte> chunk)>;

class BlockStore {
public:
    explicit BlockStore(Database& db, BlockStoreOptions options = {});

    // The row size this store writes: maxRowBytes, clamped to SQLite's limit.
    std::int64_t rowBytes() const { return m_rowBytes; }

    // Writes a block in one transaction, replacing any block with the same key (used to repair a
    // block whose checksum failed). All layer groups of one prefix hash must name the same parent.
    std::expected<BlockInfo, Error> put(const BlockKey& key, const BlockPlacement& placement,
                                        std::span<const std::byte> data);
    std::expected<BlockInfo, Error> put(const BlockKey& key, const BlockPlacement& placement,
                                        std::int64_t size, const BlockProducer& produce);

    // The block's metadata (no checksum check); NotFound when absent.
    std::expected<BlockInfo, Error> find(const BlockKey& key);

    // Reads the whole block into `out` (out.size() must be the block's size) and checks every
    // row. NotFound when the block is absent, incomplete or fails a checksum; `out` then holds
    // nothing usable.
    std::expected<void, Error> read(const BlockKey& key, std::span<std::byte> out);
    // Streams the block to `consume` in chunks of at most chunkBytes. Each row's checksum is
    // checked when the row has been read; on NotFound the caller discards what it received.
    std::expected<void, Error> read(const BlockKey& key, const BlockConsumer& consume);

    std::expected<bool, Error> remove(const BlockKey& key);
    // Every block with its size and how many snapshots use it.
    std::expected<std::vector<BlockInfo>, Error> blocks();
    // Reads every block and returns the keys of those that are incomplete or fail a checksum.
    std::expected<std::vector<BlockKey>, Error> verify();
    std::expected<StoreTotals, Error> totals();

    // Creates or moves the snapshot `name` of `workspace` to the block ending at
    // (modelFingerprint, lastPrefixHash); that block must exist (in any layer group).
    std::expected<std::int64_t, Error> saveSnapshot(std::int64_t workspace, const std::string& name,
                                                    const std::string& modelFingerprint,
                                                    const std::string& lastPrefixHash,
                                                    std::int64_t tokenCount);
    std::expected<std::vector<SnapshotRow>, Error> snapshots(std::int64_t workspace);
    std::expected<SnapshotRow, Error> snapshot(std::int64_t snapshotId);
    // The snapshot's blocks from the first to the last, each position's layer groups in order.
    std::expected<std::vector<BlockInfo>, Error> snapshotBlocks(std::int64_t snapshotId);
    // Deletes the snapshot and clears sessions that pointed at it; its blocks stay until
    // collectGarbage().
    std::expected<void, Error> removeSnapshot(std::int64_t snapshotId);

    // The readable fields behind a fingerprint (recorded once per fingerprint; opaque here).
    std::expected<void, Error> recordFingerprint(const std::string& modelFingerprint,
                                                 const std::string& fields);
    std::expected<std::optional<std::string>, Error> fingerprintFields(const std::string& modelFingerprint);
    // The snapshot `name` of `workspace`; NotFound when absent.
    std::expected<SnapshotRow, Error> snapshotNamed(std::int64_t workspace, const std::string& name);

    // Deletes every block no snapshot uses. Blocks of a prefill that has not saved a snapshot yet
    // are unused too: the app collects garbage when no prefill is running, or keeps a snapshot
    // of the prefill in progress moved along after each block.
    // With `modelFingerprint`, only that model's blocks are considered: another model's stored
    // prefills stay for when it is used again.
    std::expected<GarbageReport, Error> collectGarbage(const std::optional<std::string>& modelFingerprint = {});
    // Runs `work` (calls on this BlockStore) in one transaction: its writes land together or, when
    // it fails, not at all. E.g. a block and the snapshot moved onto it, so that a collection in
    // another process never sees the block without a snapshot that uses it.
    std::expected<void, Error> atomically(const std::function<std::expected<void, Error>()>& work);
    // Rewrites the block store file without its free pages (VACUUM): slow, for an explicit
    // "reclaim disk space" action.
    std::expected<void, Error> compact();

private:
    std::expected<BlockInfo, Error> write(const BlockKey& key, const BlockPlacement& placement,
                                          std::int64_t size, std::span<const std::byte> data,
                                          const BlockProducer* produce);
    Database& m_db;
    BlockStoreOptions m_options;
    std::int64_t m_rowBytes = 0;
};

} // namespace quire::storage
