#include <QTemporaryDir>
#include <QTest>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "inference/test_tokenizer_vectors.h"
#include "quire/inference/gguf.h"
#include "quire/inference/tokenizer.h"

using namespace quire::inference;
using quire::test::readVectors;

namespace {

const std::filesystem::path kDir = QUIRE_SHARED_DIR "/testdata/tokenizers";

std::string base64(std::string_view bytes)
{
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const auto v = (std::uint32_t(std::uint8_t(bytes[i])) << 16) |
                       (std::uint32_t(std::uint8_t(bytes[i + 1])) << 8) | std::uint8_t(bytes[i + 2]);
        for (int k = 18; k >= 0; k -= 6)
            out += kAlphabet[(v >> k) & 63];
    }
    if (const std::size_t rest = bytes.size() - i) {
        std::uint32_t v = std::uint32_t(std::uint8_t(bytes[i])) << 16;
        if (rest == 2)
            v |= std::uint32_t(std::uint8_t(bytes[i + 1])) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string join(const std::vector<TokenId>& ids)
{
    std::string s;
    for (auto id : ids) {
        s += ' ';
        s += std::to_string(id);
    }
    return s;
}

Tokenizer loadGguf(const std::string& name)
{
    auto f = GgufFile::open(kDir / ("ggml-vocab-" + name + ".gguf"));
    if (!f)
        qFatal("%s", f.error().message.c_str());
    auto t = Tokenizer::fromGguf(*f);
    if (!t)
        qFatal("%s", t.error().message.c_str());
    return *t;
}

// Every vector must match exactly; every text must decode back to itself.
void checkVectors(const Tokenizer& tok, const std::string& inp, const std::string& out)
{
    const auto vectors = readVectors(inp, out);
    QVERIFY(vectors.size() >= 40);
    int failures = 0;
    for (const auto& v : vectors) {
        const auto ids = tok.encode(v.text, false, false);
        const std::vector<TokenId> expected(v.ids.begin(), v.ids.end());
        if (ids != expected) {
            ++failures;
            qWarning("text %s\n  ours    %s\n  expected%s",
                     QByteArray::fromStdString(v.text).toPercentEncoding(" ").constData(), join(ids).c_str(),
                     join(expected).c_str());
        }
        QCOMPARE(tok.decode(ids), v.text);
    }
    QCOMPARE(failures, 0);
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        if (!std::filesystem::exists(kDir))
            QSKIP("shared tokenizer test data not present");
    }

    void matchesVectors_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* n : {"llama-bpe", "gpt-2", "deepseek-coder", "llama-spm", "phi-3"})
            QTest::newRow(n) << QString(n);
    }
    void matchesVectors()
    {
        QFETCH(QString, name);
        const std::string base = (kDir / ("ggml-vocab-" + name.toStdString() + ".gguf")).string();
        checkVectors(loadGguf(name.toStdString()), base + ".inp", base + ".out");
    }

    void matchesLlama4Vectors()
    {
        auto tok = Tokenizer::fromTiktoken(kDir / "llama4/tokenizer.model");
        QVERIFY2(tok, tok ? "" : tok.error().message.c_str());
        QCOMPARE(tok->vocabSize(), std::size_t(202048));
        checkVectors(*tok, (kDir / "llama4/llama4.inp").string(), (kDir / "llama4/llama4.out").string());
    }

    // A Llama 3 tiktoken rank file written from the Llama 3 GGUF vocabulary (rank = id) must give
    // the GGUF vectors too: tiktoken's rank merging equals the merge list here.
    void llama3TiktokenFileMatchesVectors()
    {
        const Tokenizer gguf = loadGguf("llama-bpe");
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/tokenizer.model";
        {
            std::ofstream out(path, std::ios::binary);
            for (TokenId id = 0; id < 128000; ++id)
                out << base64(gguf.tokenToPiece(id)) << ' ' << id << '\n';
        }
        auto tok = Tokenizer::fromTiktoken(path);
        QVERIFY2(tok, tok ? "" : tok.error().message.c_str());
        QCOMPARE(tok->vocabSize(), std::size_t(128256));
        QCOMPARE(*tok->tokenId("<|eot_id|>"), 128009);
        QCOMPARE(*tok->tokenId("<|start_header_id|>"), 128006);
        const std::string base = (kDir / "ggml-vocab-llama-bpe.gguf").string();
        checkVectors(*tok, base + ".inp", base + ".out");
    }

    void rejectsBadRankFiles()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/bad.model";
        std::ofstream(path) << "QQ== 0\nQg== 1\nnot-base64! 2\n";
        auto bad = Tokenizer::fromTiktoken(path);
        QVERIFY(!bad);
        QVERIFY2(bad.error().message.find("line 3") != std::string::npos, bad.error().message.c_str());
        std::ofstream(path) << "QQ== 0\nQQ== 0\n";
        QVERIFY(!Tokenizer::fromTiktoken(path));
        QVERIFY(!Tokenizer::fromTiktoken(dir.path().toStdString() + "/absent.model"));
    }

    void llama4SpecialTokensAndChatFormat()
    {
        auto tok = Tokenizer::fromTiktoken(kDir / "llama4/tokenizer.model", TiktokenFlavor::Llama4);
        QVERIFY(tok);
        QCOMPARE(*tok->tokenId("<|header_start|>"), 200005);
        QCOMPARE(*tok->tokenId("<|eot|>"), 200008);
        QCOMPARE(*tok->tokenId("<|patch|>"), 200092);
        QCOMPARE(*tok->tokenId("<|reasoning_thinking_start|>"), 201142);
        QCOMPARE(*tok->tokenId("<|reserved_special_token_903|>"), 202047);
        QCOMPARE(*tok->bos(), 200000);
        QVERIFY(tok->isEndOfGeneration(200001) && tok->isEndOfGeneration(200007) &&
                tok->isEndOfGeneration(200008));
        // llama4-architecture.md section 11.1.
        const std::string prompt =
            "<|begin_of_text|><|header_start|>user<|header_end|>\n\nWhat is 2+2?<|eot|>"
            "<|header_start|>assistant<|header_end|>\n\n";
        const std::vector<TokenId> expected = {200000, 200005, 1556, 200006, 368,    3668,   373,    220, 30,
                                               23,     30,     43,   200008, 200005, 140680, 200006, 368};
        QCOMPARE(tok->encode(prompt, false, true), expected);
        QCOMPARE(tok->encode("Hello, world!"), (std::vector<TokenId>{19873, 24, 3817, 13}));
        QCOMPARE(tok->encode("Hello", true), (std::vector<TokenId>{200000, 19873}));
        QCOMPARE(tok->decode(expected, true), prompt);
        QCOMPARE(tok->decode(expected), std::string("user\n\nWhat is 2+2?assistant\n\n"));
        // Without parseSpecial the same text is plain text.
        QVERIFY(tok->encode(prompt, false, false).size() > expected.size());
    }

    void llama3SpecialTokens()
    {
        const Tokenizer tok = loadGguf("llama-bpe");
        QCOMPARE(*tok.bos(), 128000);
        QCOMPARE(*tok.tokenId("<|eot_id|>"), 128009);
        QCOMPARE(*tok.eot(), 128009);
        QVERIFY(tok.isEndOfGeneration(128009) && tok.isEndOfGeneration(128001));
        const auto ids = tok.encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", true, true);
        QCOMPARE(ids, (std::vector<TokenId>{128000, 128006, 882, 128007, 271, 13347, 128009}));
        QVERIFY(tok.addBosByDefault());
    }

    void sentencePieceSpecialsAndDecode()
    {
        const Tokenizer tok = loadGguf("phi-3");
        QCOMPARE(*tok.bos(), 1);
        QCOMPARE(*tok.tokenId("<|end|>"), 32007);
        QCOMPARE(*tok.eot(), 32007);
        // After a special token the text gets SentencePiece's leading space, as in llama.cpp.
        const auto ids = tok.encode("<|user|>\nHi<|end|>", true, true);
        QCOMPARE(ids.front(), 1);
        QCOMPARE(ids[1], 32010);
        QCOMPARE(ids.back(), 32007);
        QCOMPARE(tok.decode(tok.encode("Hello world", true)), std::string("Hello world"));
        QCOMPARE(tok.encode("", true), std::vector<TokenId>{1});
        QCOMPARE(std::string(tok.tokenToPiece(3 + 0x0A)), std::string("\n")); // <0x0A>
        QCOMPARE(tok.kind(3 + 0x0A), TokenKind::Byte);
    }

    void streamingNeverSplitsCharacters()
    {
        const Tokenizer tok = loadGguf("llama-bpe");
        const std::string text = "Grüße 🦙🚀 日本語のテキスト — ok";
        const auto ids = tok.encode(text);
        QVERIFY(ids.size() > 8);
        TokenStreamDecoder stream(tok);
        std::string all;
        int partial = 0;
        for (const auto id : ids) {
            const std::string piece = stream.push(id);
            // Each emitted chunk is valid UTF-8 on its own.
            QVERIFY(QString::fromUtf8(piece.data(), static_cast<int>(piece.size())).toUtf8().toStdString() ==
                    piece);
            if (piece.empty())
                ++partial;
            all += piece;
        }
        all += stream.flush();
        QCOMPARE(all, text);
        QVERIFY(partial > 0); // the emoji really arrive in pieces

        // A cut-off character becomes U+FFFD at flush; an impossible byte at once.
        TokenStreamDecoder cut(tok);
        const auto rocket = tok.encode("🚀");
        QVERIFY(rocket.size() >= 2);
        QCOMPARE(cut.push(rocket[0]), std::string());
        QCOMPARE(cut.flush(), std::string("\xEF\xBF\xBD"));
    }

    void streamingSentencePieceDropsLeadingSpace()
    {
        const Tokenizer tok = loadGguf("llama-spm");
        const std::string text = "Hello world, Grüße 🦙";
        TokenStreamDecoder stream(tok);
        std::string all;
        for (const auto id : tok.encode(text, true))
            all += stream.push(id);
        all += stream.flush();
        QCOMPARE(all, text);
    }

    void invalidUtf8RoundTrips()
    {
        const Tokenizer tok = loadGguf("llama-bpe");
        const std::string bad = std::string("ok \xC3 then \xFF\xFE and \xE2\x82", 20);
        QCOMPARE(tok.decode(tok.encode(bad)), bad);
    }

    void longRunsAreFast()
    {
        auto tok = Tokenizer::fromTiktoken(kDir / "llama4/tokenizer.model");
        QVERIFY(tok);
        const std::string spaces(200000, ' ');
        const std::string letters(200000, 'a');
        QVERIFY(!tok->encode(spaces + "x").empty());
        const auto ids = tok->encode(letters);
        QCOMPARE(tok->decode(ids), letters);
    }

    void concurrentEncodingAgrees()
    {
        const Tokenizer tok = loadGguf("llama-bpe");
        const std::string text = "Concurrency test: äöü 1234567 — \n\n\tcode(x) { return y; }";
        const auto expected = tok.encode(text);
        std::vector<std::thread> threads;
        std::atomic<int> bad{0};
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] {
                for (int i = 0; i < 200; ++i)
                    if (tok.encode(text) != expected)
                        ++bad;
            });
        for (auto& th : threads)
            th.join();
        QCOMPARE(bad.load(), 0);
    }

    void defaultModelTokenizer()
    {
        const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
        if (!env || !std::filesystem::exists(env))
            QSKIP("QUIRE_DEFAULT_MODEL not set or absent");
        auto f = GgufFile::open(env);
        QVERIFY(f);
        auto tok = Tokenizer::fromGguf(*f);
        QVERIFY2(tok, tok ? "" : tok.error().message.c_str());
        QCOMPARE(*tok->tokenId("<|im_start|>"), 1);
        QCOMPARE(*tok->tokenId("<|im_end|>"), 2);
        QVERIFY(tok->isEndOfGeneration(2));
        const std::string chat = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n";
        const auto ids = tok->encode(chat, false, true);
        QCOMPARE(ids.front(), 1);
        QCOMPARE(tok->decode(ids, true), chat);
        // Digits are split one by one (SmolLM's pre-tokenizer).
        QCOMPARE(tok->encode("2024").size(), std::size_t(4));
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
