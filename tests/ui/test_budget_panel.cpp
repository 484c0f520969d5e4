// The budget panel: tokens per source with a share and an inclusion tick, the bar against the
// context window (red and with advice when it does not fit), KV memory, the prefill estimate;
// and the prefill's progress, ETA, pause and resume states.
#include <QAbstractItemModelTester>
#include <QProgressBar>
#include <QPushButton>
#include <QTest>

#include "quire/ui/panels.h"
#include "ui_test_support.h"

using namespace quire;
using namespace quire::ui;

namespace {

app::BudgetResult budget(std::int64_t window, bool measured = true)
{
    app::BudgetInput in;
    for (int i = 1; i <= 3; ++i) {
        app::SourceBudget s;
        s.number = i;
        s.path = "/c/doc" + std::to_string(i) + ".txt";
        s.displayPath = "doc" + std::to_string(i) + ".txt";
        s.estimatedTokens = 1000 * i;
        s.exactTokens = 1000 * i;
        s.inContext = true;
        in.sources.push_back(s);
    }
    in.promptTokens = 100;
    in.contextWindow = window;
    in.reserveTokens = 400;
    in.config.nLayers = 2;
    in.config.nKvHeads = 2;
    in.config.headDim = 8;
    if (measured) {
        in.prefillTokensPerSecond = 500;
        in.throughputNote = "measured";
    } else {
        in.throughputNote = "not measured yet (run quire-cli prefill once)"; // the app's note
    }
    app::BudgetResult r;
    r.report = app::computeBudget(in);
    r.modelName = "TestModel";
    r.backend = "cpu";
    r.prefixCache = "in memory";
    return r;
}

} // namespace

class TestBudgetPanel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { uitest::isolateSettings("ui_budget_panel"); }

    void model()
    {
        BudgetModel m;
        QAbstractItemModelTester tester(&m, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const auto r = budget(8192);
        m.setReport(r.report);
        QCOMPARE(m.rowCount(), 3);
        QCOMPARE(m.index(2, BudgetModel::TokensColumn).data().toString(), QString("3,000"));
        QCOMPARE(m.index(0, BudgetModel::IncludedColumn).data(Qt::CheckStateRole).toInt(), int(Qt::Checked));
        QVERIFY(m.flags(m.index(0, BudgetModel::IncludedColumn)) & Qt::ItemIsUserCheckable);
        int doc = 0;
        bool included = true;
        connect(&m, &BudgetModel::inclusionChanged, this, [&](int d, bool in) {
            doc = d;
            included = in;
        });
        m.setData(m.index(1, BudgetModel::IncludedColumn), Qt::Unchecked, Qt::CheckStateRole);
        QCOMPARE(doc, 2);
        QVERIFY(!included);
        // Share of the context: 3000 of 6100.
        QCOMPARE(m.index(2, BudgetModel::ShareColumn).data().toString(), QString("49.2 %"));
    }

    void fitsAndDoesNot()
    {
        BudgetPanel panel;
        panel.resize(620, 600);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        panel.setBudget(budget(8192));
        QVERIFY(panel.summaryText().contains("6,100"));
        QCOMPARE(panel.contextBar()->value(), int(6500 * 1000 / 8192));
        QVERIFY(uitest::screenshot(&panel, "budget_panel"));
        panel.setBudget(budget(4096));
        QCOMPARE(panel.contextBar()->value(), 1000);
        QVERIFY(panel.contextBar()->text().contains("over the window"));
    }

    // Before the first prefill the speed is unknown: the panel points to its own Prefill and the
    // window's shortcut for it, not to the command line.
    void unmeasuredSpeedPointsToPrefill()
    {
        BudgetPanel panel;
        panel.setBudget(budget(8192));
        QVERIFY2(panel.estimateText().contains("measured"), qPrintable(panel.estimateText()));
        QVERIFY(!panel.estimateText().contains("unknown"));
        panel.setBudget(budget(8192, false));
        QVERIFY2(!panel.estimateText().contains("quire-cli"), qPrintable(panel.estimateText()));
        QVERIFY(panel.estimateText().contains("unknown"));
        QVERIFY(panel.estimateText().contains("Prefill below"));
        panel.setPrefillShortcut(QKeySequence(Qt::CTRL | Qt::Key_P));
        panel.setBudget(budget(8192, false));
        const QString key = QKeySequence(Qt::CTRL | Qt::Key_P).toString(QKeySequence::NativeText);
        QVERIFY2(panel.estimateText().contains("Prefill below (" + key + ")"),
                 qPrintable(panel.estimateText()));
    }

    void prefillStates()
    {
        BudgetPanel panel;
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QCOMPARE(panel.prefillState(), BudgetPanel::PrefillState::Idle);
        panel.prefillStarted();
        QCOMPARE(panel.prefillState(), BudgetPanel::PrefillState::Running);
        panel.prefillProgress(0, 1000);
        QTest::qWait(120);
        panel.prefillProgress(250, 1000);
        QCOMPARE(panel.prefillBar()->value(), 250);
        QVERIFY2(panel.etaText().contains("left"), qPrintable(panel.etaText()));
        panel.prefillPaused("prefill cancelled after 250 of 1000 tokens");
        QCOMPARE(panel.prefillState(), BudgetPanel::PrefillState::Paused);
        QVERIFY(panel.etaText().startsWith("Paused"));
        bool resumed = false;
        connect(&panel, &BudgetPanel::prefillRequested, this, [&] { resumed = true; });
        panel.findChild<QPushButton*>("prefillButton")->click();
        QVERIFY(resumed);
        app::PrefillResult done;
        done.stats.contextTokens = 1000;
        done.stats.reusedTokens = 250;
        done.stats.computedTokens = 750;
        panel.prefillStarted();
        panel.prefillFinished(done);
        QCOMPARE(panel.prefillState(), BudgetPanel::PrefillState::Done);
        QVERIFY(panel.etaText().contains("250 reused"));
        panel.setResumable("Sample");
        QCOMPARE(panel.prefillState(), BudgetPanel::PrefillState::Paused);
        QVERIFY(panel.etaText().contains("Sample"));
    }
};

QTEST_MAIN(TestBudgetPanel)
#include "test_budget_panel.moc"
