#include <QTemporaryDir>
#include <QTest>

#include <fstream>

#include "quire/ingest/text_file.h"

using namespace quire::ingest;

namespace {
std::filesystem::path write(const QTemporaryDir& dir, const char* name, std::string_view bytes)
{
    const auto path = std::filesystem::path(dir.path().toStdString()) / name;
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
}
}  // namespace

class TestTextFile : public QObject {
    Q_OBJECT
private slots:
    void readsUtf8AndNormalisesNewlines()
    {
        QTemporaryDir dir;
        const auto p = write(dir, "a.txt", "caf\xC3\xA9\r\nna\xC3\xAFve\rend");
        auto f = readTextFile(p);
        QVERIFY(f.has_value());
        QCOMPARE(f->text, std::string("caf\xC3\xA9\nna\xC3\xAFve\nend"));
        QCOMPARE(f->encoding, TextEncoding::Utf8);
        QCOMPARE(f->lineCount, 3);
    }
    void decodesUtf16WithBom()
    {
        QTemporaryDir dir;
        // "h\u00e9\U0001F600" little-endian with a BOM; the emoji is a surrogate pair.
        const auto p = write(dir, "u16.txt", std::string_view("\xFF\xFEh\x00\xE9\x00\x3D\xD8\x00\xDE", 10));
        auto f = readTextFile(p);
        QVERIFY(f.has_value());
        QCOMPARE(f->encoding, TextEncoding::Utf16LE);
        QCOMPARE(f->text, std::string("h\xC3\xA9\xF0\x9F\x98\x80"));
    }
    void fallsBackToLatin1OnInvalidUtf8()
    {
        QTemporaryDir dir;
        const auto p = write(dir, "legacy.txt", "na\xEFve");
        auto f = readTextFile(p);
        QVERIFY(f.has_value());
        QCOMPARE(f->encoding, TextEncoding::Latin1);
        QCOMPARE(f->text, std::string("na\xC3\xAFve"));
        QVERIFY(isValidUtf8(f->text));
    }
    void rejectsMalformedUtf8Forms()
    {
        QVERIFY(isValidUtf8("plain ascii"));
        QVERIFY(!isValidUtf8("\xC0\xAF"));          // overlong '/'
        QVERIFY(!isValidUtf8("\xED\xA0\x80"));      // surrogate
        QVERIFY(!isValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
        QVERIFY(!isValidUtf8("\xE2\x82"));          // truncated
    }
    void reportsMissingAndOversizedFiles()
    {
        QTemporaryDir dir;
        auto missing = readTextFile(std::filesystem::path(dir.path().toStdString()) / "nope.txt");
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ErrorCode::Io);
        const auto p = write(dir, "big.txt", std::string(4096, 'x'));
        auto big = readTextFile(p, 1024);
        QVERIFY(!big);
        QCOMPARE(big.error().code, ErrorCode::TooLarge);
        QVERIFY(big.error().message.find("big.txt") != std::string::npos);
    }
};

QTEST_GUILESS_MAIN(TestTextFile)
#include "test_text_file.moc"
