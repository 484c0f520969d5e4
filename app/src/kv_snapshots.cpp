#include "quire/app/kv_snapshots.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace quire::app {

namespace {

using Clock = std::chrono::steady_clock;
using inference::TokenId;

double secondsSince(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

SnapshotError storageError(const storage::Error& e)
{
    return {e.code == storage::ErrorCode::NotFound ? SnapshotError::Code::NotFound
                                                   : SnapshotError::Code::Storage,
            e.message};
}

std::string shortHash(const std::string& bytes)
{
    return inference::toHex(bytes).substr(0, 12);
}

} // namespace

KvSnapshots::~KvSnapshots()
{
    (void)flush();
}

std::expected<std::unique_ptr<KvSnapshots>, SnapshotError>
KvSnapshots::open(const std::filesystem::path& library, std::shared_ptr<storage::WriterThread> writer,
                  const inference::Session& session, SnapshotOptions options)
{
    auto layout = session.kvLayout();
    if (!layout)
        return std::unexpected(SnapshotError{SnapshotError::Code::Unsupported, layout.error().message});
    if (!writer)
        return std::unexpected(SnapshotError{SnapshotError::Code::Storage, "no library writer"});
    storage::OpenOptions ro;
    ro.mode = storage::OpenMode::ReadOnly;
    auto reader = storage::Database::open(library, ro);
    if (!reader)
        return std::unexpected(storageError(reader.error()));
    std::unique_ptr<KvSnapshots> s(new KvSnapshots());
    s->m_library = library;
    s->m_writer = std::move(writer);
    s->m_reader.emplace(std::move(*reader));
    s->m_options = options;
    s->m_block = layout->chunkSize > 0 ? layout->chunkSize : std::max(1, options.denseBlockTokens);
    s->m_fingerprint = inference::modelFingerprint(session.model(), *layout);
    s->m_key = s->m_fingerprint.key();
    auto recorded = s->m_writer
                        ->submit([key = s->m_key, text = s->m_fingerprint.text()](storage::Database& db) {
                            return storage::BlockStore(db).recordFingerprint(key, text);
                        })
                        .get();
    if (!recorded)
        return std::unexpected(storageError(recorded.error()));
    return s;
}

std::string KvSnapshots::mismatch(const std::string& storedKey)
{
    auto fields = storage::BlockStore(*m_reader).fingerprintFields(storedKey);
    if (!fields || !*fields)
        return "made under an unknown model fingerprint " + shortHash(storedKey);
    const auto diffs = inference::ModelFingerprint::parse(**fields).differences(m_fingerprint);
    std::string out;
    for (const auto& d : diffs)
        out += (out.empty() ? "" : "; ") + d;
    return out.empty() ? "made under fingerprint " + shortHash(storedKey) : out;
}

RestoreReport KvSnapshots::restore(inference::Session& session, std::span<const TokenId> tokens,
                                   std::int64_t workspace, const inference::ProgressFn& progress,
                                   const std::atomic<bool>* cancel)
{
    const auto t0 = Clock::now();
    RestoreReport r;
    storage::BlockStore store(*m_reader);
    const auto& held = session.tokens();
    std::size_t common = 0;
    const std::size_t limit = std::min(held.size(), tokens.size());
    while (common < limit && held[common] == tokens[common])
        ++common;

    // The stored chain: whole blocks from the first, then a tail ending exactly at the end.
    struct Link {
        std::string hash;
        std::int64_t bytes;
    };
    std::vector<Link> chain;
    std::string prev;
    const std::size_t B = std::size_t(m_block);
    for (std::size_t end = B; end <= tokens.size(); end += B) {
        const std::string h = inference::chainPrefixHash(prev, tokens.subspan(end - B, B), m_key);
        auto info = store.find({m_key, h, 0});
        if (!info)
            break;
        chain.push_back({h, info->bytes});
        prev = h;
    }
    std::size_t storedEnd = chain.size() * B;
    if (storedEnd < tokens.size() && tokens.size() - storedEnd < B) {
        const std::string h = inference::chainPrefixHash(prev, tokens.subspan(storedEnd), m_key);
        if (auto info = store.find({m_key, h, 0})) {
            chain.push_back({h, info->bytes});
            storedEnd = tokens.size();
        }
    }
    if (chain.empty() && workspace > 0 && common == 0) {
        if (auto latest = store.snapshotNamed(workspace, kLatestSnapshot);
            latest && latest->modelFingerprint != m_key)
            r.notes.push_back("the workspace's snapshot was not loaded: it was " +
                              mismatch(latest->modelFingerprint) + "; the context is computed again");
    }

    if (common >= storedEnd) { // memory already holds at least as much
        if (std::size_t(session.position()) > common)
            session.truncate(int(common));
        r.tokens = common;
        r.seconds = secondsSince(t0);
        return r;
    }
    // Keep whole blocks held in memory; import the rest of the chain.
    std::size_t first = std::min(common / B, chain.size());
    session.truncate(int(first * B));
    std::vector<std::byte> buffer;
    for (std::size_t i = first; i < chain.size(); ++i) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            r.cancelled = true;
            break;
        }
        const storage::BlockKey key{m_key, chain[i].hash, 0};
        buffer.resize(std::size_t(chain[i].bytes));
        auto ok = store.read(key, buffer);
        if (!ok) {
            m_bad.insert(chain[i].hash);
            r.notes.push_back("stored block at token " + std::to_string(i * B) + " was not used (" +
                              ok.error().message + "); it is computed again");
            break;
        }
        auto imported = session.importBlock(buffer);
        if (!imported) {
            m_bad.insert(chain[i].hash);
            r.notes.push_back("stored block at token " + std::to_string(i * B) +
                              " could not be imported: " + imported.error().message);
            break;
        }
        ++r.blocks;
        r.bytes += chain[i].bytes;
        if (progress)
            progress(session.position(), std::int64_t(tokens.size()));
    }
    r.tokens = std::size_t(session.position());
    r.fromStore = r.tokens - std::min(r.tokens, first * B);
    r.seconds = secondsSince(t0);
    return r;
}

std::expected<void, SnapshotError> KvSnapshots::waitOldest()
{
    auto result = m_pending.front().get();
    m_pending.pop_front();
    if (!result)
        return std::unexpected(storageError(result.error()));
    return {};
}

std::expected<void, SnapshotError> KvSnapshots::flush()
{
    std::expected<void, SnapshotError> first;
    while (!m_pending.empty())
        if (auto ok = waitOldest(); !ok && first)
            first = ok;
    return first;
}

std::expected<PrefillReport, SnapshotError>
KvSnapshots::prefill(inference::Session& session, std::span<const TokenId> tokens,
                     const inference::ProgressFn& progress, const std::atomic<bool>* cancel,
                     std::int64_t workspace, const std::string& snapshot)
{
    PrefillReport report;
    const std::size_t start = std::size_t(session.position());
    if (start > tokens.size() ||
        !std::equal(session.tokens().begin(), session.tokens().end(), tokens.begin()))
        return std::unexpected(SnapshotError{SnapshotError::Code::Engine,
                                             "the session does not hold a prefix of the tokens to prefill"});
    const std::size_t B = std::size_t(m_block);
    std::string prev; // prefix hash of the last whole block before `pos`
    for (std::size_t end = B; end <= start; end += B)
        prev = inference::chainPrefixHash(prev, tokens.subspan(end - B, B), m_key);
    storage::BlockStore store(*m_reader);
    bool writing = true;

    for (std::size_t pos = start; pos < tokens.size();) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            (void)flush();
            return std::unexpected(SnapshotError{SnapshotError::Code::Cancelled,
                                                 "prefill cancelled after " + std::to_string(pos) + " of " +
                                                     std::to_string(tokens.size()) + " tokens"});
        }
        const std::size_t next = std::min(tokens.size(), (pos / B + 1) * B);
        auto ok = session.prefill(
            tokens.subspan(pos, next - pos),
            [&](std::int64_t done, std::int64_t) {
                if (progress)
                    progress(std::int64_t(pos) + done, std::int64_t(tokens.size()));
            },
            cancel);
        if (!ok) {
            (void)flush();
            return std::unexpected(SnapshotError{ok.error().code == inference::ErrorCode::Cancelled
                                                     ? SnapshotError::Code::Cancelled
                                                     : SnapshotError::Code::Engine,
                                                 ok.error().message});
        }
        const std::size_t begin = (next - 1) / B * B;
        const std::string parent = prev; // the block ending at `begin` (empty for the first)
        const std::string hash =
            inference::chainPrefixHash(parent, tokens.subspan(begin, next - begin), m_key);
        if (next % B == 0)
            prev = hash;
        pos = next;
        if (!writing)
            continue;
        const storage::BlockKey key{m_key, hash, 0};
        const bool stored = !m_bad.contains(hash) && store.find(key).has_value();
        std::shared_ptr<const std::vector<std::byte>> data;
        if (!stored) {
            const auto t0 = Clock::now();
            auto block = session.exportBlock(int(begin), int(next));
            report.exportSeconds += secondsSince(t0);
            if (!block) {
                report.notes.push_back("blocks are not saved: " + block.error().message);
                writing = false;
                continue;
            }
            report.bytesWritten += std::int64_t(block->size());
            ++report.blocksWritten;
            data = std::make_shared<const std::vector<std::byte>>(std::move(*block));
            m_bad.erase(hash);
        }
        const auto t0 = Clock::now();
        while (std::ssize(m_pending) >= std::max(1, m_options.maxQueuedBlocks))
            if (auto w = waitOldest(); !w) {
                report.notes.push_back("blocks are not saved: " + w.error().message);
                writing = false;
            }
        report.waitSeconds += secondsSince(t0);
        if (!writing)
            continue;
        m_pending.push_back(m_writer->submit(
            [key, data, placement = storage::BlockPlacement{parent, std::int64_t(begin), std::int64_t(next)},
             workspace, snapshot,
             hash](storage::Database& db) -> std::expected<std::int64_t, storage::Error> {
                storage::BlockStore s(db);
                std::int64_t id = 0;
                // The block and the snapshot moved onto it in one transaction: a collection in
                // another process never finds this block unused.
                auto ok = s.atomically([&]() -> std::expected<void, storage::Error> {
                    if (data)
                        if (auto put = s.put(key, placement, *data); !put)
                            return std::unexpected(put.error());
                    if (workspace > 0 && !snapshot.empty()) {
                        auto moved = s.saveSnapshot(workspace, snapshot, key.modelFingerprint, hash,
                                                    placement.tokenEnd);
                        if (!moved)
                            return std::unexpected(moved.error());
                        id = *moved;
                    }
                    return {};
                });
                if (!ok)
                    return std::unexpected(ok.error());
                return id;
            }));
    }
    const auto t0 = Clock::now();
    const auto flushed = flush();
    if (!flushed)
        report.notes.push_back("blocks are not saved: " + flushed.error().message);
    report.waitSeconds += secondsSince(t0);
    // The snapshot moved: blocks of an earlier context that no snapshot uses any more (a file
    // edited or left out, a tail the context has grown past) are freed now rather than never.
    if (flushed && writing && m_options.collectAfterPrefill && workspace > 0 && !snapshot.empty() &&
        report.blocksWritten > 0) {
        // This model's blocks only: another model's prefills stay for when it is chosen again.
        auto gc = m_writer
                      ->submit([key = m_key](storage::Database& db) {
                          return storage::BlockStore(db).collectGarbage(key);
                      })
                      .get();
        if (gc)
            report.freed = *gc;
        else
            report.notes.push_back("unused blocks were not freed: " + gc.error().message);
    }
    return report;
}

std::expected<std::vector<storage::SnapshotRow>, SnapshotError> KvSnapshots::list(std::int64_t workspace)
{
    auto rows = storage::BlockStore(*m_reader).snapshots(workspace);
    if (!rows)
        return std::unexpected(storageError(rows.error()));
    return *rows;
}

std::expected<storage::SnapshotRow, SnapshotError>
KvSnapshots::copy(std::int64_t workspace, const std::string& from, const std::string& to)
{
    if (to.empty() || from == to)
        return std::unexpected(SnapshotError{SnapshotError::Code::NotFound, "give a new snapshot name"});
    auto src = storage::BlockStore(*m_reader).snapshotNamed(workspace, from);
    if (!src)
        return std::unexpected(storageError(src.error()));
    auto id = m_writer
                  ->submit([workspace, to, row = *src](storage::Database& db) {
                      return storage::BlockStore(db).saveSnapshot(workspace, to, row.modelFingerprint,
                                                                  row.lastPrefixHash, row.tokenCount);
                  })
                  .get();
    if (!id)
        return std::unexpected(storageError(id.error()));
    auto row = storage::BlockStore(*m_reader).snapshot(*id);
    if (!row)
        return std::unexpected(storageError(row.error()));
    return *row;
}

std::expected<RestoreReport, SnapshotError>
KvSnapshots::restoreNamed(std::int64_t workspace, const std::string& name, inference::Session& session,
                          const inference::ProgressFn& progress, const std::atomic<bool>* cancel)
{
    const auto t0 = Clock::now();
    storage::BlockStore store(*m_reader);
    auto row = store.snapshotNamed(workspace, name);
    if (!row)
        return std::unexpected(storageError(row.error()));
    if (row->modelFingerprint != m_key)
        return std::unexpected(
            SnapshotError{SnapshotError::Code::Mismatch, "snapshot '" + name + "' was not loaded: it was " +
                                                             mismatch(row->modelFingerprint)});
    if (!row->complete)
        return std::unexpected(SnapshotError{SnapshotError::Code::NotFound,
                                             "snapshot '" + name + "' lacks some of its blocks (deleted?)"});
    auto blocks = store.snapshotBlocks(row->id);
    if (!blocks)
        return std::unexpected(storageError(blocks.error()));
    RestoreReport r;
    session.truncate(0);
    std::vector<std::byte> buffer;
    const std::int64_t total = blocks->empty() ? 0 : blocks->back().placement.tokenEnd;
    for (const auto& b : *blocks) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            r.cancelled = true;
            r.notes.push_back("cancelled at token " + std::to_string(session.position()) + " of " +
                              std::to_string(total) + "; the session holds what was restored");
            break;
        }
        buffer.resize(std::size_t(b.bytes));
        auto ok = store.read(b.key, buffer);
        if (!ok) {
            m_bad.insert(b.key.prefixHash);
            r.notes.push_back("the block at token " + std::to_string(b.placement.tokenBegin) +
                              " was not used (" + ok.error().message +
                              "); prefill the context to compute it again");
            break;
        }
        if (auto imported = session.importBlock(buffer); !imported) {
            r.notes.push_back("the block at token " + std::to_string(b.placement.tokenBegin) +
                              " could not be imported: " + imported.error().message);
            break;
        }
        ++r.blocks;
        r.bytes += b.bytes;
        if (progress)
            progress(session.position(), total);
    }
    r.tokens = r.fromStore = std::size_t(session.position());
    r.seconds = secondsSince(t0);
    return r;
}

std::expected<storage::GarbageReport, SnapshotError> KvSnapshots::remove(std::int64_t workspace,
                                                                         const std::string& name)
{
    auto row = storage::BlockStore(*m_reader).snapshotNamed(workspace, name);
    if (!row)
        return std::unexpected(storageError(row.error()));
    auto gc =
        m_writer
            ->submit([id = row->id](
                         storage::Database& db) -> std::expected<storage::GarbageReport, storage::Error> {
                storage::BlockStore s(db);
                if (auto ok = s.removeSnapshot(id); !ok)
                    return std::unexpected(ok.error());
                return s.collectGarbage();
            })
            .get();
    if (!gc)
        return std::unexpected(storageError(gc.error()));
    return *gc;
}

// ---- StoredPrefixCache ----

StoredPrefixCache::StoredPrefixCache(std::filesystem::path library,
                                     std::shared_ptr<storage::WriterThread> writer, SnapshotOptions options)
    : m_library(std::move(library)), m_writer(std::move(writer)), m_options(options)
{
}

StoredPrefixCache::~StoredPrefixCache() = default;

std::string StoredPrefixCache::describe() const
{
    if (!m_unavailable.empty())
        return "in memory (this process); snapshots are off: " + m_unavailable;
    return "KV snapshots in " + m_library.filename().string() +
           (m_snapshots ? " (blocks of " + std::to_string(m_snapshots->blockTokens()) + " tokens)"
                        : std::string(" (block size set by the model)")) +
           ", and memory";
}

bool StoredPrefixCache::ensure(const inference::Session& session)
{
    if (m_snapshots)
        return true;
    if (!m_unavailable.empty())
        return false;
    auto s = KvSnapshots::open(m_library, m_writer, session, m_options);
    if (!s) {
        m_unavailable = s.error().message;
        m_notes.push_back("KV snapshots are off: " + m_unavailable);
        return false;
    }
    m_snapshots = std::move(*s);
    return true;
}

std::size_t StoredPrefixCache::restore(inference::Session& session,
                                       std::span<const inference::TokenId> tokens,
                                       const inference::ProgressFn& progress, const std::atomic<bool>* cancel)
{
    if (!ensure(session))
        return InMemoryPrefixCache().restore(session, tokens, progress, cancel);
    auto r = m_snapshots->restore(session, tokens, m_workspace, progress, cancel);
    m_notes.insert(m_notes.end(), r.notes.begin(), r.notes.end());
    if (r.cancelled)
        m_notes.push_back("restore cancelled after " + std::to_string(r.tokens) + " tokens");
    if (r.fromStore > 0)
        m_notes.push_back("restored " + std::to_string(r.fromStore) + " tokens (" + std::to_string(r.blocks) +
                          " blocks, " + std::to_string(r.bytes >> 20) + " MiB) from KV snapshots in " +
                          std::to_string(int(r.seconds * 1000)) + " ms");
    return r.tokens;
}

std::expected<std::string, std::string> StoredPrefixCache::restoreNamed(inference::Session& session,
                                                                        std::int64_t workspace,
                                                                        const std::string& name,
                                                                        const inference::ProgressFn& progress,
                                                                        const std::atomic<bool>* cancel)
{
    if (!ensure(session))
        return std::unexpected("snapshots are not available: " + m_unavailable);
    auto r = m_snapshots->restoreNamed(workspace, name, session, progress, cancel);
    if (!r)
        return std::unexpected(r.error().message);
    if (r->cancelled) { // stopped between blocks; a stop that came after the last block changes nothing
        std::string text;
        for (const auto& n : r->notes)
            text += (text.empty() ? "" : "; ") + n;
        return std::unexpected(text.empty() ? "restore of \"" + name + "\" stopped" : text);
    }
    std::string text = "restored \"" + name + "\": " + std::to_string(r->tokens) + " tokens (" +
                       std::to_string(r->blocks) + " blocks, " + std::to_string(r->bytes >> 20) + " MiB) in " +
                       std::to_string(int(r->seconds * 1000)) + " ms";
    for (const auto& n : r->notes)
        text += "; " + n;
    return text;
}

std::expected<void, inference::Error> StoredPrefixCache::prefill(inference::Session& session,
                                                                 std::span<const inference::TokenId> context,
                                                                 const inference::ProgressFn& progress,
                                                                 const std::atomic<bool>* cancel)
{
    if (!ensure(session))
        return PrefixCache::prefill(session, context, progress, cancel);
    auto r = m_snapshots->prefill(session, context, progress, cancel, m_workspace);
    if (!r)
        return std::unexpected(inference::Error{r.error().code == SnapshotError::Code::Cancelled
                                                    ? inference::ErrorCode::Cancelled
                                                    : inference::ErrorCode::InvalidArgument,
                                                r.error().message});
    m_notes.insert(m_notes.end(), r->notes.begin(), r->notes.end());
    if (r->blocksWritten > 0)
        m_notes.push_back("saved " + std::to_string(r->blocksWritten) + " KV blocks (" +
                          std::to_string(r->bytesWritten >> 20) + " MiB)");
    if (r->freed.blocks > 0)
        m_notes.push_back("freed " + std::to_string(r->freed.blocks) + " KV blocks (" +
                          std::to_string(r->freed.bytes >> 20) + " MiB) of earlier contexts that no snapshot uses");
    return {};
}

std::vector<std::string> StoredPrefixCache::takeNotes()
{
    return std::exchange(m_notes, {});
}

} // namespace quire::app
