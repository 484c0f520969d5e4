#include <QTest>

#include "quire/ingest/text_file.h"

using namespace quire::ingest;

// Decoding (BOMs, UTF-16, the Latin-1 fallback, CRLF) is tested through the streaming reader in
// test_text_extractor.cpp.
class TestTextFile : public QObject {
    Q_OBJECT
private slots:
    void rejectsMalformedUtf8Forms()
    {
        QVERIFY(isValidUtf8("plain ascii"));
        QVERIFY(!isValidUtf8("\xC0\xAF"));          // overlong '/'
        QVERIFY(!isValidUtf8("\xED\xA0\x80"));      // surrogate
        QVERIFY(!isValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
        QVERIFY(!isValidUtf8("\xE2\x82"));          // truncated
    }
};

QTEST_GUILESS_MAIN(TestTextFile)
#include "test_text_file.moc"
