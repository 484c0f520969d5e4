// The writer thread: jobs run in order on one connection with results through futures and
// callbacks; reader threads with their own connections read consistent states while it writes
// (documents through WAL, KV blocks through the rollback-journal block store).
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "quire/storage/block_store.h"
#include "quire/storage/catalog.h"
#include "quire/storage/search.h"
#include "quire/storage/writer_thread.h"
#include "storage_test_util.h"

using namespace quire::storage;
using namespace quire::storage::test;
using namespace std::chrono_literals;

class TestWriterThread : public QObject {
    Q_OBJECT
private slots:
    void jobsRunInOrderWithFuturesAndCallbacks()
    {
        QTemporaryDir dir;
        auto writer = WriterThread::start(libraryIn(dir));
        QUIRE_VERIFY_OK(writer);
        auto& w = **writer;
        std::vector<int> order; // touched only on the writer thread until the futures are ready
        std::vector<std::future<std::expected<int, Error>>> futures;
        for (int i = 0; i < 50; ++i)
            futures.push_back(w.submit([&order, i](Database&) -> std::expected<int, Error> {
                order.push_back(i);
                return i * 2;
            }));
        for (int i = 0; i < 50; ++i)
            QCOMPARE(futures[static_cast<size_t>(i)].get().value(), i * 2);
        for (int i = 0; i < 50; ++i)
            QCOMPARE(order[static_cast<size_t>(i)], i);

        auto ws = w.submit([](Database& db) { return db.createWorkspace("w"); }).get();
        QUIRE_VERIFY_OK(ws);

        std::promise<std::pair<std::thread::id, std::int64_t>> seen;
        w.submit([](Database& db) { return db.workspaces(); },
                 [&seen](std::expected<std::vector<WorkspaceRow>, Error> rows) {
                     seen.set_value({std::this_thread::get_id(), rows ? std::ssize(*rows) : -1});
                 });
        auto [thread, count] = seen.get_future().get();
        QVERIFY(thread != std::this_thread::get_id());
        QCOMPARE(count, std::int64_t(1));

        // An exception in a job becomes an error; the writer goes on.
        auto threw =
            w.submit([](Database&) -> std::expected<int, Error> { throw std::runtime_error("oops"); }).get();
        QVERIFY(!threw);
        QVERIFY(threw.error().message.find("oops") != std::string::npos);
        QCOMPARE(w.submit([](Database& db) { return db.workspaces(); }).get().value().size(), size_t(1));

        // Stopping finishes what is queued; later jobs are cancelled.
        std::atomic<int> ran = 0;
        std::vector<std::future<std::expected<int, Error>>> queued;
        for (int i = 0; i < 20; ++i)
            queued.push_back(w.submit([&ran](Database&) -> std::expected<int, Error> {
                std::this_thread::sleep_for(1ms);
                return ++ran;
            }));
        w.stop();
        QCOMPARE(ran.load(), 20);
        auto late = w.submit([](Database&) -> std::expected<int, Error> { return 1; }).get();
        QCOMPARE(late.error().code, ErrorCode::Cancelled);
        QCOMPARE(w.pending(), size_t(0));
    }

    void readerIsNotBlockedByAnOpenWriteTransaction()
    {
        QTemporaryDir dir;
        const auto path = libraryIn(dir);
        auto writer = WriterThread::start(path);
        QUIRE_VERIFY_OK(writer);
        QUIRE_VERIFY_OK((*writer)->submit([](Database& db) { return db.createWorkspace("before"); }).get());

        std::promise<void> inTransaction, readDone;
        auto readDoneFuture = readDone.get_future();
        auto job = (*writer)->submit([&](Database& db) -> std::expected<void, Error> {
            sqlite3_exec(db.handle(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
            auto r = db.createWorkspace("during");
            inTransaction.set_value();
            readDoneFuture.wait_for(10s); // the reader must finish while this transaction is open
            sqlite3_exec(db.handle(), "COMMIT", nullptr, nullptr, nullptr);
            return r ? std::expected<void, Error>{} : std::unexpected(r.error());
        });

        std::vector<std::string> seen;
        std::chrono::steady_clock::duration took{};
        std::thread reader([&] {
            auto db = Database::open(path, readOnly());
            inTransaction.get_future().wait();
            const auto t0 = std::chrono::steady_clock::now();
            if (db)
                if (auto rows = db->workspaces())
                    for (const auto& row : *rows)
                        seen.push_back(row.name);
            took = std::chrono::steady_clock::now() - t0;
            readDone.set_value();
        });
        reader.join();
        QUIRE_VERIFY_OK(job.get());
        QCOMPARE(seen, std::vector<std::string>{"before"}); // the committed state only
        QVERIFY(took < 2s);
        auto db = Database::open(path, readOnly());
        QCOMPARE(db->workspaces().value().size(), size_t(2));
    }

    void readerSeesWholeDocumentsWhileTheWriterReplacesThem()
    {
        QTemporaryDir dir;
        const auto path = libraryIn(dir);
        auto writer = WriterThread::start(path);
        QUIRE_VERIFY_OK(writer);
        const auto ws = (*writer)->submit([](Database& db) { return db.createWorkspace("w"); }).get().value();
        constexpr int kSegments = 100;
        constexpr int kVersions = 60;
        auto version = [&](int v) {
            std::vector<std::string> lines;
            for (int i = 0; i < kSegments; ++i)
                lines.push_back("version" + std::to_string(v) + " line " + std::to_string(i));
            return document("/live.txt", "v" + std::to_string(v), lines);
        };
        QUIRE_VERIFY_OK(
            (*writer)->submit([&](Database& db) { return Catalog(db).putDocument(ws, version(0)); }).get());

        std::atomic<bool> done = false;
        std::atomic<int> reads = 0, torn = 0, failures = 0;
        std::set<std::string> versionsSeen;
        std::thread reader([&] {
            auto db = Database::open(path, readOnly());
            if (!db) {
                ++failures;
                return;
            }
            SearchOptions options;
            options.limit = 1000;
            while (!done) {
                auto docs = Catalog(*db).documents(ws);
                auto hits = FullTextSearch(*db).search(ws, "line", options);
                if (!docs || !hits || docs->size() != 1) {
                    ++failures;
                    continue;
                }
                if (docs->front().segmentCount != kSegments || hits->size() != size_t(kSegments))
                    ++torn;
                std::set<std::string> inOneRead;
                for (const auto& hit : *hits)
                    inOneRead.insert(hit.text.substr(0, hit.text.find(' ')));
                if (inOneRead.size() != 1)
                    ++torn; // segments of two versions in one result
                else
                    versionsSeen.insert(*inOneRead.begin());
                ++reads;
            }
        });
        std::vector<std::future<std::expected<PutResult, Error>>> puts;
        for (int v = 1; v <= kVersions; ++v)
            puts.push_back((*writer)->submit([&, v](Database& db) {
                std::this_thread::sleep_for(4ms);
                return Catalog(db).putDocument(ws, version(v));
            }));
        for (auto& f : puts)
            QUIRE_VERIFY_OK(f.get());
        done = true;
        reader.join();
        QCOMPARE(failures.load(), 0);
        QCOMPARE(torn.load(), 0);
        QVERIFY(reads.load() > 5);
        QVERIFY2(versionsSeen.size() >= 2, "the reader never overlapped the writes");
    }

    void blockReaderGetsWholeBlocksWhileTheWriterWritesOthers()
    {
        QTemporaryDir dir;
        const auto path = libraryIn(dir);
        auto writer = WriterThread::start(path);
        QUIRE_VERIFY_OK(writer);
        BlockStoreOptions options;
        options.maxRowBytes = 256 << 10;
        const auto stable = pattern(2 << 20, 5);
        const BlockKey stableKey{"m", "stable", 0};
        QUIRE_VERIFY_OK(
            (*writer)
                ->submit([&](Database& db) { return BlockStore(db, options).put(stableKey, {}, stable); })
                .get());

        std::atomic<bool> done = false;
        std::atomic<int> reads = 0, bad = 0;
        std::thread reader([&] {
            auto db = Database::open(path, readOnly());
            if (!db) {
                ++bad;
                return;
            }
            BlockStore store(*db, options);
            std::vector<std::byte> out(stable.size());
            while (!done) {
                auto r = store.read(stableKey, out);
                if (!r || out != stable)
                    ++bad;
                ++reads;
            }
        });
        std::vector<std::future<std::expected<BlockInfo, Error>>> puts;
        for (int i = 0; i < 12; ++i)
            puts.push_back((*writer)->submit([&, i](Database& db) {
                return BlockStore(db, options)
                    .put(BlockKey{"m", std::string("b").append(std::to_string(i)), 0}, {},
                         pattern(2 << 20, static_cast<std::uint64_t>(i)));
            }));
        for (auto& f : puts)
            QUIRE_VERIFY_OK(f.get());
        done = true;
        reader.join();
        QCOMPARE(bad.load(), 0);
        QVERIFY(reads.load() > 0);
    }
};

QTEST_GUILESS_MAIN(TestWriterThread)
#include "test_writer_thread.moc"
