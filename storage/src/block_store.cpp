#include "quire/storage/block_store.h"

#include <sqlite3.h>
#include <xxhash.h>

#include <algorithm>
#include <vector>

#include "block_store_sql.h"
#include "log.h"
#include "sql.h"

// Compression. tests/bench/bench_blockstore.cpp measures zstd (levels 1 and 3, one core) on
// realistic KV bytes: bf16 of gaussian values with outlier channels (plain, and with the high and
// low bytes split apart) and fp8 e4m3 of the same values. Level 1 shrinks bf16 to 0.78 of its
// size (0.69 byte-split) and fp8 to 0.82, compressing at 0.2-0.57 GB/s and decompressing at
// 0.3-1.6 GB/s on this project's (shared) machines. Even against this machine's slow disk
// (0.1-0.2 GB/s writes, 0.2-0.8 GB/s reads) the bench finds it does not pay: compress-then-write
// and read-then-decompress are slower than raw I/O for every data/level pair, and an NVMe disk
// (2-7 GB/s) widens the gap. Saving 20-30% of space is not worth slower saves and restores, so
// blocks are stored raw (codec 0); the codec column keeps the format open for a faster codec.

namespace quire::storage {

namespace {

constexpr int kCodecRaw = 0;

struct BlobCloser {
    void operator()(sqlite3_blob* b) const { sqlite3_blob_close(b); }
};
using Blob = std::unique_ptr<sqlite3_blob, BlobCloser>;

struct HashStateDeleter {
    void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};
using HashState = std::unique_ptr<XXH3_state_t, HashStateDeleter>;

HashState newHash()
{
    HashState state(XXH3_createState());
    XXH3_64bits_reset(state.get());
    return state;
}

std::expected<Blob, Error> openBlob(sqlite3* db, std::int64_t payloadId, bool write)
{
    sqlite3_blob* raw = nullptr;
    const int rc = sqlite3_blob_open(db, "kv", "kv_payload", "data", payloadId, write ? 1 : 0, &raw);
    Blob blob(raw);
    if (rc != SQLITE_OK)
        return std::unexpected(sql::errorFromCode(rc, db, write ? "write block row" : "read block row"));
    return blob;
}

// Closing reports the first error of the writes through the handle (disk full, I/O).
std::expected<void, Error> closeBlob(sqlite3* db, Blob& blob)
{
    if (const int rc = sqlite3_blob_close(blob.release()); rc != SQLITE_OK)
        return std::unexpected(sql::errorFromCode(rc, db, "finish block row"));
    return {};
}

// Makes the connection's block store cache hold a whole row, so the zeroblob pages of the row
// being written stay in memory until they are filled (see BlockStoreOptions::maxRowBytes).
std::expected<void, Error> fitRowInCache(sqlite3* db, std::int64_t rowBytes)
{
    constexpr std::int64_t kMaxCacheKiB = 64 << 10;
    const std::int64_t wantKiB = std::min(kMaxCacheKiB, rowBytes / 1024 + rowBytes / 8192 + 1024);
    auto current = sql::queryInt(db, "PRAGMA kv.cache_size");
    if (!current)
        return std::unexpected(current.error());
    // A negative cache_size is KiB; a positive one counts 64 KiB pages.
    const std::int64_t haveKiB = *current < 0 ? -*current : *current * 64;
    if (haveKiB >= wantKiB)
        return {};
    return sql::exec(db, "PRAGMA kv.cache_size=-" + std::to_string(wantKiB));
}

std::string describe(const BlockKey& key)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (size_t i = 0; i < std::min<size_t>(key.prefixHash.size(), 8); ++i) {
        const auto c = static_cast<unsigned char>(key.prefixHash[i]);
        hex += kHex[c >> 4];
        hex += kHex[c & 15];
    }
    return "KV block " + hex + (key.prefixHash.size() > 8 ? "…" : "") + " layer group " +
           std::to_string(key.layerGroup);
}

std::expected<void, Error> validate(const BlockKey& key)
{
    if (key.modelFingerprint.empty() || key.prefixHash.empty())
        return std::unexpected(
            Error{ErrorCode::Invalid, "a KV block key needs a model fingerprint and a prefix hash"});
    return {};
}

void bindKey(sql::Stmt& stmt, const BlockKey& key)
{
    stmt.bindBlob(1, key.modelFingerprint);
    stmt.bindBlob(2, key.prefixHash);
    stmt.bind(3, key.layerGroup);
}

struct RowRef {
    std::int64_t payload = 0;
    std::int64_t bytes = 0;
    std::uint64_t xxh3 = 0;
};

Error missing(const BlockKey& key, const std::string& why)
{
    return Error{ErrorCode::NotFound, describe(key) + " " + why};
}

// The block's metadata and its rows in order. NotFound when the block is absent or its rows do
// not add up (a row is missing).
std::expected<std::pair<BlockInfo, std::vector<RowRef>>, Error> loadBlock(sqlite3* db, const BlockKey& key)
{
    static const std::string kBlock =
        std::string("SELECT ") + detail::kBlockColumns +
        " FROM kv.kv_blocks b WHERE b.model_fingerprint = ?1 AND b.prefix_hash = ?2"
        " AND b.layer_group = ?3";
    static constexpr const char* kRows = "SELECT row_index, payload_id, byte_size, xxh3 FROM kv.kv_rows "
                                         "WHERE block_id = ?1 ORDER BY row_index";
    if (auto v = validate(key); !v)
        return std::unexpected(v.error());
    auto stmt = sql::prepare(db, kBlock.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    bindKey(*stmt, key);
    int rc = stmt->step();
    if (rc == SQLITE_DONE)
        return std::unexpected(missing(key, "is not stored"));
    if (rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "find " + describe(key)));
    BlockInfo info = detail::readBlock(*stmt);

    auto rows = sql::prepare(db, kRows);
    if (!rows)
        return std::unexpected(rows.error());
    rows->bind(1, info.id);
    std::vector<RowRef> refs;
    std::int64_t total = 0;
    while ((rc = rows->step()) == SQLITE_ROW) {
        if (rows->int64(0) != static_cast<std::int64_t>(refs.size()))
            return std::unexpected(missing(key, "lacks row " + std::to_string(refs.size())));
        refs.push_back({rows->int64(1), rows->int64(2), detail::fromStored(rows->int64(3))});
        total += refs.back().bytes;
    }
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, db, "list rows of " + describe(key)));
    if (static_cast<int>(refs.size()) != info.rows || total != info.bytes)
        return std::unexpected(missing(key, "is incomplete (" + std::to_string(refs.size()) + " of " +
                                                std::to_string(info.rows) + " rows)"));
    return std::pair{std::move(info), std::move(refs)};
}

// Opens a row for reading and checks its size against the row table.
std::expected<Blob, Error> openRow(sqlite3* db, const BlockKey& key, size_t index, const RowRef& row)
{
    auto blob = openBlob(db, row.payload, false);
    if (!blob) {
        if (blob.error().code == ErrorCode::Sql) // "no such rowid": the payload is gone
            return std::unexpected(missing(key, "lacks the payload of row " + std::to_string(index)));
        return blob;
    }
    if (sqlite3_blob_bytes(blob->get()) != row.bytes)
        return std::unexpected(missing(key, "row " + std::to_string(index) + " has the wrong size"));
    return blob;
}

Error checksumFailed(const BlockKey& key, size_t index)
{
    log()->warn("{}: row {} failed its checksum; reported missing", describe(key), index);
    return missing(key, "row " + std::to_string(index) + " failed its checksum");
}

} // namespace

BlockStore::BlockStore(Database& db, BlockStoreOptions options) : m_db(db), m_options(options)
{
    // Leave room below SQLite's value limit for the record header.
    const std::int64_t limit = sqlite3_limit(db.handle(), SQLITE_LIMIT_LENGTH, -1) - 4096;
    m_rowBytes = std::clamp<std::int64_t>(options.maxRowBytes, 1, limit);
    m_options.chunkBytes = std::max<size_t>(m_options.chunkBytes, 4096);
}

std::expected<BlockInfo, Error> BlockStore::put(const BlockKey& key, const BlockPlacement& placement,
                                                std::span<const std::byte> data)
{
    return write(key, placement, static_cast<std::int64_t>(data.size()), data, nullptr);
}

std::expected<BlockInfo, Error> BlockStore::put(const BlockKey& key, const BlockPlacement& placement,
                                                std::int64_t size, const BlockProducer& produce)
{
    if (!produce)
        return std::unexpected(Error{ErrorCode::Invalid, "no producer for " + describe(key)});
    return write(key, placement, size, {}, &produce);
}

namespace {

// All layer groups at one prefix hash must agree on the parent, or snapshot chains break.
std::expected<void, Error> checkParent(sqlite3* db, const BlockKey& key, const BlockPlacement& placement)
{
    static constexpr const char* kSibling = "SELECT coalesce(parent_hash, x'') FROM kv.kv_blocks WHERE "
                                            "model_fingerprint = ?1 AND prefix_hash = ?2"
                                            " AND layer_group <> ?3 LIMIT 1";
    auto stmt = sql::prepare(db, kSibling);
    if (!stmt)
        return std::unexpected(stmt.error());
    bindKey(*stmt, key);
    const int rc = stmt->step();
    if (rc == SQLITE_ROW && stmt->blob(0) != placement.parentHash)
        return std::unexpected(Error{ErrorCode::Invalid, describe(key) +
                                                             " names another parent than the other "
                                                             "layer groups of its prefix"});
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, db, "check parent of " + describe(key)));
    return {};
}

std::expected<std::int64_t, Error> insertBlock(sqlite3* db, const BlockKey& key,
                                               const BlockPlacement& placement, std::int64_t size,
                                               std::int64_t rows)
{
    static constexpr const char* kDelete =
        "DELETE FROM kv.kv_blocks WHERE model_fingerprint = ?1 AND prefix_hash = ?2 AND layer_group = ?3";
    static constexpr const char* kInsert = R"sql(
INSERT INTO kv.kv_blocks(model_fingerprint, prefix_hash, layer_group, parent_hash, token_begin, token_end,
                         codec, byte_size, row_count, created_unix)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10))sql";
    auto del = sql::prepare(db, kDelete);
    if (!del)
        return std::unexpected(del.error());
    bindKey(*del, key);
    if (auto r = sql::run(db, *del, "replace " + describe(key)); !r)
        return std::unexpected(r.error());
    auto stmt = sql::prepare(db, kInsert);
    if (!stmt)
        return std::unexpected(stmt.error());
    bindKey(*stmt, key);
    if (placement.parentHash.empty())
        stmt->bindNull(4);
    else
        stmt->bindBlob(4, placement.parentHash);
    stmt->bind(5, placement.tokenBegin);
    stmt->bind(6, placement.tokenEnd);
    stmt->bind(7, kCodecRaw);
    stmt->bind(8, size);
    stmt->bind(9, rows);
    stmt->bind(10, sql::unixNow());
    if (auto r = sql::run(db, *stmt, "store " + describe(key)); !r)
        return std::unexpected(r.error());
    return sqlite3_last_insert_rowid(db);
}

} // namespace

std::expected<BlockInfo, Error> BlockStore::write(const BlockKey& key, const BlockPlacement& placement,
                                                  std::int64_t size, std::span<const std::byte> data,
                                                  const BlockProducer* produce)
{
    static constexpr const char* kInsertPayload = "INSERT INTO kv.kv_payload(data) VALUES (zeroblob(?1))";
    static constexpr const char* kInsertRow = "INSERT INTO kv.kv_rows(block_id, row_index, payload_id, "
                                              "byte_size, xxh3) VALUES (?1, ?2, ?3, ?4, ?5)";
    if (auto v = validate(key); !v)
        return std::unexpected(v.error());
    if (size < 0)
        return std::unexpected(Error{ErrorCode::Invalid, describe(key) + ": negative size"});
    sqlite3* db = m_db.handle();
    if (auto r = fitRowInCache(db, m_rowBytes); !r)
        return std::unexpected(r.error());
    sql::Transaction txn(db);
    if (!txn.begun())
        return std::unexpected(txn.begun().error());
    if (auto r = checkParent(db, key, placement); !r)
        return std::unexpected(r.error());
    const std::int64_t rowCount = (size + m_rowBytes - 1) / m_rowBytes;
    auto blockId = insertBlock(db, key, placement, size, rowCount);
    if (!blockId)
        return std::unexpected(blockId.error());

    auto insertPayload = sql::prepare(db, kInsertPayload);
    auto insertRow = sql::prepare(db, kInsertRow);
    if (!insertPayload || !insertRow)
        return std::unexpected(!insertPayload ? insertPayload.error() : insertRow.error());
    std::vector<std::byte> scratch;
    if (produce)
        scratch.resize(static_cast<size_t>(std::min<std::int64_t>(
            {static_cast<std::int64_t>(m_options.chunkBytes), m_rowBytes, std::max<std::int64_t>(size, 1)})));

    std::int64_t offset = 0;
    for (std::int64_t r = 0; r < rowCount; ++r) {
        const std::int64_t n = std::min(m_rowBytes, size - offset);
        insertPayload->bind(1, n);
        if (auto ok = sql::run(db, *insertPayload, "store " + describe(key)); !ok)
            return std::unexpected(ok.error());
        const std::int64_t payloadId = sqlite3_last_insert_rowid(db);
        auto blob = openBlob(db, payloadId, true);
        if (!blob)
            return std::unexpected(blob.error());
        std::uint64_t checksum = 0;
        if (!produce) {
            const std::byte* src = data.data() + offset;
            checksum = XXH3_64bits(src, static_cast<size_t>(n));
            if (const int rc = sqlite3_blob_write(blob->get(), src, static_cast<int>(n), 0); rc != SQLITE_OK)
                return std::unexpected(sql::errorFromCode(rc, db, "write " + describe(key)));
        } else {
            auto hash = newHash();
            for (std::int64_t pos = 0; pos < n;) {
                const auto c = static_cast<size_t>(std::min<std::int64_t>(n - pos, std::ssize(scratch)));
                if (auto ok = (*produce)(std::span(scratch.data(), c)); !ok)
                    return std::unexpected(ok.error());
                XXH3_64bits_update(hash.get(), scratch.data(), c);
                const int rc = sqlite3_blob_write(blob->get(), scratch.data(), static_cast<int>(c),
                                                  static_cast<int>(pos));
                if (rc != SQLITE_OK)
                    return std::unexpected(sql::errorFromCode(rc, db, "write " + describe(key)));
                pos += static_cast<std::int64_t>(c);
            }
            checksum = XXH3_64bits_digest(hash.get());
        }
        if (auto ok = closeBlob(db, *blob); !ok)
            return std::unexpected(ok.error());
        insertRow->bind(1, *blockId);
        insertRow->bind(2, r);
        insertRow->bind(3, payloadId);
        insertRow->bind(4, n);
        insertRow->bind(5, detail::toStored(checksum));
        if (auto ok = sql::run(db, *insertRow, "store " + describe(key)); !ok)
            return std::unexpected(ok.error());
        offset += n;
    }
    if (auto ok = txn.commit(); !ok)
        return std::unexpected(ok.error());
    BlockInfo info;
    info.id = *blockId;
    info.key = key;
    info.placement = placement;
    info.bytes = size;
    info.rows = static_cast<int>(rowCount);
    info.createdUnix = sql::unixNow();
    return info;
}

std::expected<BlockInfo, Error> BlockStore::find(const BlockKey& key)
{
    static const std::string kSelect =
        std::string("SELECT ") + detail::kBlockColumns +
        " FROM kv.kv_blocks b WHERE b.model_fingerprint = ?1 AND b.prefix_hash = ?2"
        " AND b.layer_group = ?3";
    if (auto v = validate(key); !v)
        return std::unexpected(v.error());
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    bindKey(*stmt, key);
    const int rc = stmt->step();
    if (rc == SQLITE_ROW)
        return detail::readBlock(*stmt);
    if (rc == SQLITE_DONE)
        return std::unexpected(missing(key, "is not stored"));
    return std::unexpected(sql::errorFromCode(rc, m_db.handle(), "find " + describe(key)));
}

std::expected<void, Error> BlockStore::read(const BlockKey& key, std::span<std::byte> out)
{
    sqlite3* db = m_db.handle();
    sql::ReadTransaction snapshot(db);
    auto block = loadBlock(db, key);
    if (!block)
        return std::unexpected(block.error());
    const auto& [info, rows] = *block;
    if (static_cast<std::int64_t>(out.size()) != info.bytes)
        return std::unexpected(Error{ErrorCode::Invalid, describe(key) + " holds " +
                                                             std::to_string(info.bytes) + " bytes, not " +
                                                             std::to_string(out.size())});
    std::byte* dst = out.data();
    for (size_t i = 0; i < rows.size(); ++i) {
        auto blob = openRow(db, key, i, rows[i]);
        if (!blob)
            return std::unexpected(blob.error());
        const int n = static_cast<int>(rows[i].bytes);
        if (const int rc = sqlite3_blob_read(blob->get(), dst, n, 0); rc != SQLITE_OK)
            return std::unexpected(sql::errorFromCode(rc, db, "read " + describe(key)));
        if (XXH3_64bits(dst, static_cast<size_t>(n)) != rows[i].xxh3)
            return std::unexpected(checksumFailed(key, i));
        dst += n;
    }
    return {};
}

std::expected<void, Error> BlockStore::read(const BlockKey& key, const BlockConsumer& consume)
{
    sqlite3* db = m_db.handle();
    sql::ReadTransaction snapshot(db);
    auto block = loadBlock(db, key);
    if (!block)
        return std::unexpected(block.error());
    const auto& rows = block->second;
    std::int64_t largest = 0;
    for (const auto& row : rows)
        largest = std::max(largest, row.bytes);
    std::vector<std::byte> scratch(static_cast<size_t>(
        std::min<std::int64_t>(static_cast<std::int64_t>(m_options.chunkBytes), largest)));
    for (size_t i = 0; i < rows.size(); ++i) {
        auto blob = openRow(db, key, i, rows[i]);
        if (!blob)
            return std::unexpected(blob.error());
        auto hash = newHash();
        for (std::int64_t pos = 0; pos < rows[i].bytes;) {
            const auto c =
                static_cast<size_t>(std::min<std::int64_t>(rows[i].bytes - pos, std::ssize(scratch)));
            if (const int rc = sqlite3_blob_read(blob->get(), scratch.data(), static_cast<int>(c),
                                                 static_cast<int>(pos));
                rc != SQLITE_OK)
                return std::unexpected(sql::errorFromCode(rc, db, "read " + describe(key)));
            XXH3_64bits_update(hash.get(), scratch.data(), c);
            if (auto ok = consume(std::span<const std::byte>(scratch.data(), c)); !ok)
                return ok;
            pos += static_cast<std::int64_t>(c);
        }
        if (XXH3_64bits_digest(hash.get()) != rows[i].xxh3)
            return std::unexpected(checksumFailed(key, i));
    }
    return {};
}

std::expected<bool, Error> BlockStore::remove(const BlockKey& key)
{
    static constexpr const char* kDelete =
        "DELETE FROM kv.kv_blocks WHERE model_fingerprint = ?1 AND prefix_hash = ?2 AND layer_group = ?3";
    if (auto v = validate(key); !v)
        return std::unexpected(v.error());
    auto stmt = sql::prepare(m_db.handle(), kDelete);
    if (!stmt)
        return std::unexpected(stmt.error());
    bindKey(*stmt, key);
    if (auto r = sql::run(m_db.handle(), *stmt, "remove " + describe(key)); !r)
        return std::unexpected(r.error());
    return sqlite3_changes(m_db.handle()) > 0;
}

std::expected<std::vector<BlockInfo>, Error> BlockStore::blocks()
{
    static const std::string kSelect = std::string(detail::kUsedBlocksCte) + "SELECT " +
                                       detail::kBlockColumns +
                                       R"sql(, coalesce(r.n, 0)
FROM kv.kv_blocks b
LEFT JOIN (SELECT block_id, count(DISTINCT snapshot_id) AS n FROM used GROUP BY block_id) r ON r.block_id = b.id
ORDER BY b.model_fingerprint, b.token_begin, b.prefix_hash, b.layer_group)sql";
    auto stmt = sql::prepare(m_db.handle(), kSelect.c_str());
    if (!stmt)
        return std::unexpected(stmt.error());
    std::vector<BlockInfo> out;
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
        out.push_back(detail::readBlock(*stmt));
        out.back().references = stmt->int32(detail::kBlockColumnCount);
    }
    if (rc != SQLITE_DONE)
        return std::unexpected(sql::errorFromCode(rc, m_db.handle(), "list KV blocks"));
    return out;
}

std::expected<std::vector<BlockKey>, Error> BlockStore::verify()
{
    auto all = blocks();
    if (!all)
        return std::unexpected(all.error());
    std::vector<BlockKey> bad;
    for (const auto& block : *all) {
        auto r = read(block.key, [](std::span<const std::byte>) -> std::expected<void, Error> { return {}; });
        if (!r && r.error().code != ErrorCode::NotFound)
            return std::unexpected(r.error());
        if (!r)
            bad.push_back(block.key);
    }
    return bad;
}

std::expected<StoreTotals, Error> BlockStore::totals()
{
    sqlite3* db = m_db.handle();
    sql::ReadTransaction snapshot(db);
    auto stmt = sql::prepare(db, "SELECT count(*), coalesce(sum(byte_size), 0) FROM kv.kv_blocks");
    if (!stmt)
        return std::unexpected(stmt.error());
    if (const int rc = stmt->step(); rc != SQLITE_ROW)
        return std::unexpected(sql::errorFromCode(rc, db, "count KV blocks"));
    StoreTotals totals{stmt->int64(0), stmt->int64(1), 0, 0};
    auto pages = sql::queryInt(db, "PRAGMA kv.page_count");
    auto pageSize = sql::queryInt(db, "PRAGMA kv.page_size");
    auto freePages = sql::queryInt(db, "PRAGMA kv.freelist_count");
    if (!pages || !pageSize || !freePages)
        return std::unexpected(!pages ? pages.error() : !pageSize ? pageSize.error() : freePages.error());
    totals.fileBytes = *pages * *pageSize;
    totals.freeBytes = *freePages * *pageSize;
    return totals;
}

std::expected<void, Error> BlockStore::compact()
{
    return sql::exec(m_db.handle(), "VACUUM kv");
}

} // namespace quire::storage
