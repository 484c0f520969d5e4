// KV blocks (kv_blocks.h): export and import through a Session on the CPU runners, bit for bit,
// with the tiny Llama 4 (attention chunk 16: aligned blocks and mid-chunk tails) and, when
// QUIRE_DEFAULT_MODEL is set, the default dense model; the block format's checks; fingerprints.
#include <QtTest>

#include <cstring>

#include "quire/inference/engine.h"
#include "quire/inference/kv_blocks.h"
#include "quire/inference/llama4.h"

using namespace quire::inference;

namespace {

const std::filesystem::path kLlama4 = std::filesystem::path(QUIRE_TEST_DATA_DIR) / "llama4" / "moe_chunked";
const std::filesystem::path kVocab =
    std::filesystem::path(QUIRE_SHARED_DIR) / "testdata" / "tokenizers" / "ggml-vocab-gpt-2.gguf";

std::shared_ptr<const Model> tinyLlama4(const Llama4LoadOptions& options = {})
{
    auto w = loadLlama4ModelWeights(kLlama4, options);
    if (!w)
        qFatal("%s", w.error().message.c_str());
    auto gguf = GgufFile::open(kVocab);
    if (!gguf)
        qFatal("%s", gguf.error().message.c_str());
    auto tok = Tokenizer::fromGguf(*gguf);
    if (!tok)
        qFatal("%s", tok.error().message.c_str());
    return std::make_shared<const Model>(*w, std::move(*tok), ChatTemplate::detect("", "llama4"),
                                         "tiny-llama4", kLlama4);
}

std::shared_ptr<const Model> defaultModel()
{
    const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
    if (!env || !std::filesystem::exists(env))
        return nullptr;
    auto m = Model::load(env);
    return m ? *m : nullptr;
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

std::unique_ptr<Session> session(std::shared_ptr<const Model> m, const char* backend, int block,
                                 int ctx = 1024)
{
    SessionOptions o;
    o.backend = backend;
    o.prefillBlock = block;
    o.maxContext = ctx;
    o.threads = 2;
    auto s = Session::create(std::move(m), o);
    if (!s)
        qFatal("%s", s.error().message.c_str());
    return std::move(*s);
}

bool sameBits(std::span<const float> a, std::span<const float> b)
{
    return a.size() == b.size() && !a.empty() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Prefills A in blocks of `block`, exports them (the last may end mid-chunk), imports them into
// a new session, prefills B there; compares with A+B prefilled in one session.
void roundTrip(const std::shared_ptr<const Model>& m, const char* backend, int block, int nA, int nB)
{
    const auto tokens = someTokens(nA + nB, m->config().vocabSize, 7);
    const std::span<const TokenId> all(tokens), a = all.first(std::size_t(nA)),
                                                b = all.subspan(std::size_t(nA));
    auto s1 = session(m, backend, block);
    QVERIFY(s1->prefill(a).has_value());
    std::vector<std::vector<std::byte>> blocks;
    for (int begin = 0; begin < nA; begin += block) {
        auto blk = s1->exportBlock(begin, std::min(nA, begin + block));
        QVERIFY2(blk.has_value(), blk ? "" : blk.error().message.c_str());
        blocks.push_back(std::move(*blk));
    }
    auto s2 = session(m, backend, block);
    for (const auto& blk : blocks) {
        auto ok = s2->importBlock(blk);
        QVERIFY2(ok.has_value(), ok ? "" : ok.error().message.c_str());
    }
    QCOMPARE(s2->position(), nA);
    QVERIFY(std::ranges::equal(s2->tokens(), a));
    QVERIFY(s2->prefill(b).has_value());

    // The imported state is the exporting session's state: prefilling B after it gives what
    // prefilling A then B in one session gives. (The Llama 4 fast path is not invariant to how a
    // chunk is split into steps, so the snapshot store restores a mid-chunk tail only when it ends
    // the requested context; see app/kv_snapshots.h.)
    auto same = session(m, backend, block);
    QVERIFY(same->prefill(a).has_value());
    QVERIFY(same->prefill(b).has_value());
    QVERIFY2(sameBits(s2->logits(), same->logits()), "restore + B differs from A then B");
    if (nA % block == 0) { // aligned: also equal to A+B in one call
        auto whole = session(m, backend, block);
        QVERIFY(whole->prefill(all).has_value());
        QVERIFY2(sameBits(s2->logits(), whole->logits()), "restore + B differs from A+B");
    }
    // A block whose position does not follow the session's is refused.
    auto s3 = session(m, backend, block);
    if (blocks.size() > 1) {
        auto bad = s3->importBlock(blocks[1]);
        QVERIFY(!bad.has_value());
        QCOMPARE(s3->position(), 0);
    }
}

} // namespace

class TestKvBlocks : public QObject {
    Q_OBJECT
private slots:
    void llama4ChunkAlignedAndMidChunk_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<int>("nA");
        QTest::newRow("cpu, tail mid-chunk") << "cpu" << 37;
        QTest::newRow("cpu, chunk-aligned") << "cpu" << 32;
        QTest::newRow("reference, tail mid-chunk") << "cpu-reference" << 21;
    }
    void llama4ChunkAlignedAndMidChunk()
    {
        QFETCH(QString, backend);
        QFETCH(int, nA);
        roundTrip(tinyLlama4(), backend.toUtf8().constData(), 16, nA, 20);
    }

    void denseDefaultModel()
    {
        auto m = defaultModel();
        if (!m)
            QSKIP("QUIRE_DEFAULT_MODEL not set");
        roundTrip(m, "cpu", 64, 150, 40);
    }

    void blockHeaderAndSize()
    {
        auto m = tinyLlama4();
        auto s = session(m, "cpu", 16);
        QVERIFY(s->prefill(someTokens(21, 4096, 3)).has_value());
        auto layout = s->kvLayout();
        QVERIFY(layout.has_value());
        QCOMPARE(layout->chunkSize, 16);
        auto tail = s->exportBlock(16, 21);
        QVERIFY(tail.has_value());
        QCOMPARE(tail->size(), kvBlockBytes(*layout, 16, 21));
        auto h = parseKvBlockHeader(*tail);
        QVERIFY(h.has_value());
        QCOMPARE(h->tokenBegin, 16);
        QCOMPARE(h->chunkedBegin, 16); // the tail stores its chunked layers
        auto aligned = s->exportBlock(0, 16);
        QVERIFY(aligned.has_value());
        QCOMPARE(parseKvBlockHeader(*aligned)->chunkedBegin, 16); // nothing from chunked layers
        // A block that ends inside a chunk before the session's position cannot be exported.
        QVERIFY(!s->exportBlock(0, 8).has_value());
        auto broken = *tail;
        broken[4] = std::byte{99}; // format version
        QVERIFY(!parseKvBlockHeader(broken).has_value());
    }

    void fingerprintNamesTheField()
    {
        auto m = tinyLlama4();
        auto layout = session(m, "cpu", 16)->kvLayout();
        QVERIFY(layout.has_value());
        const ModelFingerprint f = modelFingerprint(*m, *layout);
        QCOMPARE(ModelFingerprint::parse(f.text()).key(), f.key());
        KvLayout half = *layout;
        half.dtype = KvDtype::BF16;
        const auto d = f.differences(modelFingerprint(*m, half));
        QCOMPARE(d.size(), std::size_t(1));
        QVERIFY(QString::fromStdString(d[0]).startsWith("kv_dtype"));
        Llama4LoadOptions q;
        q.quantization = *Llama4Quantization::preset("int8");
        const auto dq = f.differences(modelFingerprint(*tinyLlama4(q), *layout));
        QVERIFY(!dq.empty());
        QVERIFY(QString::fromStdString(dq[0]).startsWith("quantization"));
        // Prefix hashes chain over the fingerprint and every earlier token.
        const std::vector<TokenId> t = {1, 2, 3};
        QVERIFY(chainPrefixHash("", t, f.key()) != chainPrefixHash("", t, "other"));
        QVERIFY(chainPrefixHash("x", t, f.key()) != chainPrefixHash("", t, f.key()));
        QCOMPARE(chainPrefixHash("", t, f.key()).size(), std::size_t(16));
    }
};

QTEST_GUILESS_MAIN(TestKvBlocks)
#include "test_kv_blocks.moc"
