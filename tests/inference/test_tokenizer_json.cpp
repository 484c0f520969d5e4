// Hugging Face tokenizer.json loading. The goldens in tests/data/inference/tokenizer_json come
// from the `tokenizers` package (tests/reference/make_tokenizer_json_goldens.py): per style a
// tokenizer.json skeleton (everything but model.vocab/merges) and the ids of texts.inp. Here the
// vocabulary and merges are refilled from the same GGUF file, and our ids must equal HF's.
#include <QTemporaryDir>
#include <QTest>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "inference/test_tokenizer_vectors.h"
#include "quire/inference/gguf.h"
#include "quire/inference/tokenizer.h"

using namespace quire::inference;
using quire::test::readVectors;
using quire::test::readWholeFile;

namespace {

const std::string kData = QUIRE_TEST_DATA_DIR "/inference/tokenizer_json/";
const std::filesystem::path kVocabs = QUIRE_SHARED_DIR "/testdata/tokenizers";

std::string jsonString(std::string_view s)
{
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// The skeleton with model.vocab and model.merges filled from a GGUF vocabulary. Merges are
// written as "a b" strings or as ["a", "b"] pairs (both occur in real files).
std::string fillSkeleton(const std::string& skeleton, const GgufFile& gguf, bool pairMerges)
{
    const auto tokens = gguf.getStringArray("tokenizer.ggml.tokens");
    const auto merges = gguf.getStringArray("tokenizer.ggml.merges");
    std::string vocab = "{";
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (i)
            vocab += ",\n";
        vocab += jsonString(tokens[i]);
        vocab += ": ";
        vocab += std::to_string(i);
    }
    vocab += "}";
    std::string list = "[";
    for (std::size_t i = 0; i < merges.size(); ++i) {
        list += i ? ",\n" : "";
        if (pairMerges) {
            const auto sp = merges[i].find(' ', 1);
            list += '[';
            list += jsonString(merges[i].substr(0, sp));
            list += ", ";
            list += jsonString(merges[i].substr(sp + 1));
            list += ']';
        } else {
            list += jsonString(merges[i]);
        }
    }
    list += "]";
    std::string out = skeleton;
    const auto v = out.find("\"vocab\": {}");
    const auto m = out.find("\"merges\": []");
    if (v == std::string::npos || m == std::string::npos)
        qFatal("skeleton without empty vocab/merges");
    out.replace(m, 12, "\"merges\": " + list);
    out.replace(v, 11, "\"vocab\": " + vocab);
    return out;
}

std::filesystem::path modelPath(const QString& style)
{
    if (style == "smollm2") {
        const char* env = std::getenv("QUIRE_DEFAULT_MODEL");
        return env ? env : "";
    }
    const char* name = style == "gpt2" ? "gpt-2" : style == "deepseek-coder" ? "deepseek-coder" : "llama-bpe";
    return kVocabs / ("ggml-vocab-" + std::string(name) + ".gguf");
}

void writeText(const std::filesystem::path& p, const std::string& s)
{
    std::ofstream(p, std::ios::binary).write(s.data(), static_cast<std::streamsize>(s.size()));
}

} // namespace

class TestTokenizerJson : public QObject {
    Q_OBJECT
private slots:
    void matchesHuggingFace_data()
    {
        QTest::addColumn<QString>("style");
        for (const char* s : {"llama3", "qwen2", "gpt2", "deepseek-coder", "smollm2"})
            QTest::newRow(s) << QString(s);
    }
    void matchesHuggingFace()
    {
        QFETCH(QString, style);
        const auto vocabFile = modelPath(style);
        if (vocabFile.empty() || !std::filesystem::exists(vocabFile))
            QSKIP("vocabulary source not present (shared data or QUIRE_DEFAULT_MODEL)");
        auto gguf = GgufFile::open(vocabFile);
        QVERIFY(gguf);
        QTemporaryDir dir;
        const std::filesystem::path root = dir.path().toStdString();
        writeText(root / "tokenizer.json",
                  fillSkeleton(readWholeFile(kData + style.toStdString() + ".skeleton.json"), *gguf,
                               style != "gpt2"));
        auto tok = Tokenizer::open(root);
        QVERIFY2(tok, tok ? "" : tok.error().message.c_str());

        const auto vectors = readVectors(kData + "texts.inp", kData + style.toStdString() + ".out");
        QVERIFY(vectors.size() >= 60);
        int failures = 0;
        for (const auto& v : vectors) {
            const auto ids = tok->encode(v.text, false, true); // HF always matches added tokens
            if (ids != std::vector<TokenId>(v.ids.begin(), v.ids.end())) {
                ++failures;
                qWarning("mismatch on: %s", v.text.c_str());
            }
            if (style != "qwen2") // NFC changes some texts
                QCOMPARE(tok->decode(ids, true), v.text);
        }
        QCOMPARE(failures, 0);
        // The same vocabulary read from the GGUF file (its own pre-tokenizer name) agrees with HF
        // too; the Qwen2 style only borrows the Llama 3 vocabulary, so it has no GGUF twin.
        if (style != "qwen2") {
            auto fromGguf = Tokenizer::fromGguf(*gguf);
            QVERIFY(fromGguf);
            for (const auto& v : vectors)
                QCOMPARE(fromGguf->encode(v.text, false, true), std::vector<TokenId>(v.ids.begin(), v.ids.end()));
        }
        if (style == "llama3") {
            QCOMPARE(*tok->bos(), 128000);
            QVERIFY(tok->addBosByDefault());
            QCOMPARE(*tok->tokenId("<|eot_id|>"), 128009);
            QCOMPARE(tok->encode("<|eot_id|>", false, true), std::vector<TokenId>{128009});
        }
    }

    void modelDirectoryConfigs()
    {
        const auto vocabFile = modelPath("gpt2");
        if (!std::filesystem::exists(vocabFile))
            QSKIP("shared data not present");
        auto gguf = GgufFile::open(vocabFile);
        QTemporaryDir dir;
        const std::filesystem::path root = dir.path().toStdString();
        writeText(root / "tokenizer.json",
                  fillSkeleton(readWholeFile(kData + "gpt2.skeleton.json"), *gguf, false));
        writeText(root / "tokenizer_config.json",
                  "{\"bos_token\": {\"content\": \"<|endoftext|>\"}, \"eos_token\": \"<|endoftext|>\", "
                  "\"add_bos_token\": true}");
        writeText(root / "config.json", "{\"eos_token_id\": [50256, 198]}");
        auto tok = Tokenizer::fromHuggingFace(root);
        QVERIFY2(tok, tok ? "" : tok.error().message.c_str());
        QCOMPARE(*tok->bos(), 50256);
        QCOMPARE(*tok->eos(), 50256);
        QVERIFY(tok->addBosByDefault());
        QVERIFY(tok->isEndOfGeneration(198));
    }

    void refusesWhatItCannotReproduce()
    {
        QTemporaryDir dir;
        const std::filesystem::path root = dir.path().toStdString();
        const std::string skeleton = readWholeFile(kData + "gpt2.skeleton.json");
        auto withPre = [&](const std::string& pre) {
            std::string s = skeleton;
            const auto a = s.find("\"pre_tokenizer\"");
            const auto b = s.find("\"post_processor\"");
            s.replace(a, b - a, "\"pre_tokenizer\": " + pre + ",\n ");
            return s;
        };
        writeText(root / "meta.json", withPre("{\"type\": \"Metaspace\", \"replacement\": \"▁\"}"));
        auto meta = Tokenizer::fromHuggingFace(root / "meta.json");
        QVERIFY(!meta);
        QCOMPARE(meta.error().code, ErrorCode::Unsupported);
        QVERIFY2(meta.error().message.find("Metaspace") != std::string::npos, meta.error().message.c_str());

        writeText(root / "regex.json",
                  withPre("{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
                          "{\"Regex\": \"\\\\w+\"},\n"
                          "                      \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": "
                          "\"ByteLevel\", \"use_regex\": false}]}"));
        auto regex = Tokenizer::fromHuggingFace(root / "regex.json");
        QVERIFY(!regex);
        QVERIFY2(regex.error().message.find("\\w+") != std::string::npos, regex.error().message.c_str());

        writeText(root / "broken.json", "{\n \"model\": {\"type\": \"BPE\",\n \"vocab\": {\"a\": 0,}}}");
        auto broken = Tokenizer::fromHuggingFace(root / "broken.json");
        QVERIFY(!broken);
        QCOMPARE(broken.error().code, ErrorCode::Format);
        QVERIFY2(broken.error().message.find("line 3") != std::string::npos, broken.error().message.c_str());

        writeText(root / "deep.json", std::string(100000, '['));
        QVERIFY(!Tokenizer::fromHuggingFace(root / "deep.json"));
        QVERIFY(!Tokenizer::fromHuggingFace(root / "absent.json"));
    }

    void jsonEscapesAndSurrogates()
    {
        // A tiny byte-level vocabulary written with every escape form.
        QTemporaryDir dir;
        const std::filesystem::path p = std::filesystem::path(dir.path().toStdString()) / "t.json";
        std::string vocab;
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            // GPT-2 byte alphabet, written as \u escapes.
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            const int cp = printable ? b : 0x100 + extra++;
            char buf[32];
            std::snprintf(buf, sizeof buf, "\"\\u%04X\": %d,", cp, b);
            vocab += buf;
        }
        // U+2124's bytes E2 84 A4 in the byte alphabet, and a key with a surrogate pair.
        vocab += "\"\\u00e2\\u0126\\u00a4\": 256, \"\\ud83e\\udd99\": 257, \"\\u00e2\\u0126\": 259";
        const std::string doc = "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", "
                                "\"add_prefix_space\": false,\n"
                                "            \"use_regex\": true}, \"added_tokens\": [{\"id\": 258, "
                                "\"content\": \"<|x\\\"y|>\", \"special\": true}],\n"
                                "            \"model\": {\"type\": \"BPE\", \"vocab\": {" +
                                vocab + "}, \"merges\": [\"\\u00e2 \\u0126\", \"\\u00e2\\u0126 \\u00a4\"]}}";
        writeText(p, doc);
        auto tok = Tokenizer::fromHuggingFace(p);
        QVERIFY2(tok, tok ? "" : tok.error().message.c_str());
        QCOMPARE(tok->vocabSize(), std::size_t(260));
        QCOMPARE(tok->encode("\xE2\x84\xA4"), std::vector<TokenId>{256}); // U+2124 bytes E2 84 A4
        QCOMPARE(*tok->tokenId("<|x\"y|>"), 258);
        QCOMPARE(*tok->tokenId("\xF0\x9F\xA6\x99"), 257); // the surrogate pair decoded
        QCOMPARE(tok->encode("a<|x\"y|>", false, true), (std::vector<TokenId>{'a', 258}));
    }
};

QTEST_GUILESS_MAIN(TestTokenizerJson)
#include "test_tokenizer_json.moc"
