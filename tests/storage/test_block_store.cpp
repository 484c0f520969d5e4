// The KV block store: multi-row blocks through buffers and callbacks, checksums that turn a
// damaged row into a missing block, snapshots with reference counts and garbage collection, and
// a full disk (max_page_count, and a file-size limit in a child process) that keeps earlier data.
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "quire/storage/block_store.h"
#include "quire/storage/catalog.h"
#include "storage_test_util.h"

using namespace quire::storage;
using namespace quire::storage::test;

namespace {

BlockStoreOptions smallRows(std::int64_t rowBytes)
{
    BlockStoreOptions options;
    options.maxRowBytes = rowBytes;
    options.chunkBytes = 4096;
    return options;
}

BlockKey key(const std::string& hash, int group = 0)
{
    return BlockKey{"model-A", hash, group};
}
// "h" + std::to_string(i) trips a GCC 12 -Wrestrict false positive; build the name by appending.
BlockKey numbered(const char* prefix, int i)
{
    return key(std::string(prefix).append(std::to_string(i)));
}

std::int64_t countRows(sqlite3* db, const char* table)
{
    sqlite3_stmt* st = nullptr;
    const std::string sqlText = std::string("SELECT count(*) FROM ") + table;
    sqlite3_prepare_v2(db, sqlText.c_str(), -1, &st, nullptr);
    sqlite3_step(st);
    const std::int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

// Flips one byte of row `rowIndex` of the block `hash` directly in the file, as a bad disk would.
void flipByte(const std::filesystem::path& kvFile, const std::string& hash, int rowIndex, int offset)
{
    sqlite3* raw = nullptr;
    QCOMPARE(sqlite3_open(kvFile.c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(raw,
                       "SELECT r.payload_id FROM kv_rows r JOIN kv_blocks b ON b.id = r.block_id "
                       "WHERE b.prefix_hash = ?1 AND r.row_index = ?2",
                       -1, &st, nullptr);
    sqlite3_bind_blob(st, 1, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, rowIndex);
    QCOMPARE(sqlite3_step(st), SQLITE_ROW);
    const auto payload = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_blob* blob = nullptr;
    QCOMPARE(sqlite3_blob_open(raw, "main", "kv_payload", "data", payload, 1, &blob), SQLITE_OK);
    unsigned char byte = 0;
    QCOMPARE(sqlite3_blob_read(blob, &byte, 1, offset), SQLITE_OK);
    byte ^= 0x40;
    QCOMPARE(sqlite3_blob_write(blob, &byte, 1, offset), SQLITE_OK);
    sqlite3_blob_close(blob);
    sqlite3_close(raw);
}

std::expected<void, Error> ignore(std::span<const std::byte>)
{
    return {};
}

} // namespace

class TestBlockStore : public QObject {
    Q_OBJECT
private slots:
    void multiRowBlocksRoundTripThroughBuffersAndCallbacks()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        BlockStore store(*db, smallRows(1000));
        QCOMPARE(store.rowBytes(), std::int64_t(1000));
        const auto bytes = pattern(10'500, 7);
        auto info = store.put(key("h1"), {"", 0, 8192}, bytes);
        QUIRE_VERIFY_OK(info);
        QCOMPARE(info->rows, 11);
        QCOMPARE(info->bytes, std::int64_t(10'500));
        QCOMPARE(countRows(db->handle(), "kv.kv_payload"), std::int64_t(11));

        std::vector<std::byte> back(bytes.size());
        QUIRE_VERIFY_OK(store.read(key("h1"), back));
        QVERIFY(back == bytes);

        std::vector<std::byte> streamed;
        size_t calls = 0;
        QUIRE_VERIFY_OK(
            store.read(key("h1"), [&](std::span<const std::byte> chunk) -> std::expected<void, Error> {
                streamed.insert(streamed.end(), chunk.begin(), chunk.end());
                ++calls;
                return {};
            }));
        QVERIFY(streamed == bytes);
        QCOMPARE(calls, size_t(11)); // one chunk per 1000-byte row (chunk buffer 4096)

        // Written from a producer in pieces, bytes generated on the fly.
        size_t produced = 0;
        auto fromProducer = store.put(key("h1", 1), {"", 0, 8192}, 10'500, [&](std::span<std::byte> out) {
            fillPattern(out.data(), out.size(), 7, produced);
            produced += out.size();
            return std::expected<void, Error>{};
        });
        QUIRE_VERIFY_OK(fromProducer);
        QCOMPARE(produced, size_t(10'500));
        std::fill(back.begin(), back.end(), std::byte{0});
        QUIRE_VERIFY_OK(store.read(key("h1", 1), back));
        QVERIFY(back == bytes);

        // Wrong buffer size, absent key, empty key.
        std::vector<std::byte> small(10);
        QCOMPARE(store.read(key("h1"), small).error().code, ErrorCode::Invalid);
        QCOMPARE(store.read(key("nope"), back).error().code, ErrorCode::NotFound);
        QCOMPARE(store.put(BlockKey{"", "h", 0}, {}, bytes).error().code, ErrorCode::Invalid);

        // A producer that cancels leaves nothing behind.
        auto cancelled = store.put(key("h2"), {"h1", 8192, 16384}, 5000, [](std::span<std::byte>) {
            return std::expected<void, Error>(std::unexpected(Error{ErrorCode::Cancelled, "stop"}));
        });
        QCOMPARE(cancelled.error().code, ErrorCode::Cancelled);
        QCOMPARE(store.find(key("h2")).error().code, ErrorCode::NotFound);
        QCOMPARE(countRows(db->handle(), "kv.kv_payload"), std::int64_t(22));

        // An empty block is a valid block.
        QUIRE_VERIFY_OK(store.put(key("empty"), {"", 0, 0}, std::span<const std::byte>{}));
        std::vector<std::byte> none;
        QUIRE_VERIFY_OK(store.read(key("empty"), none));
    }

    void rowsStayBelowSqlitesLimit()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        BlockStore defaults(*db);
        QCOMPARE(defaults.rowBytes(), std::int64_t(32) << 20);
        BlockStore huge(*db, smallRows(std::int64_t(8) << 30));
        QVERIFY(huge.rowBytes() < sqlite3_limit(db->handle(), SQLITE_LIMIT_LENGTH, -1));
    }

    void flippedByteMakesTheBlockMissing()
    {
        QTemporaryDir dir;
        const auto path = libraryIn(dir);
        const auto a = pattern(5000, 1), b = pattern(5000, 2);
        {
            auto db = Database::open(path);
            QUIRE_VERIFY_OK(db);
            BlockStore store(*db, smallRows(1024));
            QUIRE_VERIFY_OK(store.put(key("a"), {"", 0, 10}, a));
            QUIRE_VERIFY_OK(store.put(key("b"), {"a", 10, 20}, b));
        }
        flipByte(Database::defaultBlockStorePath(path), "a", 3, 17);

        auto db = Database::open(path);
        QUIRE_VERIFY_OK(db);
        BlockStore store(*db, smallRows(1024));
        std::vector<std::byte> out(5000);
        auto r = store.read(key("a"), out);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::NotFound);
        QVERIFY2(r.error().message.find("checksum") != std::string::npos, r.error().message.c_str());
        QCOMPARE(store.read(key("a"), ignore).error().code, ErrorCode::NotFound);
        QUIRE_VERIFY_OK(store.read(key("b"), out)); // the neighbour is fine
        QVERIFY(out == b);
        auto bad = store.verify();
        QUIRE_VERIFY_OK(bad);
        QCOMPARE(bad->size(), size_t(1));
        QVERIFY(bad->front() == key("a"));
        QCOMPARE(db->integrityCheck().value(),
                 std::string("ok")); // SQLite cannot see it: only our checksum can

        // Recomputed and written again, the block is back.
        QUIRE_VERIFY_OK(store.put(key("a"), {"", 0, 10}, a));
        QUIRE_VERIFY_OK(store.read(key("a"), out));
        QVERIFY(out == a);
        QCOMPARE(store.verify().value().size(), size_t(0));
    }

    void missingRowMakesTheBlockMissing()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        BlockStore store(*db, smallRows(1000));
        QUIRE_VERIFY_OK(store.put(key("a"), {"", 0, 10}, pattern(4000, 3)));
        QCOMPARE(sqlite3_exec(db->handle(), "DELETE FROM kv.kv_rows WHERE row_index = 2", nullptr, nullptr,
                              nullptr),
                 SQLITE_OK);
        std::vector<std::byte> out(4000);
        QCOMPARE(store.read(key("a"), out).error().code, ErrorCode::NotFound);
    }

    void fingerprintFieldsAndSnapshotsByName()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        const auto ws = db->createWorkspace("w").value();
        BlockStore store(*db);
        auto none = store.fingerprintFields("model-A");
        QUIRE_VERIFY_OK(none);
        QVERIFY(!none->has_value());
        QUIRE_VERIFY_OK(store.recordFingerprint("model-A", "architecture=llama\n"));
        QUIRE_VERIFY_OK(store.recordFingerprint("model-A", "ignored: recorded once\n"));
        auto fields = store.fingerprintFields("model-A");
        QUIRE_VERIFY_OK(fields);
        QCOMPARE(fields->value_or(""), std::string("architecture=llama\n"));
        QUIRE_VERIFY_OK(store.put(key("h1"), {"", 0, 8}, pattern(100, 1)));
        QUIRE_VERIFY_OK(store.saveSnapshot(ws, "main", "model-A", "h1", 8));
        auto row = store.snapshotNamed(ws, "main");
        QUIRE_VERIFY_OK(row);
        QCOMPARE(row->tokenCount, std::int64_t(8));
        QVERIFY(row->complete);
        QCOMPARE(store.snapshotNamed(ws, "other").error().code, ErrorCode::NotFound);
    }

    void atomicallyLandsAllOrNothing()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        const auto ws = db->createWorkspace("w").value();
        BlockStore store(*db, smallRows(512));
        const auto bytes = pattern(1000, 3);
        // A block and the snapshot on it: both land.
        QUIRE_VERIFY_OK(store.atomically([&]() -> std::expected<void, Error> {
            if (auto p = store.put(key("a1"), {"", 0, 8}, bytes); !p)
                return std::unexpected(p.error());
            if (auto m = store.saveSnapshot(ws, "latest", "model-A", "a1", 8); !m)
                return std::unexpected(m.error());
            return {};
        }));
        QVERIFY(store.find(key("a1")).has_value());
        QVERIFY(store.snapshotNamed(ws, "latest").has_value());
        // The second write fails (no such block to point at): the block written before it is gone
        // too, and the connection is still usable.
        auto failed = store.atomically([&]() -> std::expected<void, Error> {
            if (auto p = store.put(key("a2"), {"a1", 8, 16}, bytes); !p)
                return std::unexpected(p.error());
            if (auto m = store.saveSnapshot(ws, "latest", "model-A", "absent", 16); !m)
                return std::unexpected(m.error());
            return {};
        });
        QVERIFY(!failed.has_value());
        QCOMPARE(failed.error().code, ErrorCode::NotFound);
        QVERIFY(!store.find(key("a2")).has_value());
        QCOMPARE(store.snapshotNamed(ws, "latest")->tokenCount, std::int64_t(8));
        QUIRE_VERIFY_OK(store.put(key("a2"), {"a1", 8, 16}, bytes));
        QVERIFY(store.find(key("a2")).has_value());
    }

    void garbageOfOneModelLeavesTheOthers()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        BlockStore store(*db, smallRows(512));
        const auto bytes = pattern(1000, 5);
        QUIRE_VERIFY_OK(store.put({"model-A", "a1", 0}, {"", 0, 8}, bytes));
        QUIRE_VERIFY_OK(store.put({"model-B", "b1", 0}, {"", 0, 8}, bytes));
        auto a = store.collectGarbage(std::string("model-A"));
        QUIRE_VERIFY_OK(a);
        QCOMPARE(a->blocks, std::int64_t(1));
        QVERIFY(!store.find({"model-A", "a1", 0}).has_value());
        QVERIFY(store.find({"model-B", "b1", 0}).has_value()); // another model's prefill stays
        auto all = store.collectGarbage();
        QUIRE_VERIFY_OK(all);
        QCOMPARE(all->blocks, std::int64_t(1));
        QVERIFY(!store.find({"model-B", "b1", 0}).has_value());
    }

    void snapshotsCountReferencesAndGarbageIsCollected()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        const auto ws = db->createWorkspace("w").value();
        BlockStore store(*db, smallRows(512));
        const auto bytes = pattern(1000, 9);
        // h1 <- h2 <- h3 and a branch h1 <- h2b; two layer groups each; an orphan h9.
        for (int g : {0, 1}) {
            QUIRE_VERIFY_OK(store.put(key("h1", g), {"", 0, 8}, bytes));
            QUIRE_VERIFY_OK(store.put(key("h2", g), {"h1", 8, 16}, bytes));
            QUIRE_VERIFY_OK(store.put(key("h3", g), {"h2", 16, 24}, bytes));
            QUIRE_VERIFY_OK(store.put(key("h2b", g), {"h1", 8, 16}, bytes));
        }
        QUIRE_VERIFY_OK(store.put(key("h9"), {"h1", 8, 16}, bytes));
        QCOMPARE(store.put(key("h2", 2), {"h9", 8, 16}, bytes).error().code,
                 ErrorCode::Invalid); // parent mismatch

        auto main = store.saveSnapshot(ws, "main", "model-A", "h3", 24);
        auto branch = store.saveSnapshot(ws, "branch", "model-A", "h2b", 16);
        QUIRE_VERIFY_OK(main);
        QUIRE_VERIFY_OK(branch);
        QCOMPARE(store.saveSnapshot(ws, "x", "model-A", "absent", 1).error().code, ErrorCode::NotFound);
        QCOMPARE(store.saveSnapshot(ws, "x", "model-B", "h3", 1).error().code, ErrorCode::NotFound);

        auto chain = store.snapshotBlocks(*main);
        QUIRE_VERIFY_OK(chain);
        QCOMPARE(chain->size(), size_t(6));
        const char* order[] = {"h1", "h1", "h2", "h2", "h3", "h3"};
        for (size_t i = 0; i < 6; ++i) {
            QCOMPARE(chain->at(i).key.prefixHash, std::string(order[i]));
            QCOMPARE(chain->at(i).key.layerGroup, int(i % 2));
        }
        auto snaps = store.snapshots(ws);
        QUIRE_VERIFY_OK(snaps);
        QCOMPARE(snaps->size(), size_t(2));
        QCOMPARE(snaps->at(1).name, std::string("main")); // by name
        QCOMPARE(snaps->at(1).blockCount, std::int64_t(6));
        QCOMPARE(snaps->at(1).bytes, std::int64_t(6000));
        QCOMPARE(snaps->at(1).tokenCount, std::int64_t(24));
        QVERIFY(snaps->at(1).complete);

        auto listed = store.blocks();
        QUIRE_VERIFY_OK(listed);
        QCOMPARE(listed->size(), size_t(9));
        std::map<std::string, int> refs;
        for (const auto& b : *listed) {
            refs[b.key.prefixHash + "/" + std::to_string(b.key.layerGroup)] = b.references;
            QCOMPARE(b.bytes, std::int64_t(1000));
            QCOMPARE(b.rows, 2);
        }
        QCOMPARE(refs["h1/0"], 2);
        QCOMPARE(refs["h1/1"], 2);
        QCOMPARE(refs["h2/0"], 1);
        QCOMPARE(refs["h2b/1"], 1);
        QCOMPARE(refs["h3/1"], 1);
        QCOMPARE(refs["h9/0"], 0);

        auto gc = store.collectGarbage();
        QUIRE_VERIFY_OK(gc);
        QCOMPARE(gc->blocks, std::int64_t(1));
        QCOMPARE(gc->bytes, std::int64_t(1000));
        QCOMPARE(store.find(key("h9")).error().code, ErrorCode::NotFound);

        // Moving a snapshot releases what only it used.
        QUIRE_VERIFY_OK(store.saveSnapshot(ws, "branch", "model-A", "h1", 8));
        gc = store.collectGarbage();
        QCOMPARE(gc.value().blocks, std::int64_t(2));
        QCOMPARE(store.find(key("h2b", 1)).error().code, ErrorCode::NotFound);
        QCOMPARE(countRows(db->handle(), "kv.kv_payload"), std::int64_t(6 * 2)); // rows cascade to payload
        auto totals = store.totals();
        QUIRE_VERIFY_OK(totals);
        QCOMPARE(totals->blocks, std::int64_t(6));
        QCOMPARE(totals->bytes, std::int64_t(6000));
        QVERIFY(totals->fileBytes > 0);

        // A gap in the chain makes the snapshot incomplete rather than wrong.
        QUIRE_VERIFY_OK(store.remove(key("h2", 0)));
        QUIRE_VERIFY_OK(store.remove(key("h2", 1)));
        auto broken = store.snapshot(*main);
        QUIRE_VERIFY_OK(broken);
        QVERIFY(!broken->complete);
        QCOMPARE(broken->blockCount, std::int64_t(2));

        // Removing the workspace removes its snapshots; then everything is garbage.
        QUIRE_VERIFY_OK(db->removeWorkspace(ws));
        QCOMPARE(store.collectGarbage().value().blocks, std::int64_t(4));
        QCOMPARE(countRows(db->handle(), "kv.kv_payload"), std::int64_t(0));
        QUIRE_VERIFY_OK(store.compact());
        QCOMPARE(store.totals().value().freeBytes, std::int64_t(0));
        QCOMPARE(db->integrityCheck().value(), std::string("ok"));
    }

    void diskFullFailsCleanlyAndKeepsEarlierBlocks()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        BlockStore store(*db, smallRows(64 << 10));
        const std::int64_t pages = sqlite3_int64(0) + [&] {
            sqlite3_stmt* st = nullptr;
            sqlite3_prepare_v2(db->handle(), "PRAGMA kv.page_count", -1, &st, nullptr);
            sqlite3_step(st);
            const auto n = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
            return n;
        }();
        // Room for a little over five 1 MiB blocks (64 KiB pages).
        const std::string limit = "PRAGMA kv.max_page_count=" + std::to_string(pages + 90);
        QCOMPARE(sqlite3_exec(db->handle(), limit.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
        int written = 0;
        std::expected<BlockInfo, Error> last;
        for (int i = 0; i < 50; ++i) {
            last = store.put(numbered("h", i), {"", 0, 1}, pattern(1 << 20, i));
            if (!last)
                break;
            ++written;
        }
        QVERIFY(!last);
        QCOMPARE(last.error().code, ErrorCode::Full);
        QVERIFY2(written >= 3 && written < 50, std::to_string(written).c_str());
        QCOMPARE(store.find(numbered("h", written)).error().code, ErrorCode::NotFound);
        std::vector<std::byte> out(1 << 20);
        for (int i = 0; i < written; ++i) {
            QUIRE_VERIFY_OK(store.read(numbered("h", i), out));
            QVERIFY(out == pattern(1 << 20, i));
        }
        QCOMPARE(db->integrityCheck().value(), std::string("ok"));
        // The connection is still usable: free space, write again.
        QUIRE_VERIFY_OK(store.remove(key("h0")));
        QUIRE_VERIFY_OK(store.put(key("again"), {"", 0, 1}, pattern(1 << 20, 99)));

        // The library file fills up the same way.
        auto ws = db->createWorkspace("w").value();
        Catalog catalog(*db);
        QUIRE_VERIFY_OK(catalog.putDocument(ws, document("/kept", "1", {"kept text"})));
        QCOMPARE(sqlite3_exec(db->handle(), "PRAGMA main.max_page_count=1", nullptr, nullptr, nullptr),
                 SQLITE_OK);
        std::vector<std::string> many(2000, std::string(500, 'x'));
        auto full = catalog.putDocument(ws, document("/big", "2", many));
        QVERIFY(!full);
        QCOMPARE(full.error().code, ErrorCode::Full);
        QCOMPARE(catalog.documents(ws).value().size(), size_t(1));
        QCOMPARE(catalog.documents(ws).value()[0].path, std::string("/kept"));
    }

    void fileSizeLimitInTheMiddleOfABlockKeepsEarlierBlocks()
    {
        QTemporaryDir dir;
        const auto path = libraryIn(dir);
        {
            auto db = Database::open(path);
            QUIRE_VERIFY_OK(db);
            QUIRE_VERIFY_OK(
                BlockStore(*db, smallRows(256 << 10)).put(key("first"), {"", 0, 1}, pattern(1 << 20, 1)));
        }
        const auto kvFile = Database::defaultBlockStorePath(path);
        const auto before = std::filesystem::file_size(kvFile);
        const pid_t child = fork();
        QVERIFY(child >= 0);
        if (child == 0) {
            // The OS refuses to grow any file past ~3.4 MiB more, in the middle of a page.
            std::signal(SIGXFSZ, SIG_IGN);
            rlimit lim{};
            lim.rlim_cur = lim.rlim_max = static_cast<rlim_t>(before + (3 << 20) + 12345);
            setrlimit(RLIMIT_FSIZE, &lim);
            auto db = Database::open(path);
            if (!db)
                _exit(10);
            BlockStore store(*db, smallRows(256 << 10));
            for (int i = 0; i < 20; ++i) {
                auto r = store.put(numbered("b", i), {"", 0, 1}, pattern(1 << 20, 100 + i));
                if (!r && r.error().code != ErrorCode::Full)
                    fprintf(stderr, "child: %s\n", r.error().message.c_str());
                if (!r)
                    _exit(r.error().code == ErrorCode::Full ? 0 : 20 + static_cast<int>(r.error().code));
            }
            _exit(30); // never hit the limit
        }
        int status = 0;
        QCOMPARE(waitpid(child, &status, 0), child);
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 0);

        auto db = Database::open(path);
        QUIRE_VERIFY_OK(db);
        QCOMPARE(db->integrityCheck().value(), std::string("ok"));
        BlockStore store(*db, smallRows(256 << 10));
        QCOMPARE(store.verify().value().size(), size_t(0));
        auto blocks = store.blocks().value();
        QVERIFY(blocks.size() >= 2); // "first" and at least one written before the limit
        std::vector<std::byte> out(1 << 20);
        QUIRE_VERIFY_OK(store.read(key("first"), out));
        QVERIFY(out == pattern(1 << 20, 1));
    }
};

QTEST_GUILESS_MAIN(TestBlockStore)
#include "test_block_store.moc"
