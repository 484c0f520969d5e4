#include <QTemporaryDir>
#include <QTest>

#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "inference/test_gguf_builder.h"
#include "quire/inference/gguf.h"

using namespace quire::inference;
using quire::test::GgufBuilder;

namespace {

std::string writeFile(const QTemporaryDir& dir, const std::string& name,
                      const std::vector<std::uint8_t>& bytes)
{
    const std::string path = dir.path().toStdString() + "/" + name;
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
}

// One tensor of each of two types plus a string array: the base every malformed case edits.
GgufBuilder smallModel()
{
    GgufBuilder b;
    b.kvString("general.architecture", "llama");
    b.kvStringArray("tokenizer.ggml.tokens", {"a", "b", "<s>"});
    std::vector<std::uint8_t> f32(4 * 8);
    for (std::size_t i = 0; i < 8; ++i) {
        const float v = static_cast<float>(i) * 0.5f;
        std::memcpy(f32.data() + 4 * i, &v, 4);
    }
    b.tensor("w.f32", {4, 2}, 0, f32);
    b.tensor("w.q8", {32}, 8, std::vector<std::uint8_t>(34, 7));
    return b;
}

// Where `needle` first occurs in `hay` (to find a field to corrupt).
std::size_t findBytes(const std::vector<std::uint8_t>& hay, std::string_view needle)
{
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
        if (std::memcmp(hay.data() + i, needle.data(), needle.size()) == 0)
            return i;
    return std::string::npos;
}

void expectError(const std::string& path, const std::string& fragment)
{
    auto f = GgufFile::open(path);
    QVERIFY2(!f, ("expected an error containing: " + fragment).c_str());
    QVERIFY2(f.error().message.find(fragment) != std::string::npos, f.error().message.c_str());
    QVERIFY2(f.error().message.find(std::filesystem::path(path).filename().string()) != std::string::npos,
             "the message names the file");
}

} // namespace

class TestGguf : public QObject {
    Q_OBJECT
private slots:
    void readsEveryMetadataType()
    {
        GgufBuilder b;
        auto& kv = b.kvBytes();
        b.key("u8", GgufBuilder::U8), kv.push_back(200);
        b.key("i8", GgufBuilder::I8), kv.push_back(0x80);
        b.key("u16", GgufBuilder::U16), kv.insert(kv.end(), {0x34, 0x12});
        b.key("i16", GgufBuilder::I16), kv.insert(kv.end(), {0xfe, 0xff});
        b.kvU32("u32", 4000000000u);
        b.key("i32", GgufBuilder::I32), GgufBuilder::putU32(kv, static_cast<std::uint32_t>(-7));
        b.key("f32", GgufBuilder::F32), GgufBuilder::putU32(kv, std::bit_cast<std::uint32_t>(1.5f));
        b.key("bool", GgufBuilder::Bool), kv.push_back(1);
        b.kvString("str", "h\xc3\xa9llo");
        b.key("u64", GgufBuilder::U64), GgufBuilder::putU64(kv, 0xffffffffffffffffull);
        b.key("i64", GgufBuilder::I64), GgufBuilder::putU64(kv, static_cast<std::uint64_t>(-1234567890123ll));
        b.key("f64", GgufBuilder::F64), GgufBuilder::putU64(kv, std::bit_cast<std::uint64_t>(-2.25));
        // An array of two arrays of int32: [[1, 2], [3]].
        b.key("nested", GgufBuilder::Array);
        GgufBuilder::putU32(kv, GgufBuilder::Array);
        GgufBuilder::putU64(kv, 2);
        GgufBuilder::putU32(kv, GgufBuilder::I32), GgufBuilder::putU64(kv, 2);
        GgufBuilder::putU32(kv, 1), GgufBuilder::putU32(kv, 2);
        GgufBuilder::putU32(kv, GgufBuilder::I32), GgufBuilder::putU64(kv, 1);
        GgufBuilder::putU32(kv, 3);
        b.key("floats", GgufBuilder::Array);
        GgufBuilder::putU32(kv, GgufBuilder::F32), GgufBuilder::putU64(kv, 2);
        GgufBuilder::putU32(kv, std::bit_cast<std::uint32_t>(0.25f));
        GgufBuilder::putU32(kv, std::bit_cast<std::uint32_t>(-8.0f));
        b.kvStringArray("strs", {"x", "", "yz"});

        QTemporaryDir dir;
        auto f = GgufFile::open(writeFile(dir, "types.gguf", b.build()));
        QVERIFY2(f, f ? "" : f.error().message.c_str());
        QCOMPARE(f->version(), 3u);
        QCOMPARE(f->metadata().size(), std::size_t(15));
        QCOMPARE(*f->getInt("u8"), 200);
        QCOMPARE(f->find("u8")->type, 0u);
        QCOMPARE(*f->getInt("i8"), -128);
        QCOMPARE(*f->getInt("u16"), 0x1234);
        QCOMPARE(*f->getInt("i16"), -2);
        QCOMPARE(*f->getInt("u32"), 4000000000ll);
        QCOMPARE(*f->getInt("i32"), -7);
        QCOMPARE(*f->getFloat("f32"), 1.5);
        QVERIFY(!f->getInt("f32"));
        QCOMPARE(std::get<bool>(f->find("bool")->value), true);
        QCOMPARE(*f->getString("str"), std::string("h\xc3\xa9llo"));
        QVERIFY(!f->getInt("u64")); // does not fit int64
        QCOMPARE(std::get<std::uint64_t>(f->find("u64")->value), 0xffffffffffffffffull);
        QCOMPARE(*f->getInt("i64"), -1234567890123ll);
        QCOMPARE(*f->getFloat("f64"), -2.25);
        const auto* nested = f->find("nested")->asArray();
        QVERIFY(nested);
        QCOMPARE(nested->size(), std::size_t(2));
        QCOMPARE((*nested)[0].asArray()->size(), std::size_t(2));
        QCOMPARE(*(*nested)[0].asArray()->at(1).asInt(), 2);
        QCOMPARE(*(*nested)[1].asArray()->at(0).asInt(), 3);
        QCOMPARE(f->getFloatArray("floats"), (std::vector<double>{0.25, -8.0}));
        QCOMPARE(f->getStringArray("strs"), (std::vector<std::string>{"x", "", "yz"}));
        QVERIFY(f->getStringArray("floats").empty());
        QVERIFY(!f->getString("absent"));
        QVERIFY(f->tensors().empty());
    }

    void locatesTensorDataWithCustomAlignment()
    {
        GgufBuilder c;
        c.alignment = 64;
        c.kvU32("general.alignment", 64);
        c.tensor("a", {3}, 0, {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0});
        c.tensor("b", {2, 2}, 1, {9, 9, 8, 8, 7, 7, 6, 6});
        QTemporaryDir dir;
        auto f = GgufFile::open(writeFile(dir, "aligned.gguf", c.build()));
        QVERIFY2(f, f ? "" : f.error().message.c_str());
        QCOMPARE(f->alignment(), std::size_t(64));
        QCOMPARE(f->dataOffset() % 64, std::size_t(0));
        const auto* b2 = f->tensor("b");
        QVERIFY(b2);
        QCOMPARE(b2->offset, std::uint64_t(64));
        QCOMPARE(b2->type, GgmlType::F16);
        QCOMPARE(b2->elements(), 4);
        QCOMPARE(b2->data.size(), std::size_t(8));
        QCOMPARE(static_cast<int>(b2->data[6]), 6);
        QCOMPARE(b2->data.data(), f->file().bytes().data() + f->dataOffset() + 64);
        QCOMPARE(static_cast<int>(f->tensor("a")->data[8]), 3);
        QVERIFY(!f->tensor("c"));
    }

    void readsTheSharedVocabularies()
    {
        const std::filesystem::path dir = QUIRE_SHARED_DIR "/testdata/tokenizers";
        if (!std::filesystem::exists(dir))
            QSKIP("shared test data not present");
        int seen = 0;
        for (const char* name : {"llama-bpe", "gpt-2", "llama-spm", "phi-3", "deepseek-coder"}) {
            auto f = GgufFile::open(dir / ("ggml-vocab-" + std::string(name) + ".gguf"));
            QVERIFY2(f, f ? "" : f.error().message.c_str());
            QVERIFY(f->version() >= 2);
            const auto tokens = f->getStringArray("tokenizer.ggml.tokens");
            QVERIFY(tokens.size() > 30000);
            QVERIFY(f->getString("tokenizer.ggml.model"));
            QCOMPARE(f->getIntArray("tokenizer.ggml.token_type").size(), tokens.size());
            ++seen;
        }
        QCOMPARE(seen, 5);
        auto bpe = GgufFile::open(dir / "ggml-vocab-llama-bpe.gguf");
        QCOMPARE(bpe->getStringArray("tokenizer.ggml.tokens").size(), std::size_t(128256));
        QCOMPARE(*bpe->getString("tokenizer.ggml.model"), std::string("gpt2"));
        QCOMPARE(*bpe->getString("tokenizer.ggml.pre"), std::string("llama-bpe"));
        QVERIFY(!bpe->getStringArray("tokenizer.ggml.merges").empty());
        auto spm = GgufFile::open(dir / "ggml-vocab-llama-spm.gguf");
        QCOMPARE(*spm->getString("tokenizer.ggml.model"), std::string("llama"));
        QCOMPARE(spm->getFloatArray("tokenizer.ggml.scores").size(), std::size_t(32000));
    }

    void readsTheDefaultModel()
    {
        const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
        if (!env || !std::filesystem::exists(env))
            QSKIP("QUIRE_DEFAULT_MODEL not set or absent");
        auto f = GgufFile::open(env);
        QVERIFY2(f, f ? "" : f.error().message.c_str());
        QCOMPARE(*f->getString("general.architecture"), std::string("llama"));
        const auto layers = f->getInt("llama.block_count");
        QVERIFY(layers && *layers == 30);
        const auto* emb = f->tensor("token_embd.weight");
        QVERIFY(emb);
        QCOMPARE(emb->shape.size(), std::size_t(2));
        QCOMPARE(emb->shape[0], *f->getInt("llama.embedding_length"));
        QCOMPARE(emb->shape[1], std::int64_t(f->getStringArray("tokenizer.ggml.tokens").size()));
        std::size_t bytes = 0;
        for (const auto& t : f->tensors()) {
            const auto layout = blockLayout(t.type);
            QVERIFY(layout);
            QCOMPARE(t.data.size(), static_cast<std::size_t>(t.elements()) / layout->first * layout->second);
            bytes += t.data.size();
        }
        QVERIFY(f->tensors().size() > 200);
        QVERIFY(bytes > 50'000'000 && bytes <= f->file().size());
        QVERIFY(f->tensor("blk.0.attn_q.weight"));
    }

    void rejectsWrongMagicAndVersions()
    {
        QTemporaryDir dir;
        auto bytes = smallModel().build();
        auto bad = bytes;
        std::memcpy(bad.data(), "GGML", 4);
        expectError(writeFile(dir, "magic.gguf", bad), "not a GGUF file");
        expectError(writeFile(dir, "short.gguf", {'G', 'G'}), "too short");
        expectError(writeFile(dir, "empty.gguf", {}), "too short");
        bad = bytes;
        bad[4] = 1;
        expectError(writeFile(dir, "v1.gguf", bad), "version 1");
        bad[4] = 9;
        expectError(writeFile(dir, "v9.gguf", bad), "unsupported GGUF version 9");
        bad[4] = 0, bad[7] = 3;
        expectError(writeFile(dir, "be.gguf", bad), "big-endian");
    }

    void rejectsEveryTruncation()
    {
        QTemporaryDir dir;
        const auto bytes = smallModel().build();
        QVERIFY(GgufFile::open(writeFile(dir, "whole.gguf", bytes)).has_value());
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
            auto f = GgufFile::open(writeFile(dir, "cut.gguf", cut));
            QVERIFY2(!f, ("a file cut at " + std::to_string(n) + " bytes was accepted").c_str());
            QCOMPARE(f.error().code, ErrorCode::Format);
        }
        std::vector<std::uint8_t> cut(bytes.begin(), bytes.end() - 1);
        expectError(writeFile(dir, "tail.gguf", cut), "w.q8");
    }

    void rejectsAbsurdCountsAndLengths()
    {
        QTemporaryDir dir;
        const auto bytes = smallModel().build();
        auto bad = bytes;
        std::uint64_t huge = 0x7fffffffffffffffull;
        std::memcpy(bad.data() + 8, &huge, 8);
        expectError(writeFile(dir, "tensors.gguf", bad), "tensors, more than");
        bad = bytes;
        std::memcpy(bad.data() + 16, &huge, 8);
        expectError(writeFile(dir, "kvs.gguf", bad), "metadata entries, more than");
        bad = bytes;
        std::memcpy(bad.data() + 24, &huge, 8); // the first key's length
        expectError(writeFile(dir, "keylen.gguf", bad), "more than the limit");
        // The token array's count.
        bad = bytes;
        const auto arr = findBytes(bad, "tokenizer.ggml.tokens") + 21 + 4 + 4;
        std::memcpy(bad.data() + arr, &huge, 8);
        expectError(writeFile(dir, "arraylen.gguf", bad), "'tokenizer.ggml.tokens' claims");
        // A string inside the array claiming more bytes than the file has.
        bad = bytes;
        std::uint64_t big = 1'000'000;
        std::memcpy(bad.data() + arr + 8, &big, 8);
        expectError(writeFile(dir, "strlen.gguf", bad), "claims 1000000 bytes");
    }

    void rejectsBadTensorInfos()
    {
        QTemporaryDir dir;
        const auto bytes = smallModel().build();
        const auto info = findBytes(bytes, "w.f32") + 5; // n_dims, dims[2], type, offset
        auto edit = [&](std::size_t at, std::uint64_t v, std::size_t width) {
            auto b = bytes;
            std::memcpy(b.data() + info + at, &v, width);
            return b;
        };
        expectError(writeFile(dir, "ndims.gguf", edit(0, 7, 4)), "has 7 dimensions");
        expectError(writeFile(dir, "ndims0.gguf", edit(0, 0, 4)), "has 0 dimensions");
        expectError(writeFile(dir, "negdim.gguf", edit(4, 0x8000000000000000ull, 8)), "absurd dimension");
        expectError(writeFile(dir, "huge.gguf", edit(4, 0x100000000ull, 8)), "'w.f32' needs bytes");
        expectError(writeFile(dir, "overflow.gguf", edit(4, 0x4000000000000000ull, 8)), "overflows");
        {
            auto b = edit(4, 0x4000000000000000ull, 8);
            std::uint64_t d1 = 8;
            std::memcpy(b.data() + info + 12, &d1, 8);
            expectError(writeFile(dir, "mul.gguf", b), "overflows");
        }
        expectError(writeFile(dir, "type.gguf", edit(20, 99, 4)), "ggml type 99");
        expectError(writeFile(dir, "past.gguf", edit(24, 1u << 20, 8)), "needs bytes");
        expectError(writeFile(dir, "misaligned.gguf", edit(24, 4, 8)), "not a multiple of the alignment");
        {
            GgufBuilder b;
            b.tensor("q", {33}, 8, std::vector<std::uint8_t>(68, 0));
            expectError(writeFile(dir, "block.gguf", b.build()), "not a multiple of the block size 32");
        }
        {
            GgufBuilder b;
            b.tensor("same", {1}, 0, {0, 0, 0, 0});
            b.tensor("same", {1}, 0, {0, 0, 0, 0});
            expectError(writeFile(dir, "dup.gguf", b.build()), "'same' appears twice");
        }
    }

    void rejectsBadMetadata()
    {
        QTemporaryDir dir;
        {
            GgufBuilder b;
            b.key("k", 13), b.kvBytes().push_back(0);
            expectError(writeFile(dir, "vtype.gguf", b.build()), "unknown value type 13");
        }
        {
            GgufBuilder b;
            b.kvU32("k", 1);
            b.kvU32("k", 2);
            expectError(writeFile(dir, "dupkey.gguf", b.build()), "appears twice");
        }
        {
            GgufBuilder b;
            b.kvU32("general.alignment", 48);
            expectError(writeFile(dir, "align.gguf", b.build()), "power of two");
        }
        {
            GgufBuilder b;
            b.key("b", GgufBuilder::Bool), b.kvBytes().push_back(2);
            expectError(writeFile(dir, "bool.gguf", b.build()), "bool");
        }
        {
            // Arrays nested 100 deep must not recurse without bound.
            GgufBuilder b;
            b.key("deep", GgufBuilder::Array);
            for (int i = 0; i < 100; ++i)
                GgufBuilder::putU32(b.kvBytes(), GgufBuilder::Array), GgufBuilder::putU64(b.kvBytes(), 1);
            GgufBuilder::putU32(b.kvBytes(), GgufBuilder::U8), GgufBuilder::putU64(b.kvBytes(), 0);
            expectError(writeFile(dir, "deep.gguf", b.build()), "nests arrays deeper");
        }
    }
};

QTEST_GUILESS_MAIN(TestGguf)
#include "test_gguf.moc"
