#include <QTest>

#include "quire/ingest/model/types.h"

using namespace quire::ingest;

class TestAnchor : public QObject {
    Q_OBJECT
private slots:
    void formatsEachKind()
    {
        QCOMPARE(formatAnchor({1, PageAnchor{4, {}}}), std::string("p.4"));
        QCOMPARE(formatAnchor({1, LineAnchor{120, 140}}), std::string("L120-140"));
        QCOMPARE(formatAnchor({1, LineAnchor{7, 7}}), std::string("L7"));
        QCOMPARE(formatAnchor({1, TimeAnchor{(12 * 60 + 31) * 1000 + 999, 800000}}), std::string("00:12:31"));
        QCOMPARE(formatAnchor({1, TimeAnchor{(3 * 3600 + 5) * 1000, 0}}), std::string("03:00:05"));
        QCOMPARE(formatAnchor({1, ParagraphAnchor{6}}), std::string("\xC2\xB6" "7"));
        QCOMPARE(formatAnchor({}), std::string());
    }
    void persistedEnumNumbersAreStable()
    {
        // Stored in SQLite: changing a number would misread every existing library.
        QCOMPARE(static_cast<int>(SourceKind::Pdf), 3);
        QCOMPARE(static_cast<int>(SourceKind::Video), 6);
        QCOMPARE(static_cast<int>(SourceStatus::Quarantined), 3);
        QCOMPARE(std::string(toString(SourceKind::Docx)), std::string("docx"));
    }
    void anchorsCompareByValue()
    {
        const Anchor a{3, LineAnchor{1, 2}};
        Anchor b = a;
        QVERIFY(a == b);
        b.where = LineAnchor{1, 3};
        QVERIFY(!(a == b));
    }
};

QTEST_GUILESS_MAIN(TestAnchor)
#include "test_anchor.moc"
