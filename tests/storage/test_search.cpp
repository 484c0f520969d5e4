// Full-text search: per-workspace results carrying anchors, snippets, byte offsets of matches,
// an index that follows replaced and removed documents, and typed queries that cannot break.
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include "quire/storage/catalog.h"
#include "quire/storage/search.h"
#include "storage_test_util.h"

using namespace quire::storage;
using namespace quire::storage::test;
namespace ingest = quire::ingest;

namespace {
std::string matched(const SearchHit& hit, size_t i)
{
    const auto& r = hit.matches.at(i);
    return hit.text.substr(static_cast<size_t>(r.begin), static_cast<size_t>(r.end - r.begin));
}
} // namespace

class TestSearch : public QObject {
    Q_OBJECT
private slots:
    void sqliteHasFts5() { QVERIFY(sqlite3_compileoption_used("ENABLE_FTS5")); }

    void findsSegmentsWithAnchorsSnippetsAndOffsets()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        auto ws = db->createWorkspace("contracts").value();
        ingest::Document doc = document("/c/lease.pdf", "h", {});
        ingest::Segment page;
        page.text = "The tenant shall pay the rent. Rent is due monthly; late rent costs a fee.";
        page.anchor.where = ingest::PageAnchor{4, {72, 100, 450, 30}};
        doc.segments.push_back(page);
        doc.segments.push_back(lineSegment("Nothing relevant here.", 9, 9));
        auto put = Catalog(*db).putDocument(ws, doc);
        QUIRE_VERIFY_OK(put);

        auto hits = FullTextSearch(*db).search(ws, "rent");
        QUIRE_VERIFY_OK(hits);
        QCOMPARE(hits->size(), size_t(1));
        const SearchHit& hit = hits->front();
        QCOMPARE(hit.path, std::string("/c/lease.pdf"));
        QCOMPARE(hit.documentId, put->documentId);
        QCOMPARE(hit.anchor.document, put->documentId);
        QCOMPARE(std::get<ingest::PageAnchor>(hit.anchor.where).page, 4);
        QCOMPARE(hit.text, page.text);
        // Three matches, case-folded, at their exact bytes.
        QCOMPARE(hit.matches.size(), size_t(3));
        QCOMPARE(matched(hit, 0), std::string("rent"));
        QCOMPARE(matched(hit, 1), std::string("Rent"));
        QCOMPARE(matched(hit, 2), std::string("rent"));
        QCOMPARE(hit.matches[0].begin, std::int64_t(page.text.find("rent")));
        QVERIFY2(hit.snippet.find("[rent]") != std::string::npos, hit.snippet.c_str());
        QVERIFY2(hit.snippet.find("[Rent]") != std::string::npos, hit.snippet.c_str());
    }

    void offsetsAreBytesInUtf8AndCoverPhrases()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        auto ws = db->createWorkspace("w").value();
        const std::string text = "Über die Straße: naïve café owners, café culture";
        QUIRE_VERIFY_OK(Catalog(*db).putDocument(ws, document("/u.txt", "h", {text})));
        FullTextSearch search(*db);

        auto hits = search.search(ws, "cafe"); // diacritics folded in the query too
        QUIRE_VERIFY_OK(hits);
        QCOMPARE(hits->size(), size_t(1));
        QCOMPARE(hits->front().matches.size(), size_t(2));
        QCOMPARE(matched(hits->front(), 0), std::string("café"));
        QCOMPARE(hits->front().matches[0].begin, std::int64_t(text.find("café")));
        QCOMPARE(matched(hits->front(), 1), std::string("café"));

        SearchOptions fts;
        fts.ftsSyntax = true;
        auto phrase = search.search(ws, "\"cafe owners\"", fts);
        QUIRE_VERIFY_OK(phrase);
        QCOMPARE(phrase->size(), size_t(1));
        QCOMPARE(phrase->front().matches.size(), size_t(1));
        QCOMPARE(matched(phrase->front(), 0), std::string("café owners"));

        auto umlaut = search.search(ws, "uber strasse"); // ß is not folded to ss by unicode61
        QUIRE_VERIFY_OK(umlaut);
        QCOMPARE(umlaut->size(), size_t(0));
        auto uber = search.search(ws, "uber");
        QCOMPARE(uber.value().size(), size_t(1));
        QCOMPARE(matched(uber->front(), 0), std::string("Über"));
    }

    void searchIsPerWorkspaceAndRanked()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        auto a = db->createWorkspace("a").value();
        auto b = db->createWorkspace("b").value();
        Catalog catalog(*db);
        QUIRE_VERIFY_OK(catalog.putDocument(a, document("/a1", "1", {"kv cache blocks", "kv kv kv cache"})));
        QUIRE_VERIFY_OK(catalog.putDocument(b, document("/b1", "2", {"kv cache in b"})));
        FullTextSearch search(*db);
        auto inA = search.search(a, "kv cache");
        QCOMPARE(inA.value().size(), size_t(2));
        for (const auto& hit : *inA)
            QCOMPARE(hit.path, std::string("/a1"));
        QVERIFY(inA->at(0).rank <= inA->at(1).rank);
        QCOMPARE(inA->at(0).text, std::string("kv kv kv cache")); // more matches rank first
        auto inB = search.search(b, "kv cache");
        QCOMPARE(inB.value().size(), size_t(1));
        QCOMPARE(inB->front().path, std::string("/b1"));

        SearchOptions page;
        page.limit = 1;
        page.offset = 1;
        auto second = search.search(a, "kv", page);
        QCOMPARE(second.value().size(), size_t(1));
        QCOMPARE(second->front().text, std::string("kv cache blocks"));
    }

    void indexFollowsReplacedAndRemovedDocuments()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        auto ws = db->createWorkspace("w").value();
        Catalog catalog(*db);
        QUIRE_VERIFY_OK(catalog.putDocument(ws, document("/f", "1", {"zebra crossing"})));
        FullTextSearch search(*db);
        QCOMPARE(search.search(ws, "zebra").value().size(), size_t(1));
        QUIRE_VERIFY_OK(catalog.putDocument(ws, document("/f", "2", {"giraffe crossing"})));
        QCOMPARE(search.search(ws, "zebra").value().size(), size_t(0));
        QCOMPARE(search.search(ws, "giraffe").value().size(), size_t(1));
        QUIRE_VERIFY_OK(catalog.quarantine(ws, source("/f", "3"), "broken"));
        QCOMPARE(search.search(ws, "giraffe").value().size(), size_t(0));
        QUIRE_VERIFY_OK(catalog.putDocument(ws, document("/g", "1", {"okapi"})));
        QUIRE_VERIFY_OK(db->removeWorkspace(ws));
        QCOMPARE(search.search(ws, "okapi").value().size(), size_t(0));
        // The external-content index agrees with its content table.
        QCOMPARE(sqlite3_exec(db->handle(),
                              "INSERT INTO segments_fts(segments_fts, rank) VALUES('integrity-check', 1)",
                              nullptr, nullptr, nullptr),
                 SQLITE_OK);
    }

    void typedQueriesWithSyntaxCharactersDoNotFail()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        auto ws = db->createWorkspace("w").value();
        QUIRE_VERIFY_OK(Catalog(*db).putDocument(
            ws, document("/x.cpp", "1", {"std::vector<int> v; // \"quoted\" AND or NOT"})));
        FullTextSearch search(*db);
        for (const char* q : {"std::vector<int>", "\"quoted", "AND", "NOT or", "v;", "(", "*", "NEAR(", ""}) {
            auto hits = search.search(ws, q);
            QVERIFY2(hits.has_value(), q);
        }
        QCOMPARE(search.search(ws, "std::vector<int>").value().size(), size_t(1));
        QCOMPARE(search.search(ws, "\"quoted\"").value().size(), size_t(1));
        SearchOptions fts;
        fts.ftsSyntax = true;
        auto bad = search.search(ws, "NEAR(", fts);
        QVERIFY(!bad);
        QCOMPARE(bad.error().code, ErrorCode::Invalid);
        QCOMPARE(FullTextSearch::quoteWords("a \"b\""), std::string("\"a\" \"\"\"b\"\"\""));
    }
};

QTEST_GUILESS_MAIN(TestSearch)
#include "test_search.moc"
