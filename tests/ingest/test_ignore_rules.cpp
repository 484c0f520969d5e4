#include <QTest>

#include "quire/ingest/ignore_rules.h"

using namespace quire::ingest;

class TestIgnoreRules : public QObject {
    Q_OBJECT
private slots:
    void globBasics()
    {
        QVERIFY(globMatch("*.log", "a.log"));
        QVERIFY(!globMatch("*.log", "dir/a.log")); // '*' stops at '/'
        QVERIFY(globMatch("a?c", "abc"));
        QVERIFY(!globMatch("a?c", "a/c"));
        QVERIFY(globMatch("[a-c]x", "bx"));
        QVERIFY(!globMatch("[!a-c]x", "bx"));
        QVERIFY(globMatch("[!a-c]x", "dx"));
        QVERIFY(globMatch("\\*star", "*star"));
        QVERIFY(!globMatch("\\*star", "xstar"));
    }
    void doubleStar()
    {
        QVERIFY(globMatch("**/foo", "foo"));
        QVERIFY(globMatch("**/foo", "a/b/foo"));
        QVERIFY(globMatch("a/**/b", "a/b"));
        QVERIFY(globMatch("a/**/b", "a/x/y/b"));
        QVERIFY(!globMatch("a/**/b", "a/x/y/c"));
        QVERIFY(globMatch("abc/**", "abc/x/y"));
        QVERIFY(!globMatch("abc/**", "abc"));
    }
    void rulesNegationAndOrder()
    {
        IgnoreRules r;
        r.addRules("# comment\n*.log\n!keep.log\n\n\\#hash\nbuild/\n/top.txt\ndoc/*.md\ntrailing   \n");
        QCOMPARE(r.match("a.log", false), std::optional<bool>(true));
        QCOMPARE(r.match("sub/a.log", false), std::optional<bool>(true));
        QCOMPARE(r.match("keep.log", false), std::optional<bool>(false)); // negated: re-included
        QCOMPARE(r.match("#hash", false), std::optional<bool>(true));
        QCOMPARE(r.match("build", true), std::optional<bool>(true));
        QCOMPARE(r.match("build", false), std::nullopt); // directory-only pattern, plain file
        QCOMPARE(r.match("x/build", true), std::optional<bool>(true));
        QCOMPARE(r.match("top.txt", false), std::optional<bool>(true));
        QCOMPARE(r.match("sub/top.txt", false), std::nullopt); // anchored to this folder
        QCOMPARE(r.match("doc/a.md", false), std::optional<bool>(true));
        QCOMPARE(r.match("doc/x/a.md", false), std::nullopt);
        QCOMPARE(r.match("trailing", false), std::optional<bool>(true));
        QCOMPARE(r.match("main.cpp", false), std::nullopt);
    }
    void deeperFilesWin()
    {
        IgnoreStack stack;
        IgnoreRules top;
        top.addRules("*.txt\n");
        stack.push("", top);
        IgnoreRules sub;
        sub.addRules("!keep.txt\n");
        stack.push("sub", sub);
        QVERIFY(stack.ignored("a.txt", false));
        QVERIFY(stack.ignored("sub/a.txt", false));
        QVERIFY(!stack.ignored("sub/keep.txt", false));
        QVERIFY(stack.ignored("keep.txt", false));        // the sub rule only applies below sub/
        QVERIFY(stack.ignored("subway/keep.txt", false)); // "sub" rules do not leak into "subway"
    }
};

QTEST_GUILESS_MAIN(TestIgnoreRules)
#include "test_ignore_rules.moc"
