// KV snapshots (app/kv_snapshots.h): exactness across processes, resume after a kill, refusal
// under another fingerprint (model, quantization, weight file, KV dtype), a corrupt row, another
// tokenizer, branching and garbage collection. The tiny Llama 4 (attention chunk 16) runs in
// app_snapshots; the default model (QUIRE_DEFAULT_MODEL) in app_snapshots_default_model (slow).
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <sqlite3.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "quire/app/kv_snapshots.h"
#include "quire/inference/llama4.h"

using namespace quire;
using inference::TokenId;

namespace {

const std::filesystem::path kLlama4 = std::filesystem::path(QUIRE_TEST_DATA_DIR) / "llama4" / "moe_chunked";
const std::filesystem::path kTokenizers = std::filesystem::path(QUIRE_SHARED_DIR) / "testdata" / "tokenizers";
const std::string kVocab = (kTokenizers / "ggml-vocab-gpt-2.gguf").string();

std::filesystem::path defaultModelPath()
{
    const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
    return env && std::filesystem::exists(env) ? std::filesystem::path(env) : std::filesystem::path();
}

[[maybe_unused]] std::shared_ptr<const inference::Model>
tinyLlama4(const std::filesystem::path& dir, const inference::Llama4LoadOptions& o = {})
{
    auto w = inference::loadLlama4ModelWeights(dir, o);
    auto g = inference::GgufFile::open(kVocab);
    if (!w || !g)
        qFatal("cannot load the tiny Llama 4");
    auto tok = inference::Tokenizer::fromGguf(*g);
    return std::make_shared<const inference::Model>(
        *w, std::move(*tok), inference::ChatTemplate::detect("", "llama4"), "tiny", dir);
}

std::unique_ptr<inference::Session> newSession(std::shared_ptr<const inference::Model> m, int block,
                                               std::optional<inference::KvDtype> kvDtype = {})
{
    inference::SessionOptions o;
    o.maxContext = 2048;
    o.threads = 2;
    o.prefillBlock = block;
    o.kvDtype = kvDtype;
    auto s = inference::Session::create(std::move(m), o);
    if (!s)
        qFatal("%s", s.error().message.c_str());
    return std::move(*s);
}

std::vector<TokenId> someTokens(int n, int vocab, unsigned seed)
{
    std::vector<TokenId> t;
    for (int i = 0; i < n; ++i) {
        seed = seed * 1103515245u + 12345u;
        t.push_back(TokenId((seed >> 8) % unsigned(vocab)));
    }
    return t;
}

struct Library {
    QTemporaryDir dir;
    std::filesystem::path path() const { return (dir.path() + "/library.sqlite").toStdString(); }
    std::shared_ptr<storage::WriterThread> writer;
    std::int64_t workspace = 0;
    Library()
    {
        auto w = storage::WriterThread::start(path());
        if (!w)
            qFatal("%s", w.error().message.c_str());
        writer = std::move(*w);
        workspace = *writer->submit([](storage::Database& db) { return db.createWorkspace("ws"); }).get();
    }
};

std::unique_ptr<app::KvSnapshots> openSnapshots(Library& lib, const inference::Session& s, int block)
{
    app::SnapshotOptions o;
    o.denseBlockTokens = block;
    auto k = app::KvSnapshots::open(lib.path(), lib.writer, s, o);
    if (!k)
        qFatal("%s", k.error().message.c_str());
    return std::move(*k);
}

bool contains(const std::vector<std::string>& notes, const char* what)
{
    for (const auto& n : notes)
        if (n.find(what) != std::string::npos)
            return true;
    return false;
}

// ---- the child process ----

struct ChildRun {
    QString out;
    std::vector<float> logits;
    int restored = -1;
};

void writeTokens(const QString& path, std::span<const TokenId> t)
{
    std::ofstream f(path.toStdString(), std::ios::binary);
    f.write(reinterpret_cast<const char*>(t.data()), std::streamsize(t.size_bytes()));
}

QStringList childArgs(const std::filesystem::path& lib, const std::filesystem::path& model, int block,
                      const QString& tokens, const QString& logits, bool tiny)
{
    QStringList a{QString::fromStdString(lib.string()), QString::fromStdString(model.string()),
                  QString::number(block), tokens, logits};
    if (tiny)
        a << "--vocab" << QString::fromStdString(kVocab);
    return a;
}

ChildRun runChild(const std::filesystem::path& lib, const std::filesystem::path& model, int block,
                  std::span<const TokenId> tokens, bool tiny, const QString& tag)
{
    const QString dir = QString::fromStdString(lib.parent_path().string());
    const QString tokFile = dir + "/" + tag + ".tokens", logFile = dir + "/" + tag + ".logits";
    writeTokens(tokFile, tokens);
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QUIRE_SNAPSHOT_CHILD, childArgs(lib, model, block, tokFile, logFile, tiny));
    ChildRun r;
    if (!p.waitForFinished(600000) || p.exitCode() != 0) {
        r.out = p.readAll();
        qWarning("child failed: %s", qPrintable(r.out));
        return r;
    }
    r.out = p.readAll();
    const auto m = QRegularExpression("restored (\\d+)").match(r.out);
    r.restored = m.hasMatch() ? m.captured(1).toInt() : -1;
    QFile f(logFile);
    if (f.open(QIODevice::ReadOnly)) {
        const QByteArray b = f.readAll();
        r.logits.resize(std::size_t(b.size()) / sizeof(float));
        std::memcpy(r.logits.data(), b.data(), std::size_t(b.size()));
    }
    return r;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b)
{
    return !a.empty() && a.size() == b.size() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::int64_t blockCount(const std::filesystem::path& lib)
{
    storage::OpenOptions o;
    o.mode = storage::OpenMode::ReadOnly;
    auto db = storage::Database::open(lib, o);
    if (!db)
        return -1;
    auto t = storage::BlockStore(*db).totals();
    return t ? t->blocks : -1;
}

// (prefill A, new process, restore, prefill B) against (prefill A+B) in a fresh library.
void exactAcrossProcesses(const std::filesystem::path& model, bool tiny, int block, int nA, int nB, int vocab)
{
    QTemporaryDir d1, d2;
    const auto lib1 = std::filesystem::path(d1.path().toStdString()) / "library.sqlite";
    const auto lib2 = std::filesystem::path(d2.path().toStdString()) / "library.sqlite";
    const auto all = someTokens(nA + nB, vocab, 11);
    const std::span<const TokenId> a = std::span(all).first(std::size_t(nA));
    const ChildRun first = runChild(lib1, model, block, a, tiny, "a");
    QCOMPARE(first.restored, 0);
    // The same context again: everything, tail included, comes from the store.
    const ChildRun again = runChild(lib1, model, block, a, tiny, "again");
    QCOMPARE(again.restored, nA);
    const ChildRun resumed = runChild(lib1, model, block, all, tiny, "ab");
    QCOMPARE(resumed.restored, nA / block * block); // whole blocks (a tail only ends a context)
    const ChildRun whole = runChild(lib2, model, block, all, tiny, "whole");
    QCOMPARE(whole.restored, 0);
    QVERIFY2(sameBits(resumed.logits, whole.logits), "restored + B differs from A+B");
    // A+B's prefill freed A's tail block (no snapshot uses it): going back to A restores its whole
    // blocks and computes the tail again.
    const ChildRun back = runChild(lib1, model, block, a, tiny, "back");
    QCOMPARE(back.restored, nA / block * block);
}

// A child killed in the middle of a long prefill resumes from its last complete block.
void killAndResume(const std::filesystem::path& model, bool tiny, int block, int n, int vocab, int delayMs)
{
    QTemporaryDir d1, d2;
    const auto lib1 = std::filesystem::path(d1.path().toStdString()) / "library.sqlite";
    const auto lib2 = std::filesystem::path(d2.path().toStdString()) / "library.sqlite";
    const auto all = someTokens(n, vocab, 5);
    const QString tokFile = d1.path() + "/kill.tokens";
    writeTokens(tokFile, all);
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    auto args = childArgs(lib1, model, block, tokFile, d1.path() + "/kill.logits", tiny);
    args << "--delay-ms" << QString::number(delayMs);
    p.start(QUIRE_SNAPSHOT_CHILD, args);
    QVERIFY(p.waitForStarted());
    const int total = (n + block - 1) / block;
    std::int64_t blocks = 0;
    for (int i = 0; i < 6000 && blocks < 3; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (std::filesystem::exists(lib1))
            blocks = blockCount(lib1);
        QVERIFY2(p.state() == QProcess::Running, qPrintable(p.readAll()));
    }
    ::kill(pid_t(p.processId()), SIGKILL);
    p.waitForFinished();
    const std::int64_t kept = blockCount(lib1);
    QVERIFY(kept >= 3);
    QVERIFY2(kept < total, "the child finished before it was killed");
    const ChildRun resumed = runChild(lib1, model, block, all, tiny, "resume");
    QVERIFY(resumed.restored >= int(kept - 1) * block); // the newest block may still have been writing
    QCOMPARE(resumed.restored % block, 0);
    const ChildRun whole = runChild(lib2, model, block, all, tiny, "uninterrupted");
    QVERIFY2(sameBits(resumed.logits, whole.logits), "resumed prefill differs from an uninterrupted one");
}

} // namespace

class TestSnapshots : public QObject {
    Q_OBJECT
private slots:
#ifndef QUIRE_DEFAULT_MODEL_TESTS
    void llama4ExactAcrossProcesses()
    {
        exactAcrossProcesses(kLlama4, true, 16, 37, 20, 4096);
    }
    void llama4KillAndResume()
    {
        killAndResume(kLlama4, true, 16, 160, 4096, 150);
    }

    void refusedUnderAnotherFingerprint()
    {
        Library lib;
        QTemporaryDir copy;
        const std::filesystem::path dir = copy.path().toStdString();
        for (const char* f : {"config.json", "model.safetensors"})
            std::filesystem::copy_file(kLlama4 / f, dir / f);
        const auto tokens = someTokens(40, 4096, 3);
        {
            auto s = newSession(tinyLlama4(dir), 16);
            auto k = openSnapshots(lib, *s, 16);
            QVERIFY(k->prefill(*s, tokens, {}, nullptr, lib.workspace).has_value());
            QVERIFY(k->copy(lib.workspace, app::kLatestSnapshot, "base").has_value());
        }
        auto expectRefused = [&](std::shared_ptr<const inference::Model> m, const char* field,
                                 std::optional<inference::KvDtype> kvDtype = {}) {
            auto s = newSession(std::move(m), 16, kvDtype);
            auto k = openSnapshots(lib, *s, 16);
            auto r = k->restoreNamed(lib.workspace, "base", *s);
            QVERIFY(!r.has_value());
            QCOMPARE(int(r.error().code), int(app::SnapshotError::Code::Mismatch));
            QVERIFY2(r.error().message.find(field) != std::string::npos, r.error().message.c_str());
            QCOMPARE(s->position(), 0);
            // The automatic path loads nothing and says why.
            auto auto_ = k->restore(*s, tokens, lib.workspace);
            QCOMPARE(auto_.tokens, std::size_t(0));
            QVERIFY2(contains(auto_.notes, field), auto_.notes.empty() ? "no note" : auto_.notes[0].c_str());
        };
        inference::Llama4LoadOptions q;
        q.quantization = *inference::Llama4Quantization::preset("int8");
        expectRefused(tinyLlama4(dir, q), "quantization");
        // The weight file changed (same bytes, new time: identity is size + mtime + samples).
        std::filesystem::last_write_time(dir / "model.safetensors",
                                         std::filesystem::last_write_time(dir / "model.safetensors") +
                                             std::chrono::seconds(5));
        expectRefused(tinyLlama4(dir), "weights");
        if (const auto smol = defaultModelPath(); !smol.empty()) {
            auto m = inference::Model::load(smol);
            QVERIFY(m.has_value());
            expectRefused(*m, "architecture");
        }
        // The snapshot was made with the f32 cache: an f16 session refuses it, naming the KV dtype
        // (the weight file's time set back to when the snapshot was made).
        std::filesystem::last_write_time(dir / "model.safetensors",
                                         std::filesystem::last_write_time(dir / "model.safetensors") -
                                             std::chrono::seconds(5));
        expectRefused(tinyLlama4(dir), "kv_dtype", inference::KvDtype::F16);
        auto s = newSession(tinyLlama4(dir), 16);
        auto layout = *s->kvLayout();
        auto bf16 = layout;
        bf16.dtype = inference::KvDtype::BF16;
        const auto d = inference::modelFingerprint(s->model(), layout)
                           .differences(inference::modelFingerprint(s->model(), bf16));
        QCOMPARE(d.size(), std::size_t(1));
        QVERIFY(d[0].starts_with("kv_dtype"));
    }

    void corruptRowIsRecomputed()
    {
        Library lib;
        auto model = tinyLlama4(kLlama4);
        const auto tokens = someTokens(64, 4096, 9);
        {
            auto s = newSession(model, 16);
            auto k = openSnapshots(lib, *s, 16);
            auto r = k->prefill(*s, std::span(tokens).first(48), {}, nullptr, lib.workspace);
            QVERIFY(r.has_value());
            QCOMPARE(r->blocksWritten, 3);
        }
        // Flip a byte inside the second block's payload (its row keeps its size).
        {
            sqlite3* db = nullptr;
            QCOMPARE(sqlite3_open((lib.dir.path() + "/library.kv.sqlite").toUtf8().constData(), &db),
                     SQLITE_OK);
            const char* sql =
                "UPDATE kv_payload SET data = substr(data, 1, 500) || x'5A5A5A5A' || substr(data, 505) "
                "WHERE id = (SELECT r.payload_id FROM kv_rows r JOIN kv_blocks b ON b.id = r.block_id "
                "WHERE b.token_begin = 16)";
            QCOMPARE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
            QCOMPARE(sqlite3_changes(db), 1);
            sqlite3_close(db);
        }
        auto s = newSession(model, 16);
        auto k = openSnapshots(lib, *s, 16);
        auto r = k->restore(*s, tokens, lib.workspace);
        QCOMPARE(r.tokens, std::size_t(16));
        QVERIFY(contains(r.notes, "checksum"));
        QVERIFY(k->prefill(*s, tokens, {}, nullptr, lib.workspace).has_value());
        auto fresh = newSession(model, 16);
        QVERIFY(fresh->prefill(std::span(tokens).first(48)).has_value());
        QVERIFY(fresh->prefill(std::span(tokens).subspan(48)).has_value());
        QVERIFY(std::memcmp(s->logits().data(), fresh->logits().data(), s->logits().size_bytes()) == 0);
        // The bad block was written again.
        storage::OpenOptions ro;
        ro.mode = storage::OpenMode::ReadOnly;
        auto db = storage::Database::open(lib.path(), ro);
        QVERIFY(db.has_value());
        auto bad = storage::BlockStore(*db).verify();
        QVERIFY(bad.has_value());
        QCOMPARE(bad->size(), std::size_t(0));
    }

    void restoreReportsProgressAndStopsWhenCancelled()
    {
        Library lib;
        auto model = tinyLlama4(kLlama4);
        const auto tokens = someTokens(64, 4096, 5);
        {
            auto s = newSession(model, 16);
            auto k = openSnapshots(lib, *s, 16);
            QVERIFY(k->prefill(*s, tokens, {}, nullptr, lib.workspace).has_value());
        }
        // Progress after each block, in tokens held of the tokens asked for.
        {
            auto s = newSession(model, 16);
            auto k = openSnapshots(lib, *s, 16);
            std::vector<std::pair<std::int64_t, std::int64_t>> seen;
            auto r = k->restore(*s, tokens, lib.workspace,
                                [&](std::int64_t done, std::int64_t total) { seen.emplace_back(done, total); });
            QCOMPARE(r.tokens, std::size_t(64));
            QVERIFY(!r.cancelled);
            QCOMPARE(seen.size(), std::size_t(4));
            for (std::size_t i = 0; i < seen.size(); ++i)
                QCOMPARE(seen[i], std::make_pair(std::int64_t(16 * (i + 1)), std::int64_t(64)));
        }
        // Cancelled after the second block: the session holds two whole blocks, and the next
        // restore imports only the rest (the held prefix is kept), ending with the same logits.
        {
            auto s = newSession(model, 16);
            auto k = openSnapshots(lib, *s, 16);
            std::atomic<bool> cancel{false};
            auto r = k->restore(
                *s, tokens, lib.workspace,
                [&](std::int64_t done, std::int64_t) {
                    if (done >= 32)
                        cancel = true;
                },
                &cancel);
            QVERIFY(r.cancelled);
            QCOMPARE(r.tokens, std::size_t(32));
            QCOMPARE(s->position(), 32);
            auto rest = k->restore(*s, tokens, lib.workspace);
            QVERIFY(!rest.cancelled);
            QCOMPARE(rest.tokens, std::size_t(64));
            QCOMPARE(rest.blocks, 2);
            auto whole = newSession(model, 16);
            QCOMPARE(k->restore(*whole, tokens, lib.workspace).tokens, std::size_t(64));
            const std::vector<inference::TokenId> next{7};
            QVERIFY(s->prefill(next).has_value());
            QVERIFY(whole->prefill(next).has_value());
            QCOMPARE(s->logits().size(), whole->logits().size());
            QVERIFY(std::memcmp(s->logits().data(), whole->logits().data(), s->logits().size_bytes()) == 0);
        }
        // A named restore: progress against the snapshot's length; cancelled says so and keeps
        // what was imported.
        {
            auto s = newSession(model, 16);
            auto k = openSnapshots(lib, *s, 16);
            std::atomic<bool> cancel{false};
            std::int64_t last = 0, total = 0;
            auto r = k->restoreNamed(
                lib.workspace, app::kLatestSnapshot, *s,
                [&](std::int64_t done, std::int64_t t) {
                    last = done;
                    total = t;
                    cancel = done >= 16;
                },
                &cancel);
            QVERIFY(r.has_value());
            QVERIFY(r->cancelled);
            QCOMPARE(total, std::int64_t(64));
            QCOMPARE(last, std::int64_t(16));
            QCOMPARE(s->position(), 16);
            QVERIFY(contains(r->notes, "cancelled at token 16 of 64"));
        }
        // A stop that arrives with the last block's report: the restore is complete, not cancelled, and
        // the persistent cache (what the window's restore runs) reports it restored.
        {
            auto s = newSession(model, 16);
            app::SnapshotOptions o;
            o.denseBlockTokens = 16;
            app::StoredPrefixCache cache(lib.path(), lib.writer, o);
            std::atomic<bool> cancel{false};
            auto r = cache.restoreNamed(
                *s, lib.workspace, app::kLatestSnapshot, [&](std::int64_t done, std::int64_t t) { cancel = done == t; },
                &cancel);
            QVERIFY2(r.has_value(), r ? "" : r.error().c_str());
            QVERIFY(r->starts_with("restored"));
            QCOMPARE(s->position(), 64);
            // Stopped after the first block: a failure that says where it stopped.
            auto s2 = newSession(model, 16);
            cancel = false;
            auto stopped = cache.restoreNamed(
                *s2, lib.workspace, app::kLatestSnapshot, [&](std::int64_t done, std::int64_t) { cancel = done >= 16; },
                &cancel);
            QVERIFY(!stopped.has_value());
            QVERIFY2(stopped.error().find("cancelled at token 16 of 64") != std::string::npos, stopped.error().c_str());
            QCOMPARE(s2->position(), 16);
        }
    }

    void prefillFreesBlocksNoSnapshotUses()
    {
        Library lib;
        auto model = tinyLlama4(kLlama4);
        const auto x = someTokens(64, 4096, 21);
        auto y = std::vector<TokenId>(x.begin(), x.begin() + 32);
        for (TokenId t : someTokens(32, 4096, 22))
            y.push_back(t);
        auto s = newSession(model, 16);
        auto k = openSnapshots(lib, *s, 16);
        auto first = k->prefill(*s, x, {}, nullptr, lib.workspace);
        QVERIFY(first.has_value());
        QCOMPARE(first->freed.blocks, std::int64_t(0));
        QCOMPARE(blockCount(lib.path()), 4);
        // The context changes after 32 tokens (a file edited): "latest" moves to the new chain and
        // the old chain's last two blocks, used by no snapshot, are freed by the prefill.
        QCOMPARE(k->restore(*s, y, lib.workspace).tokens, std::size_t(32));
        auto second = k->prefill(*s, y, {}, nullptr, lib.workspace);
        QVERIFY(second.has_value());
        QCOMPARE(second->blocksWritten, 2);
        QCOMPARE(second->freed.blocks, std::int64_t(2));
        QVERIFY(second->freed.bytes > 0);
        QCOMPARE(blockCount(lib.path()), 4);
        // A named snapshot keeps its chain: going back to x under "keep" frees nothing of it.
        QVERIFY(k->copy(lib.workspace, app::kLatestSnapshot, "keep").has_value());
        QCOMPARE(k->restore(*s, x, lib.workspace).tokens, std::size_t(32));
        auto third = k->prefill(*s, x, {}, nullptr, lib.workspace);
        QVERIFY(third.has_value());
        QCOMPARE(third->freed.blocks, std::int64_t(0)); // y's blocks are kept by "keep"
        QCOMPARE(blockCount(lib.path()), 6);
        auto restored = newSession(model, 16);
        QCOMPARE(k->restoreNamed(lib.workspace, "keep", *restored)->tokens, y.size());
        // Without a workspace (no snapshot moved along) nothing is collected.
        auto s2 = newSession(model, 16);
        auto k2 = openSnapshots(lib, *s2, 16);
        auto loose = k2->prefill(*s2, someTokens(32, 4096, 23), {}, nullptr, 0);
        QVERIFY(loose.has_value());
        QCOMPARE(loose->freed.blocks, std::int64_t(0));
        QCOMPARE(blockCount(lib.path()), 8);
    }

    void branchSharesBlocksAndDeleteCollects()
    {
        Library lib;
        auto model = tinyLlama4(kLlama4);
        const auto a = someTokens(32, 4096, 1);
        auto b1 = a, b2 = a;
        for (TokenId t : someTokens(32, 4096, 2))
            b1.push_back(t);
        for (TokenId t : someTokens(16, 4096, 3))
            b2.push_back(t);
        auto s1 = newSession(model, 16);
        auto k = openSnapshots(lib, *s1, 16);
        QVERIFY(k->prefill(*s1, a, {}, nullptr, lib.workspace).has_value());
        QVERIFY(k->copy(lib.workspace, app::kLatestSnapshot, "base").has_value());
        QVERIFY(k->copy(lib.workspace, "base", "alt").has_value());
        // Two sessions from one snapshot, each going its own way.
        auto s2 = newSession(model, 16);
        auto r1 = k->restoreNamed(lib.workspace, "base", *s1);
        auto r2 = k->restoreNamed(lib.workspace, "alt", *s2);
        QVERIFY(r1 && r2);
        QCOMPARE(r2->tokens, std::size_t(32));
        QVERIFY(std::ranges::equal(s2->tokens(), a));
        QVERIFY(k->prefill(*s1, b1, {}, nullptr, lib.workspace, "one").has_value());
        QVERIFY(k->prefill(*s2, b2, {}, nullptr, lib.workspace, "two").has_value());
        QCOMPARE(blockCount(lib.path()), 2 + 2 + 1); // the shared prefix is stored once
        auto list = k->list(lib.workspace);
        QVERIFY(list.has_value());
        QCOMPARE(list->size(), std::size_t(5)); // alt, base, latest, one, two
        auto gc = k->remove(lib.workspace, "one");
        QVERIFY(gc.has_value());
        QCOMPARE(gc->blocks, 2); // b1's own blocks; the prefix stays for the others
        QCOMPARE(blockCount(lib.path()), 3);
        auto s3 = newSession(model, 16);
        auto r3 = k->restoreNamed(lib.workspace, "two", *s3);
        QVERIFY(r3.has_value());
        QCOMPARE(r3->tokens, b2.size());
    }
#else
    void defaultModelExactAcrossProcesses()
    {
        if (defaultModelPath().empty())
            QSKIP("QUIRE_DEFAULT_MODEL not set");
        exactAcrossProcesses(defaultModelPath(), false, 128, 300, 100, 49152);
    }
    void defaultModelKillAndResume()
    {
        if (defaultModelPath().empty())
            QSKIP("QUIRE_DEFAULT_MODEL not set");
        killAndResume(defaultModelPath(), false, 128, 1024, 49152, 400);
    }
    void differentTokenizerRecomputes()
    {
        if (defaultModelPath().empty())
            QSKIP("QUIRE_DEFAULT_MODEL not set");
        Library lib;
        auto smol = inference::Model::load(defaultModelPath());
        QVERIFY(smol.has_value());
        const std::string text = "The quick brown fox jumps over the lazy dog. " + std::string(40, 'x') +
                                 " Snapshots keep the prefix of a long context for later questions.";
        const auto ids = (*smol)->tokenizer().encode(text);
        {
            auto s = newSession(*smol, 16);
            auto k = openSnapshots(lib, *s, 16);
            QVERIFY(k->prefill(*s, ids, {}, nullptr, lib.workspace).has_value());
            auto again = newSession(*smol, 16);
            QCOMPARE(k->restore(*again, ids, lib.workspace).tokens, ids.size()); // the same tokenizer hits
        }
        auto g = inference::GgufFile::open(kTokenizers / "ggml-vocab-llama-spm.gguf");
        QVERIFY(g.has_value());
        auto spm = inference::Tokenizer::fromGguf(*g);
        QVERIFY(spm.has_value());
        auto other = std::make_shared<const inference::Model>(
            (*smol)->weights(), std::move(*spm), (*smol)->chatTemplate(), "other", (*smol)->path());
        const auto otherIds = other->tokenizer().encode(text);
        QVERIFY(otherIds != ids);
        auto s = newSession(other, 16);
        auto k = openSnapshots(lib, *s, 16);
        auto r = k->restore(*s, otherIds, lib.workspace);
        QCOMPARE(r.tokens, std::size_t(0));
        QVERIFY2(contains(r.notes, "tokenizer"), r.notes.empty() ? "no note" : r.notes[0].c_str());
    }
#endif
};

QTEST_GUILESS_MAIN(TestSnapshots)
#include "test_snapshots.moc"
