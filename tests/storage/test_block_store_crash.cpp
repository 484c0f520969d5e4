// A writer process killed with SIGKILL while it writes multi-row KV blocks, again and again: on
// reopen the files pass PRAGMA integrity_check and every block is whole (all rows present, all
// checksums good, the exact bytes written) or absent.
#include <QTemporaryDir>
#include <QTest>

#include <poll.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <random>
#include <thread>

#include "quire/storage/block_store.h"
#include "storage_test_util.h"

using namespace quire::storage;
using namespace quire::storage::test;

namespace {

constexpr std::size_t kBlockBytes = 1 << 20; // 16 rows of 64 KiB
constexpr std::int64_t kRowBytes = 64 << 10;
constexpr int kIterations = 20;

BlockStoreOptions options()
{
    BlockStoreOptions o;
    o.maxRowBytes = kRowBytes;
    o.chunkBytes = 48 << 10; // chunks that do not line up with rows
    return o;
}

std::uint64_t seedOf(const std::string& hash)
{
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : hash)
        h = (h ^ c) * 1099511628211ull;
    return h;
}

// The child: writes blocks forever (half from a buffer, half from a producer), removing old ones
// so the file stays small; tells the parent through `ready` once the first block is committed.
[[noreturn]] void writeUntilKilled(const std::filesystem::path& path, int iteration, int ready)
{
    auto db = Database::open(path);
    if (!db)
        _exit(3);
    BlockStore store(*db, options());
    std::vector<std::byte> buffer(kBlockBytes);
    for (int n = 0;; ++n) {
        const std::string hash = "it" + std::to_string(iteration) + "-" + std::to_string(n);
        const BlockKey key{"model", hash, n % 3};
        std::expected<BlockInfo, Error> put;
        if (n % 2 == 0) {
            fillPattern(buffer.data(), buffer.size(), seedOf(hash));
            put = store.put(key, {"", 0, 8192}, buffer);
        } else {
            std::size_t offset = 0;
            put = store.put(key, {"", 0, 8192}, kBlockBytes, [&](std::span<std::byte> out) {
                fillPattern(out.data(), out.size(), seedOf(hash), offset);
                offset += out.size();
                return std::expected<void, Error>{};
            });
        }
        if (!put)
            _exit(4);
        if (n == 0 && write(ready, "r", 1) != 1)
            _exit(5);
        if (n >= 6) {
            const std::string old = "it" + std::to_string(iteration) + "-" + std::to_string(n - 6);
            if (!store.remove(BlockKey{"model", old, (n - 6) % 3}))
                _exit(6);
        }
    }
}

} // namespace

class TestBlockStoreCrash : public QObject {
    Q_OBJECT
private slots:
    void killedWriterLeavesWholeBlocksOrNone()
    {
        QTemporaryDir dir;
        const auto path = libraryIn(dir);
        QUIRE_VERIFY_OK(Database::open(path));
        const auto journal =
            std::filesystem::path(Database::defaultBlockStorePath(path).string() + "-journal");
        std::mt19937 random(12345);
        int midTransaction = 0;
        std::int64_t blocksChecked = 0;
        for (int it = 0; it < kIterations; ++it) {
            int pipeFds[2];
            QCOMPARE(pipe(pipeFds), 0);
            const pid_t child = fork();
            QVERIFY(child >= 0);
            if (child == 0) {
                close(pipeFds[0]);
                writeUntilKilled(path, it, pipeFds[1]);
            }
            close(pipeFds[1]);
            pollfd pfd{pipeFds[0], POLLIN, 0};
            const bool ready = poll(&pfd, 1, 10'000) == 1;
            char byte = 0;
            if (ready)
                QCOMPARE(read(pipeFds[0], &byte, 1), ssize_t(1));
            close(pipeFds[0]);
            // Let it write for a random while, then kill it wherever it is.
            std::this_thread::sleep_for(
                std::chrono::microseconds(std::uniform_int_distribution<>(0, 60'000)(random)));
            kill(child, SIGKILL);
            int status = 0;
            QCOMPARE(waitpid(child, &status, 0), child);
            QVERIFY2(ready, "the child never committed its first block");
            QVERIFY2(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                     ("the child exited by itself with " + std::to_string(WEXITSTATUS(status))).c_str());
            std::error_code ec;
            if (std::filesystem::exists(journal, ec) && std::filesystem::file_size(journal, ec) > 0)
                ++midTransaction; // a hot journal: killed inside a block's transaction

            auto db = Database::open(path); // rolls the hot journal back
            QUIRE_VERIFY_OK(db);
            QCOMPARE(db->integrityCheck().value(), std::string("ok"));
            BlockStore store(*db, options());
            auto blocks = store.blocks();
            QUIRE_VERIFY_OK(blocks);
            QVERIFY(!blocks->empty());
            std::vector<std::byte> out(kBlockBytes), expected(kBlockBytes);
            for (const auto& block : *blocks) {
                QCOMPARE(block.bytes, std::int64_t(kBlockBytes));
                QCOMPARE(block.rows, int(kBlockBytes / kRowBytes));
                auto r = store.read(block.key, out);
                QVERIFY2(r.has_value(), r ? "" : r.error().message.c_str());
                fillPattern(expected.data(), expected.size(), seedOf(block.key.prefixHash));
                QVERIFY(out == expected);
                ++blocksChecked;
            }
            // No payload without its row, no row without its block.
            sqlite3_stmt* st = nullptr;
            sqlite3_prepare_v2(
                db->handle(),
                "SELECT (SELECT count(*) FROM kv.kv_payload) - (SELECT count(*) FROM kv.kv_rows)", -1, &st,
                nullptr);
            QCOMPARE(sqlite3_step(st), SQLITE_ROW);
            QCOMPARE(sqlite3_column_int64(st, 0), sqlite3_int64(0));
            sqlite3_finalize(st);
        }
        qInfo("%d of %d kills landed inside a block's transaction; %lld blocks verified", midTransaction,
              kIterations, static_cast<long long>(blocksChecked));
        QVERIFY2(midTransaction >= 3, "too few kills landed mid-transaction to test anything");
    }
};

QTEST_GUILESS_MAIN(TestBlockStoreCrash)
#include "test_block_store_crash.moc"
