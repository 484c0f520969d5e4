// BENCH snapshot_restore: for a long context with the default model on the CPU backend, the time
// to restore its KV from the block store (read + checksum + import into a new session) against
// the time to prefill it from scratch, in the same run. The prefill is the checkpointing one
// (KvSnapshots::prefill); its baseline figure excludes the engine thread's checkpoint work
// (export copies and waits for the writer), which is printed separately, so the ratio is not
// flattered by it. Restore is measured twice: with the block store file in the page cache, and
// after asking the kernel to drop its cached pages (posix_fadvise; a disk read when it obeys).
// Also prints MB/s of export, of the writer, and of import.
//
// Tokens: QUIRE_BENCH_SNAPSHOT_TOKENS (default 16384); model: QUIRE_DEFAULT_MODEL.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "bench_util.h"
#include "quire/app/kv_snapshots.h"

using namespace quire;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0)
{
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void dropCache(const std::filesystem::path& file)
{
    const int fd = ::open(file.c_str(), O_RDONLY);
    if (fd < 0)
        return;
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
}

} // namespace

int main()
{
    const char* modelEnv = std::getenv("QUIRE_DEFAULT_MODEL");
    if (!modelEnv || !std::filesystem::exists(modelEnv)) {
        std::printf("SKIP: QUIRE_DEFAULT_MODEL not set\n");
        return 0;
    }
    const char* nEnv = std::getenv("QUIRE_BENCH_SNAPSHOT_TOKENS");
    const int n = nEnv ? std::atoi(nEnv) : 16384;
    auto model = inference::Model::load(modelEnv);
    if (!model)
        return std::printf("model: %s\n", model.error().message.c_str()), 1;
    std::vector<inference::TokenId> tokens;
    // Real text, repeated to length (ids need not be random for timing; text keeps it realistic).
    const std::string text =
        "Quire keeps the KV cache of a long context in SQLite blocks, so a prefill that took an "
        "hour can be resumed in seconds tomorrow, for new questions about the same documents. ";
    while (int(tokens.size()) < n) {
        const auto ids = (*model)->tokenizer().encode(text + std::to_string(tokens.size()));
        tokens.insert(tokens.end(), ids.begin(), ids.end());
    }
    tokens.resize(std::size_t(n));

    inference::SessionOptions so;
    so.maxContext = n + 16;
    so.prefillBlock = 256;
    auto makeSession = [&] {
        auto s = inference::Session::create(*model, so);
        if (!s)
            std::exit((std::printf("session: %s\n", s.error().message.c_str()), 1));
        return std::move(*s);
    };
    bench::TempDir dir;
    const auto library = dir.path() / "library.sqlite";
    auto writer = storage::WriterThread::start(library);
    if (!writer)
        return std::printf("library: %s\n", writer.error().message.c_str()), 1;
    std::shared_ptr<storage::WriterThread> w(std::move(*writer));
    app::SnapshotOptions opt; // 256-token blocks
    const std::int64_t workspace =
        *w->submit([](storage::Database& db) { return db.createWorkspace("bench"); }).get();

    auto s1 = makeSession();
    auto k1 = app::KvSnapshots::open(library, w, *s1, opt);
    if (!k1)
        return std::printf("snapshots: %s\n", k1.error().message.c_str()), 1;
    std::printf("prefilling %d tokens of %s in %d-token blocks...\n", n, (*model)->name().c_str(),
                (*k1)->blockTokens());
    std::fflush(stdout);
    auto t0 = Clock::now();
    auto pre = (*k1)->prefill(*s1, tokens, {}, nullptr, workspace);
    const double prefillAll = since(t0);
    if (!pre)
        return std::printf("prefill: %s\n", pre.error().message.c_str()), 1;
    const double checkpoint = pre->exportSeconds + pre->waitSeconds;
    const double prefill = prefillAll - checkpoint;
    const double mb = double(pre->bytesWritten) / 1e6;
    std::printf("prefill %.2f s (%.1f tokens/s) + checkpoint work on the engine thread %.3f s (%.2f%%: "
                "export %.3f s, "
                "waiting for the writer %.3f s); %d blocks, %.1f MB\n",
                prefill, n / prefill, checkpoint, 100.0 * checkpoint / prefillAll, pre->exportSeconds,
                pre->waitSeconds, pre->blocksWritten, mb);
    std::printf("export: %.0f MB/s (copy out of the runner)\n", mb / std::max(1e-9, pre->exportSeconds));

    // The writer's own rate: the same blocks written again into a second store, timed alone.
    {
        storage::OpenOptions ro;
        ro.mode = storage::OpenMode::ReadOnly;
        auto db = storage::Database::open(library, ro);
        storage::BlockStore src(*db);
        auto blocks = src.blocks();
        bench::TempDir dir2;
        auto db2 = storage::Database::open(dir2.path() / "copy.sqlite");
        storage::BlockStore dst(*db2);
        std::vector<std::byte> buf;
        double writeSeconds = 0;
        std::int64_t bytes = 0;
        for (const auto& b : *blocks) {
            buf.resize(std::size_t(b.bytes));
            (void)src.read(b.key, buf);
            const auto t = Clock::now();
            (void)dst.put(b.key, b.placement, buf);
            writeSeconds += since(t);
            bytes += b.bytes;
        }
        std::printf("write: %.0f MB/s (BlockStore::put, one transaction per block)\n",
                    double(bytes) / 1e6 / std::max(1e-9, writeSeconds));
    }

    auto restoreOnce = [&](const char* what) {
        auto s2 = makeSession();
        auto k2 = app::KvSnapshots::open(library, w, *s2, opt);
        const auto t = Clock::now();
        auto r = (*k2)->restore(*s2, tokens);
        const double seconds = since(t);
        std::printf("restore (%s): %zu tokens, %d blocks, %.1f MB in %.3f s: import %.0f MB/s\n", what,
                    r.tokens, r.blocks, double(r.bytes) / 1e6, seconds,
                    double(r.bytes) / 1e6 / std::max(1e-9, seconds));
        // The restored session continues exactly like the original.
        const inference::TokenId next[1] = {tokens[0]};
        (void)s2->prefill(next);
        return std::pair{seconds, std::move(s2)};
    };
    const inference::TokenId next[1] = {tokens[0]};
    (void)s1->prefill(next);
    auto [warm, sw] = restoreOnce("page cache warm");
    dropCache(storage::Database::defaultBlockStorePath(library));
    auto [cold, sc] = restoreOnce("page cache dropped");
    const bool same = std::memcmp(sw->logits().data(), s1->logits().data(), s1->logits().size_bytes()) == 0 &&
                      std::memcmp(sc->logits().data(), s1->logits().data(), s1->logits().size_bytes()) == 0;
    std::printf("check: next-token logits after restore %s those of the prefilled session\n",
                same ? "equal (bit for bit)" : "DIFFER from");
    std::printf(
        "BENCH snapshot_restore ours=%.3f s baseline=%.3f s (prefill of the same %d tokens from scratch, "
        "CPU backend, %s) ratio=%.4f\n",
        cold, prefill, n, (*model)->name().c_str(), cold / prefill);
    std::printf(
        "BENCH snapshot_restore_warm ours=%.3f s baseline=%.3f s (the same, block store in the page cache) "
        "ratio=%.4f\n",
        warm, prefill, warm / prefill);
    return same ? 0 : 1;
}
