// KV snapshots: the engine's KV cache saved block by block in the library's KV block store
// (storage/block_store.h), restored by longest stored prefix, and named per workspace
// (ARCHITECTURE.md sections 2.4, 2.6 and 4).
//
// - Blocks are B tokens long: the attention chunk for Llama 4, SnapshotOptions::denseBlockTokens
//   for dense models, plus a final partial block (the tail) when a prefill ends between
//   boundaries. A block's key is (model fingerprint, prefix hash over every token up to its end);
//   inference/kv_blocks.h has the format and the fingerprint.
// - prefill() computes one block at a time, exports it (a copy of what the runner holds) and
//   hands it to the library's writer thread. At most maxQueuedBlocks wait there; a further block
//   waits for the oldest write, so export overlaps compute with bounded memory. Each block is one
//   transaction: a killed process leaves complete blocks or none, and the workspace's snapshot
//   "latest" is moved to every block written, so nothing is collected under a running prefill.
// - restore() leaves the session holding the longest prefix of the tokens that it holds already
//   or that is stored: whole blocks from the first, and a tail only when it ends exactly where the
//   tokens end. (Continuing after a restored tail would split that chunk's computation into other
//   steps than one uninterrupted prefill does; the Llama 4 fast path is not bit-identical across
//   such splits, so the partial chunk is recomputed instead.) A block that is missing or fails its
//   checksum ends the restore there; the next prefill() computes and rewrites it. Restores report
//   progress after each block (tokens held of the tokens asked for) and stop between blocks when
//   cancelled, leaving the session holding the whole blocks imported so far.
// - Named snapshots point at a block; branching copies the pointer, never the blocks. Deleting a
//   snapshot collects blocks no snapshot uses, and so does the end of a workspace's prefill that
//   wrote blocks, for this model's blocks only (each block is written together with the snapshot moved onto it, so a prefill
//   running in another process never has a block without a snapshot that uses it). A snapshot made under another fingerprint is never
//   loaded: the message names each differing field (the fields are stored beside the blocks).
//
// Threads: a KvSnapshots is used on the engine's thread (its own ReadOnly connection reads
// blocks); writes go through the WriterThread. Not copyable.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <expected>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "quire/app/answer_engine.h"
#include "quire/inference/engine.h"
#include "quire/storage/block_store.h"
#include "quire/storage/writer_thread.h"

namespace quire::app {

inline constexpr const char* kLatestSnapshot = "latest"; // moved along by every prefill

struct SnapshotOptions {
    int denseBlockTokens = 256; // dense models; Llama 4 uses its attention chunk
    int maxQueuedBlocks = 2;    // exported blocks waiting for the writer before prefill waits
    bool collectAfterPrefill = true; // free this model's blocks no snapshot uses once a workspace's prefill ends
};

struct SnapshotError {
    enum class Code { Unsupported, NotFound, Mismatch, Storage, Engine, Cancelled };
    Code code = Code::Storage;
    std::string message;
};

struct RestoreReport {
    std::size_t tokens = 0;         // the session holds this many tokens of the request now
    std::size_t fromStore = 0;      // of which imported from the block store
    int blocks = 0;                 // blocks imported
    std::int64_t bytes = 0;         // their size
    double seconds = 0;             // reading and importing
    std::vector<std::string> notes; // why stored KV was not (all) used
    bool cancelled = false;         // stopped by the cancel flag; the session keeps what was imported
};

struct PrefillReport {
    int blocksWritten = 0;
    std::int64_t bytesWritten = 0;
    double exportSeconds = 0; // copying blocks out of the runner (on the engine thread)
    double waitSeconds = 0;   // waiting for the writer (queue full, final flush)
    storage::GarbageReport freed; // blocks of earlier contexts collected after the prefill
    std::vector<std::string> notes;
};

class KvSnapshots {
public:
    // `library`: the library file (migrated: the writer thread opened it). Fails for a backend
    // that cannot export KV (the message says so).
    static std::expected<std::unique_ptr<KvSnapshots>, SnapshotError>
    open(const std::filesystem::path& library, std::shared_ptr<storage::WriterThread> writer,
         const inference::Session& session, SnapshotOptions options = {});
    ~KvSnapshots();

    int blockTokens() const { return m_block; }
    const inference::ModelFingerprint& fingerprint() const { return m_fingerprint; }
    const std::string& fingerprintKey() const { return m_key; }

    // See the header comment. `workspace` (0: none) lets a miss be explained: when that
    // workspace's "latest" snapshot was made under another fingerprint, a note says which field.
    RestoreReport restore(inference::Session& session, std::span<const inference::TokenId> tokens,
                          std::int64_t workspace = 0, const inference::ProgressFn& progress = {},
                          const std::atomic<bool>* cancel = nullptr);
    // Prefills tokens[session.position():] (the session must hold a prefix of `tokens`) block by
    // block, saving each; moves `snapshot` of `workspace` along when both are given. Cancelling
    // keeps the blocks already done (queued writes finish).
    std::expected<PrefillReport, SnapshotError>
    prefill(inference::Session& session, std::span<const inference::TokenId> tokens,
            const inference::ProgressFn& progress = {}, const std::atomic<bool>* cancel = nullptr,
            std::int64_t workspace = 0, const std::string& snapshot = kLatestSnapshot);

    // Named snapshots of a workspace.
    std::expected<std::vector<storage::SnapshotRow>, SnapshotError> list(std::int64_t workspace);
    // Points `to` at the block `from` points at (save: from "latest"; branch: any name).
    std::expected<storage::SnapshotRow, SnapshotError> copy(std::int64_t workspace, const std::string& from,
                                                            const std::string& to);
    // Replaces the session's context with the snapshot's tokens and KV.
    std::expected<RestoreReport, SnapshotError> restoreNamed(std::int64_t workspace, const std::string& name,
                                                             inference::Session& session,
                                                             const inference::ProgressFn& progress = {},
                                                             const std::atomic<bool>* cancel = nullptr);
    // Deletes the snapshot, then every block no snapshot uses.
    std::expected<storage::GarbageReport, SnapshotError> remove(std::int64_t workspace,
                                                                const std::string& name);
    // Why a snapshot under `storedKey` does not fit this model: one line per differing field.
    std::string mismatch(const std::string& storedKey);

private:
    KvSnapshots() = default;
    std::expected<void, SnapshotError> waitOldest();
    std::expected<void, SnapshotError> flush();

    std::filesystem::path m_library;
    std::shared_ptr<storage::WriterThread> m_writer;
    std::optional<storage::Database> m_reader;
    SnapshotOptions m_options;
    int m_block = 256;
    inference::ModelFingerprint m_fingerprint;
    std::string m_key;
    std::set<std::string> m_bad; // prefix hashes whose stored block failed to load: rewrite them
    std::deque<std::future<std::expected<std::int64_t, storage::Error>>> m_pending;
};

// The persistent PrefixCache: AnswerEngine restores from and prefills through KvSnapshots. Opens
// them on first use (with the engine's session); when that fails (a backend without KV export),
// it works in memory only and says why in describe() and the notes.
class StoredPrefixCache : public PrefixCache {
public:
    StoredPrefixCache(std::filesystem::path library, std::shared_ptr<storage::WriterThread> writer,
                      SnapshotOptions options = {});
    ~StoredPrefixCache() override;
    std::string describe() const override;
    std::size_t restore(inference::Session& session, std::span<const inference::TokenId> tokens,
                        const inference::ProgressFn& progress, const std::atomic<bool>* cancel) override;
    void store(inference::Session&) override {}
    std::expected<void, inference::Error> prefill(inference::Session& session,
                                                  std::span<const inference::TokenId> context,
                                                  const inference::ProgressFn& progress,
                                                  const std::atomic<bool>* cancel) override;
    void setWorkspace(std::int64_t workspace) override { m_workspace = workspace; }
    std::vector<std::string> takeNotes() override;
    std::expected<std::string, std::string> restoreNamed(inference::Session& session, std::int64_t workspace,
                                                         const std::string& name,
                                                         const inference::ProgressFn& progress,
                                                         const std::atomic<bool>* cancel) override;

private:
    bool ensure(const inference::Session& session);
    std::filesystem::path m_library;
    std::shared_ptr<storage::WriterThread> m_writer;
    SnapshotOptions m_options;
    std::unique_ptr<KvSnapshots> m_snapshots;
    std::string m_unavailable; // why snapshots are off
    std::int64_t m_workspace = 0;
    std::vector<std::string> m_notes;
};

} // namespace quire::app
