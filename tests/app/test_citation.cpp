// Citation parsing, resolution and verification on hand-written answers, including wrong and
// fabricated citations, and the lexical attribution fallback.
#include <QTest>

#include "quire/app/citation.h"
#include "quire/app/text_match.h"

using namespace quire::app;
using quire::ingest::Anchor;
using quire::ingest::LineAnchor;
using quire::ingest::PageAnchor;
using quire::ingest::ParagraphAnchor;
using quire::ingest::SourceKind;
using quire::ingest::TimeAnchor;

namespace {

// doc 1: a contract (PDF, pages 1-3), doc 2: code (lines), doc 3: a meeting (times),
// doc 5: a DOCX memo (paragraphs). Document numbers need not be contiguous.
SourceMap sampleMap()
{
    SourceMap map;
    auto addDoc = [&](int number, std::int64_t id, const char* path, SourceKind kind) {
        MappedDocument d;
        d.number = number;
        d.documentId = id;
        d.path = path;
        d.displayPath = path;
        d.kind = kind;
        d.firstSegment = map.segments.size();
        map.documents.push_back(d);
    };
    auto addSeg = [&](const std::string& text, decltype(Anchor::where) where) {
        MappedSegment s;
        s.docNumber = map.documents.back().number;
        s.anchor = Anchor{map.documents.back().documentId, where};
        s.text = text;
        s.segmentId = std::int64_t(map.segments.size()) + 100;
        s.tokenBegin = map.segments.empty() ? 10 : map.segments.back().tokenEnd;
        s.tokenEnd = s.tokenBegin + 20;
        map.segments.push_back(s);
        map.documents.back().segmentCount++;
    };
    addDoc(1, 41, "/c/contract.pdf", SourceKind::Pdf);
    addSeg("MASTER SERVICES AGREEMENT between Northwind Ltd (the Supplier) and Contoso GmbH (the Customer).",
           PageAnchor{1, {}});
    addSeg("1. Term. This Agreement begins on 1 March 2024 and runs for twenty-four (24) months.",
           PageAnchor{1, {}});
    addSeg(
        "7. Termination. Either party may terminate this Agreement by giving thirty (30) days written notice "
        "to the other party.",
        PageAnchor{2, {}});
    addSeg(
        "8. Liability. The Supplier's total liability under this Agreement shall not exceed the fees paid in "
        "the twelve (12) months before the claim.",
        PageAnchor{2, {}});
    addSeg("12. Governing law. This Agreement is governed by the laws of Ireland.", PageAnchor{3, {}});
    addDoc(2, 42, "/c/src/thermostat.py", SourceKind::Code);
    addSeg("def target_temperature(schedule, hour):\n    \"\"\"Return the set point for the hour.\"\"\"\n"
           "    return schedule.get(hour, DEFAULT_SET_POINT)",
           LineAnchor{1, 3});
    addSeg("DEFAULT_SET_POINT = 19.5\nMAX_SET_POINT = 26.0", LineAnchor{120, 140});
    addDoc(3, 43, "/c/standup.ogg", SourceKind::Audio);
    addSeg("good morning everyone the release is planned for friday", TimeAnchor{0, 4200});
    addSeg("the database migration is finished and the tests are green", TimeAnchor{4200, 9100});
    addSeg("maria will update the installer next week", TimeAnchor{751000, 755500});
    addDoc(5, 45, "/c/memo.docx", SourceKind::Docx);
    addSeg("Memo: the office moves to the fourth floor in June.", ParagraphAnchor{0});
    addSeg("Parking permits must be renewed by the end of May.", ParagraphAnchor{1});
    return map;
}

Citation only(const std::vector<Citation>& v)
{
    if (v.size() != 1)
        qFatal("expected exactly one citation, got %zu", v.size());
    return v.front();
}

} // namespace

class TestCitation : public QObject {
    Q_OBJECT
private slots:
    // ---- words and quotes -------------------------------------------------------------------
    void wordsAreFoldedAndPunctuationDropped()
    {
        const auto w = splitWords("  The SUPPLIER's façade, ÉTÉ-2024:\n  don't!");
        QStringList norms;
        for (const auto& x : w)
            norms << QString::fromStdString(x.norm);
        QCOMPARE(norms, (QStringList{"the", "suppliers", "façade", "été", "2024", "dont"}));
        QVERIFY(w[4].numeric);
        QVERIFY(!w[0].numeric);
        const std::string text = "  The SUPPLIER's";
        QCOMPARE(text.substr(w[1].begin, w[1].end - w[1].begin), std::string("SUPPLIER's"));
    }
    void smallSpellingDifferencesAreHalfMatches()
    {
        const auto a = splitWords("termination terminaton day dey 30 31");
        QCOMPARE(wordSimilarity(a[0], a[1]), 0.5);
        QCOMPARE(wordSimilarity(a[2], a[3]), 0.0); // too short for a fuzzy match
        QCOMPARE(wordSimilarity(a[4], a[5]), 0.0); // numbers never fuzzy
        QCOMPARE(wordSimilarity(a[0], a[0]), 1.0);
    }
    void stemsMatchSimpleInflections()
    {
        QCOMPARE(stemWord("days"), stemWord("day"));
        QCOMPARE(stemWord("governing"), stemWord("govern"));
        QCOMPARE(stemWord("terminated"), std::string("terminat"));
        QCOMPARE(stemWord("parties"), std::string("party"));
        QCOMPARE(stemWord("class"), std::string("class"));
        QCOMPARE(stemWord("30s"), std::string("30s"));
    }
    void quoteIsFoundInsideLongerText()
    {
        const auto hay =
            splitWords("Either party may terminate this Agreement by giving thirty (30) days notice.");
        const auto m = findQuote(splitWords("terminate this agreement"), hay);
        QCOMPARE(m.score, 1.0);
        QCOMPARE(m.firstWord, std::size_t(3));
        QCOMPARE(m.lastWord, std::size_t(6));
        const auto missing = findQuote(splitWords("terminate the contract immediately"), hay);
        QVERIFY(missing.score < 0.5);
        QCOMPARE(findQuote({}, hay).score, 0.0);
        QCOMPARE(findQuote(splitWords("x"), {}).score, 0.0);
    }
    void changedNumberSinksALongQuote()
    {
        const auto hay =
            splitWords("Either party may terminate this Agreement by giving thirty (30) days written notice");
        QCOMPARE(
            findQuote(splitWords("may terminate this Agreement by giving thirty (30) days written notice"),
                      hay)
                .score,
            1.0);
        QCOMPARE(findQuote(
                     splitWords("may terminate this Agreement by giving sixty (60) days written notice"), hay)
                     .score,
                 0.0);
    }

    // ---- parsing ----------------------------------------------------------------------------
    void parsesTheThreeArchitectureForms()
    {
        const std::string a = "Pages [doc 12 p.4], code [doc 3 L120-140] and talk [doc 7 00:12:31].";
        const auto c = parseCitations(a);
        QCOMPARE(c.size(), std::size_t(3));
        QCOMPARE(c[0].docNumber, 12);
        QCOMPARE(c[0].where.kind, Locator::Kind::Page);
        QCOMPARE(c[0].where.first, 4);
        QCOMPARE(a.substr(c[0].offset, c[0].length), std::string("[doc 12 p.4]"));
        QCOMPARE(c[1].where.kind, Locator::Kind::Lines);
        QCOMPARE(c[1].where.first, 120);
        QCOMPARE(c[1].where.last, 140);
        QCOMPARE(c[2].where.kind, Locator::Kind::Time);
        QCOMPARE(c[2].where.beginMs, std::int64_t(751000));
        QCOMPARE(c[2].raw, std::string("doc 7 00:12:31"));
        for (const auto& x : c)
            QVERIFY(!x.malformed && !x.quote);
    }
    void parsesVariantsModelsWrite()
    {
        struct Case {
            const char* text;
            int doc;
            Locator::Kind kind;
            int first, last;
        };
        const Case cases[] = {
            {"[Doc 3, lines 120\xE2\x80\x93"
             "140]",
             3, Locator::Kind::Lines, 120, 140},
            {"[doc 3 L120-L140]", 3, Locator::Kind::Lines, 120, 140},
            {"[doc 3 L7]", 3, Locator::Kind::Lines, 7, 7},
            {"[document 2, page 4]", 2, Locator::Kind::Page, 4, 4},
            {"[doc 2 pp. 4-5]", 2, Locator::Kind::Page, 4, 5},
            {"[DOC #9 P. 11]", 9, Locator::Kind::Page, 11, 11},
            {"(doc 1, p. 2)", 1, Locator::Kind::Page, 2, 2},
            {"[doc 5 \xC2\xB6"
             "2]",
             5, Locator::Kind::Paragraph, 2, 2},
            {"[doc 5 para 2]", 5, Locator::Kind::Paragraph, 2, 2},
            {"[doc 4]", 4, Locator::Kind::Document, 0, 0},
        };
        for (const auto& k : cases) {
            const auto& c = only(parseCitations(k.text));
            QCOMPARE(c.docNumber, k.doc);
            QCOMPARE(c.where.kind, k.kind);
            QCOMPARE(c.where.first, k.first);
            QCOMPARE(c.where.last, k.last);
            QVERIFY2(!c.malformed, k.text);
        }
        const auto& t = only(parseCitations("[doc 7 12:31]"));
        QCOMPARE(t.where.beginMs, std::int64_t(751000));
        const auto& r = only(parseCitations("[doc 7 00:12:31-00:12:40]"));
        QCOMPARE(r.where.endMs, std::int64_t(760000));
    }
    void severalCitationsInOneBracket()
    {
        const auto c = parseCitations("Both apply [doc 1 p.2; doc 3 L4-9, doc 5 \xC2\xB6"
                                      "1].");
        QCOMPARE(c.size(), std::size_t(3));
        QCOMPARE(c[0].docNumber, 1);
        QCOMPARE(c[1].docNumber, 3);
        QCOMPARE(c[1].where.last, 9);
        QCOMPARE(c[2].docNumber, 5);
        QCOMPARE(c[0].offset, c[2].offset); // one mark
    }
    void bracketsThatAreNotCitations()
    {
        QVERIFY(parseCitations("See [1], [see above], [docs], [doctor 3], (doc) and [doc p.2].").empty());
        QVERIFY(parseCitations("").empty());
        QVERIFY(parseCitations("[doc 1 p.2").empty()); // never closed
    }
    void unreadablePlaceIsMalformed()
    {
        const auto& c = only(parseCitations("It says so [doc 3 q.7]."));
        QVERIFY(c.malformed);
        QCOMPARE(c.docNumber, 3);
    }
    void quotesInsideBeforeAndAfterTheMark()
    {
        const auto& in = only(parseCitations("Notice [doc 1 p.2: \"thirty (30) days written notice\"]."));
        QCOMPARE(*in.quote, std::string("thirty (30) days written notice"));
        const auto& curly = only(parseCitations("[doc 1 p.2 \xE2\x80\x9Cwritten notice\xE2\x80\x9D]"));
        QCOMPARE(*curly.quote, std::string("written notice"));
        const auto& before =
            only(parseCitations("The contract says \"governed by the laws of Ireland\" [doc 1 p.3]."));
        QCOMPARE(*before.quote, std::string("governed by the laws of Ireland"));
        const auto& after = only(parseCitations("Law: [doc 1 p.3] \"the laws of Ireland\"."));
        QCOMPARE(*after.quote, std::string("the laws of Ireland"));
        // A quote between two marks belongs to the mark after it.
        const auto two = parseCitations("[doc 1 p.1] \"twenty-four (24) months\" [doc 1 p.2] and more.");
        QCOMPARE(two.size(), std::size_t(2));
        QVERIFY(!two[0].quote);
        QCOMPARE(*two[1].quote, std::string("twenty-four (24) months"));
        // A ']' inside a quoted text does not end the mark.
        const auto& bracket = only(parseCitations("[doc 2 L1-3 \"schedule.get(hour] x\"]"));
        QCOMPARE(*bracket.quote, std::string("schedule.get(hour] x"));
    }
    void citationBelongsToItsSentence()
    {
        const std::string a =
            "The term is two years [doc 1 p.1]. Notice is thirty days. [doc 1 p.2] Law is Irish.";
        const auto c = parseCitations(a);
        QCOMPARE(c.size(), std::size_t(2));
        QCOMPARE(a.substr(c[0].sentenceBegin, c[0].sentenceEnd - c[0].sentenceBegin),
                 std::string("The term is two years [doc 1 p.1]."));
        // A mark that opens a sentence belongs to the sentence before it.
        QCOMPARE(a.substr(c[1].sentenceBegin, c[1].sentenceEnd - c[1].sentenceBegin),
                 std::string("Notice is thirty days."));
        QCOMPARE(claimText(a, c[0].sentenceBegin, c[0].sentenceEnd), std::string("The term is two years ."));
        const auto s = splitSentences(a);
        QCOMPARE(s.size(), std::size_t(3));
    }

    // ---- verification -----------------------------------------------------------------------
    void exactQuoteIsVerified()
    {
        const auto map = sampleMap();
        const std::string a =
            "Either side can end it: \"by giving thirty (30) days written notice\" [doc 1 p.2].";
        const auto check = checkAnswer(a, map);
        QCOMPARE(check.citations.size(), std::size_t(1));
        const auto& c = check.citations[0];
        QCOMPARE(c.status, CitationStatus::Verified);
        QVERIFY(c.matchSegment.has_value());
        QCOMPARE(*c.matchSegment, std::size_t(2));
        const auto& seg = map.segments[*c.matchSegment];
        QCOMPARE(seg.text.substr(c.matchBegin, c.matchEnd - c.matchBegin),
                 std::string("by giving thirty (30) days written notice"));
        QCOMPARE(seg.anchor.document, std::int64_t(41));
        QCOMPARE(check.usableCitations(), std::size_t(1));
        QVERIFY(check.attributions.empty()); // the only sentence is cited
    }
    void quoteToleratesCaseWhitespaceAndASmallDifference()
    {
        const auto map = sampleMap();
        const auto& c1 = only(parseCitations("[doc 1 p.2 \"EITHER  party may\nterminate this agreement\"]"));
        QCOMPARE(verifyCitation(c1, "", map).status, CitationStatus::Verified);
        // One misspelt word and one dropped word in a ten-word quote.
        const std::string a =
            "[doc 1 p.2 \"Either party may terminat this Agreement by giving thirty (30) days notice\"]";
        const auto v = verifyCitation(only(parseCitations(a)), a, map);
        QCOMPARE(v.status, CitationStatus::Verified);
        QVERIFY(v.score < 1.0 && v.score >= 0.8);
    }
    void quoteAcrossTwoSegmentsOfThePage()
    {
        const auto map = sampleMap();
        const std::string a = "[doc 1 p.2 \"days written notice to the other party. 8. Liability.\"]";
        QCOMPARE(verifyCitation(only(parseCitations(a)), a, map).status, CitationStatus::Verified);
    }
    void wrongNumberInQuoteIsNotVerified()
    {
        const auto map = sampleMap();
        const std::string a =
            "[doc 1 p.2 \"Either party may terminate this Agreement by giving sixty (60) days written "
            "notice\"]";
        const auto v = verifyCitation(only(parseCitations(a)), a, map);
        QCOMPARE(v.status, CitationStatus::QuoteNotFound);
        QVERIFY(!v.elsewhere);
        QVERIFY(!v.note.empty());
    }
    void shortQuoteMustBeExact()
    {
        const auto map = sampleMap();
        QCOMPARE(verifyCitation(only(parseCitations("[doc 1 p.3 \"laws of Irland\"]")), "", map).status,
                 CitationStatus::QuoteNotFound);
        QCOMPARE(verifyCitation(only(parseCitations("[doc 1 p.3 \"Ireland\"]")), "", map).status,
                 CitationStatus::Verified);
    }
    void quoteOnAnotherPageIsFlaggedAndLocated()
    {
        const auto map = sampleMap();
        const std::string a = "\"This Agreement is governed by the laws of Ireland\" [doc 1 p.1]";
        const auto v = verifyCitation(only(parseCitations(a)), a, map);
        QCOMPARE(v.status, CitationStatus::QuoteNotFound);
        QVERIFY(v.elsewhere.has_value());
        QCOMPARE(*v.elsewhere, std::size_t(4));
        QVERIFY(QString::fromStdString(v.note).contains("[doc 1 p.3]"));
    }
    void fabricatedQuoteIsNotFoundAnywhere()
    {
        const auto map = sampleMap();
        const std::string a = "\"The Customer may audit the Supplier once a year\" [doc 1 p.2]";
        const auto v = verifyCitation(only(parseCitations(a)), a, map);
        QCOMPARE(v.status, CitationStatus::QuoteNotFound);
        QVERIFY(!v.elsewhere);
        QVERIFY(v.score < 0.5);
    }
    void fabricatedDocumentAndPlaceAreUnresolved()
    {
        const auto map = sampleMap();
        const auto noDoc = verifyCitation(only(parseCitations("[doc 99 p.1]")), "", map);
        QCOMPARE(noDoc.status, CitationStatus::Unresolved);
        QVERIFY(QString::fromStdString(noDoc.note).contains("no doc 99"));
        const auto noPage = verifyCitation(only(parseCitations("[doc 1 p.9 \"Ireland\"]")), "", map);
        QCOMPARE(noPage.status, CitationStatus::Unresolved);
        QVERIFY(QString::fromStdString(noPage.note).contains("pages 1-3"));
        QCOMPARE(verifyCitation(only(parseCitations("[doc 2 L500-510]")), "", map).status,
                 CitationStatus::Unresolved);
        QCOMPARE(verifyCitation(only(parseCitations("[doc 3 01:00:00]")), "", map).status,
                 CitationStatus::Unresolved);
        // doc 4 is a gap in the numbering: not in the context.
        QCOMPARE(verifyCitation(only(parseCitations("[doc 4]")), "", map).status, CitationStatus::Unresolved);
        // A place of the wrong kind: a PDF has no line numbers.
        QCOMPARE(verifyCitation(only(parseCitations("[doc 1 L3]")), "", map).status,
                 CitationStatus::Unresolved);
        QCOMPARE(verifyCitation(only(parseCitations("[doc 1 q.3]")), "", map).status,
                 CitationStatus::Unresolved);
    }
    void resolvesLinesTimesAndParagraphs()
    {
        const auto map = sampleMap();
        QCOMPARE(map.resolve(2, {Locator::Kind::Lines, 2, 2, 0, 0}), (std::vector<std::size_t>{5}));
        QCOMPARE(map.resolve(2, {Locator::Kind::Lines, 3, 125, 0, 0}), (std::vector<std::size_t>{5, 6}));
        // 00:00:05 lies inside the second segment; 00:12:37 is 1.5 s after the third ends.
        QCOMPARE(map.resolve(3, {Locator::Kind::Time, 0, 0, 5000, 5000}), (std::vector<std::size_t>{8}));
        QCOMPARE(map.resolve(3, {Locator::Kind::Time, 0, 0, 757000, 757000}), (std::vector<std::size_t>{9}));
        QVERIFY(map.resolve(3, {Locator::Kind::Time, 0, 0, 760000, 760000}).empty());
        QCOMPARE(map.resolve(5, {Locator::Kind::Paragraph, 2, 2, 0, 0}), (std::vector<std::size_t>{11}));
        QCOMPARE(map.resolve(1, {}).size(), std::size_t(5));
        const std::string a =
            "[doc 2 L120-140 \"DEFAULT_SET_POINT = 19.5\"] [doc 3 00:12:32 \"maria will update the "
            "installer\"] [doc 5 \xC2\xB6"
            "2 \"renewed by the end of May\"]";
        const auto check = checkAnswer(a, map);
        QCOMPARE(check.citations.size(), std::size_t(3));
        for (const auto& c : check.citations)
            QCOMPARE(c.status, CitationStatus::Verified);
    }
    void claimWithoutQuoteIsSupportedOrNot()
    {
        const auto map = sampleMap();
        const std::string good = "Either party can terminate with thirty days written notice [doc 1 p.2].";
        QCOMPARE(checkAnswer(good, map).citations[0].status, CitationStatus::Supported);
        const std::string bad = "The office cafeteria serves vegetarian lunches daily [doc 1 p.2].";
        const auto v = checkAnswer(bad, map).citations[0];
        QCOMPARE(v.status, CitationStatus::Unsupported);
        QVERIFY(!isUsable(v.status));
        const std::string bare = "[doc 1 p.2]";
        QCOMPARE(checkAnswer(bare, map).citations[0].status, CitationStatus::Unsupported);
    }
    void sourceMapFindsSegmentsByToken()
    {
        const auto map = sampleMap();
        QVERIFY(map.segmentAtToken(0) == nullptr); // the prompt before the first segment
        QCOMPARE(map.segmentAtToken(10)->segmentId, std::int64_t(100));
        QCOMPARE(map.segmentAtToken(49)->segmentId, std::int64_t(101));
        QVERIFY(map.segmentAtToken(10 + 20 * 13) == nullptr);
        QCOMPARE(map.markFor(2), std::string("[doc 1 p.2]"));
        QCOMPARE(map.markFor(6), std::string("[doc 2 L120-140]"));
        QCOMPARE(map.markFor(9), std::string("[doc 3 00:12:31]"));
    }

    // ---- attribution ------------------------------------------------------------------------
    void uncitedSentencesAreAttributed()
    {
        const auto map = sampleMap();
        const std::string a = "The agreement can be terminated with thirty days written notice. "
                              "It is governed by Irish law, the laws of Ireland. Bananas are yellow.";
        const auto check = checkAnswer(a, map);
        QVERIFY(check.citations.empty());
        QVERIFY(check.attributions.size() >= 2);
        // Best attribution of each sentence, in sentence order.
        std::vector<std::size_t> firsts;
        std::size_t lastSentence = SIZE_MAX;
        for (const auto& at : check.attributions) {
            if (at.sentenceBegin != lastSentence) {
                firsts.push_back(at.segment);
                lastSentence = at.sentenceBegin;
            }
            QVERIFY(at.coverage >= 0.34);
        }
        QCOMPARE(firsts.size(), std::size_t(2)); // nothing for the bananas
        QCOMPARE(firsts[0], std::size_t(2));     // termination, doc 1 p.2
        QCOMPARE(firsts[1], std::size_t(4));     // governing law, doc 1 p.3
    }
    void attributionSkipsSentencesWithAUsableCitation()
    {
        const auto map = sampleMap();
        const std::string a = "Notice is \"thirty (30) days written notice\" [doc 1 p.2]. "
                              "The release is planned for friday. Notice period thirty days [doc 9 p.1].";
        const auto check = checkAnswer(a, map);
        QCOMPARE(check.citations.size(), std::size_t(2));
        QCOMPARE(check.usableCitations(), std::size_t(1));
        QCOMPARE(check.flaggedCitations(), std::size_t(1));
        bool releaseAttributed = false, firstAttributed = false, fabricatedAttributed = false;
        for (const auto& at : check.attributions) {
            const auto sentence = a.substr(at.sentenceBegin, at.sentenceEnd - at.sentenceBegin);
            if (sentence.starts_with("The release"))
                releaseAttributed = map.segments[at.segment].anchor.document == 43;
            if (sentence.starts_with("Notice is"))
                firstAttributed = true;
            if (sentence.starts_with("Notice period"))
                fabricatedAttributed = map.segments[at.segment].docNumber == 1;
        }
        QVERIFY(releaseAttributed);
        QVERIFY(!firstAttributed);
        QVERIFY(fabricatedAttributed); // the fabricated citation does not hide the sentence
    }
};

QTEST_GUILESS_MAIN(TestCitation)
#include "test_citation.moc"
