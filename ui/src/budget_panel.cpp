#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

#include "quire/ui/panels.h"

namespace quire::ui {

namespace {
QString num(std::int64_t n)
{
    return QLocale().toString(qlonglong(n));
}
} // namespace

BudgetPanel::BudgetPanel(QWidget* parent) : QWidget(parent), m_model(new BudgetModel(this))
{
    setObjectName("budgetPanel");
    auto* layout = new QVBoxLayout(this);
    m_modelLabel = new QLabel(tr("No budget yet: choose a workspace."), this);
    m_modelLabel->setObjectName("budgetModelLabel");
    m_modelLabel->setWordWrap(true);
    m_summary = new QLabel(this);
    m_summary->setObjectName("budgetSummary");
    m_contextBar = new QProgressBar(this);
    m_contextBar->setObjectName("contextBar");
    m_contextBar->setRange(0, 1);
    m_contextBar->setValue(0);
    m_contextBar->setFormat(tr("%p% of the context window"));
    m_kv = new QLabel(this);
    m_kv->setObjectName("kvMemory");
    m_estimate = new QLabel(this);
    m_estimate->setObjectName("prefillEstimate");
    m_advice = new QLabel(this);
    m_advice->setWordWrap(true);
    for (auto* l : {m_summary, m_kv, m_estimate}) {
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        l->setWordWrap(true);
    }
    auto* refresh = new QPushButton(tr("Recompute &budget"), this);
    refresh->setObjectName("budgetRefresh");
    connect(refresh, &QPushButton::clicked, this, &BudgetPanel::budgetRequested);
    auto* top = new QHBoxLayout;
    top->addWidget(m_modelLabel, 1);
    top->addWidget(refresh);
    layout->addLayout(top);
    layout->addWidget(m_summary);
    layout->addWidget(m_contextBar);
    layout->addWidget(m_kv);
    layout->addWidget(m_estimate);
    layout->addWidget(m_advice);

    auto* table = new QTableView(this);
    table->setObjectName("budgetTable");
    table->setModel(m_model);
    table->verticalHeader()->hide();
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table->horizontalHeader()->setSectionResizeMode(BudgetModel::SourceColumn, QHeaderView::Stretch);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    layout->addWidget(table, 1);
    connect(m_model, &BudgetModel::inclusionChanged, this, &BudgetPanel::inclusionChanged);

    auto* box = new QGroupBox(tr("Prefill"), this);
    auto* bl = new QVBoxLayout(box);
    m_prefillBar = new QProgressBar(box);
    m_prefillBar->setObjectName("prefillBar");
    m_prefillBar->setRange(0, 1);
    m_prefillBar->setValue(0);
    m_eta = new QLabel(tr("Not prefilled."), box);
    m_eta->setObjectName("prefillEta");
    m_eta->setWordWrap(true);
    auto* row = new QHBoxLayout;
    m_prefill = new QPushButton(tr("&Prefill"), box);
    m_prefill->setObjectName("prefillButton");
    m_pause = new QPushButton(tr("P&ause"), box);
    m_pause->setObjectName("pauseButton");
    m_cancel = new QPushButton(tr("Ca&ncel"), box);
    m_cancel->setObjectName("cancelPrefill");
    row->addWidget(m_prefill);
    row->addWidget(m_pause);
    row->addWidget(m_cancel);
    row->addStretch();
    bl->addWidget(m_prefillBar);
    bl->addWidget(m_eta);
    bl->addLayout(row);
    layout->addWidget(box);
    connect(m_prefill, &QPushButton::clicked, this, &BudgetPanel::prefillRequested);
    connect(m_pause, &QPushButton::clicked, this, &BudgetPanel::pauseRequested);
    connect(m_cancel, &QPushButton::clicked, this, &BudgetPanel::cancelRequested);
    updateButtons();
}

void BudgetPanel::setPrefillShortcut(const QKeySequence& key)
{
    m_prefillShortcut = key;
}

QString BudgetPanel::estimateText() const
{
    return m_estimate->text();
}

QString BudgetPanel::summaryText() const
{
    return m_summary->text();
}

QString BudgetPanel::etaText() const
{
    return m_eta->text();
}

void BudgetPanel::updateButtons()
{
    const bool running = m_state == PrefillState::Running;
    m_prefill->setEnabled(!running);
    m_prefill->setText(m_state == PrefillState::Paused ? tr("Res&ume") : tr("&Prefill"));
    m_pause->setEnabled(running);
    m_cancel->setEnabled(running || m_state == PrefillState::Paused);
}

void BudgetPanel::clear()
{
    m_model->clear();
    m_modelLabel->setText(tr("No budget yet: choose a workspace."));
    m_summary->clear();
    m_kv->clear();
    m_estimate->clear();
    m_advice->clear();
    m_contextBar->setRange(0, 1);
    m_contextBar->setValue(0);
    m_prefillBar->setRange(0, 1);
    m_prefillBar->setValue(0);
    m_eta->setText(tr("Not prefilled."));
    m_state = PrefillState::Idle;
    updateButtons();
}

void BudgetPanel::setBudgetPending()
{
    m_modelLabel->setText(tr("Counting tokens (the model loads on first use)…"));
}

void BudgetPanel::setBudget(const app::BudgetResult& r)
{
    const auto& rep = r.report;
    m_model->setReport(rep);
    m_modelLabel->setText(tr("Model %1 on %2; prefix cache: %3")
                              .arg(QString::fromStdString(r.modelName), QString::fromStdString(r.backend),
                                   QString::fromStdString(r.prefixCache)));
    const auto window = rep.input.contextWindow;
    m_summary->setText(tr("%1 context tokens (+%2 kept for the question and answer) of %3%4")
                           .arg(num(rep.contextTokens), num(rep.input.reserveTokens), num(window),
                                rep.allExact ? QString() : tr(" (some counts estimated)")));
    // QProgressBar holds ints; scale to thousandths of the window.
    m_contextBar->setRange(0, 1000);
    m_contextBar->setValue(window > 0 ? int(std::min<std::int64_t>(1000, rep.neededTokens * 1000 / window))
                                      : 0);
    m_contextBar->setFormat(
        rep.fits ? tr("%1 % of the context window").arg(window > 0 ? rep.neededTokens * 100 / window : 0)
                 : tr("over the window by %1 tokens").arg(num(rep.overBy)));
    m_contextBar->setStyleSheet(rep.fits ? QString()
                                         : QStringLiteral("QProgressBar::chunk { background: #c62828; }"));
    m_kv->setText(tr("KV memory: %1 (%2)")
                      .arg(QString::fromStdString(app::formatBytes(rep.kv.totalBytes)),
                           QString::fromStdString(rep.kv.formula)));
    if (rep.prefillSeconds) {
        m_estimate->setText(tr("Prefill estimate: %1 (%2)")
                                .arg(QString::fromStdString(app::formatDuration(*rep.prefillSeconds)),
                                     QString::fromStdString(rep.input.throughputNote)));
    } else if (!rep.input.prefillTokensPerSecond) {
        // The app's note names the CLI; here the panel's own Prefill measures the speed.
        const QString key = m_prefillShortcut.toString(QKeySequence::NativeText);
        m_estimate->setText(key.isEmpty()
                                ? tr("Prefill estimate: unknown until this model's speed is measured: "
                                     "Prefill below measures it.")
                                : tr("Prefill estimate: unknown until this model's speed is measured: "
                                     "Prefill below (%1) measures it.")
                                      .arg(key));
    } else {
        m_estimate->setText(
            tr("Prefill estimate: unknown (%1)").arg(QString::fromStdString(rep.input.throughputNote)));
    }
    if (!rep.fits && !rep.suggestExclude.empty()) {
        QStringList docs;
        for (int n : rep.suggestExclude)
            docs << tr("doc %1").arg(n);
        m_advice->setText(tr("It does not fit. Leaving out %1 would make it fit (untick them below).")
                              .arg(docs.join(", ")));
    } else {
        m_advice->setText(rep.fits ? QString()
                                   : tr("It does not fit; nothing is cut: leave documents out below."));
    }
}

void BudgetPanel::setBudgetFailed(const QString& message)
{
    m_modelLabel->setText(tr("No budget: %1").arg(message));
}

void BudgetPanel::prefillStarted()
{
    m_state = PrefillState::Running;
    m_firstDone = -1;
    m_clock.start();
    m_prefillBar->setRange(0, 0);
    m_eta->setText(tr("Preparing the context…"));
    updateButtons();
}

void BudgetPanel::prefillProgress(qint64 done, qint64 total)
{
    if (m_state != PrefillState::Running)
        return;
    if (m_firstDone < 0) {
        m_firstDone = done; // what the prefix cache provided, or the first block
        m_clock.restart();
    }
    m_lastDone = done;
    m_lastTotal = total;
    m_prefillBar->setRange(0, 1000);
    m_prefillBar->setValue(total > 0 ? int(done * 1000 / total) : 0);
    m_prefillBar->setFormat(tr("%1 of %2 tokens").arg(num(done), num(total)));
    const double secs = double(m_clock.elapsed()) / 1000.0;
    const qint64 computed = done - m_firstDone;
    if (computed > 0 && secs > 0.05) {
        const double rate = double(computed) / secs;
        m_eta->setText(tr("%1 tokens/s, about %2 left")
                           .arg(QString::number(rate, 'f', 0),
                                QString::fromStdString(app::formatDuration(double(total - done) / rate))));
    } else {
        m_eta->setText(tr("Prefilling…"));
    }
}

void BudgetPanel::prefillFinished(const app::PrefillResult& r)
{
    m_state = PrefillState::Done;
    m_prefillBar->setRange(0, 1000);
    m_prefillBar->setValue(1000);
    m_prefillBar->setFormat(tr("%1 tokens held").arg(num(r.stats.contextTokens)));
    m_eta->setText(tr("Prefilled %1 tokens (%2 reused, %3 computed in %4).")
                       .arg(num(r.stats.contextTokens), num(r.stats.reusedTokens),
                            num(r.stats.computedTokens),
                            QString::fromStdString(app::formatDuration(r.stats.seconds))));
    updateButtons();
}

void BudgetPanel::prefillPaused(const QString& message)
{
    m_state = PrefillState::Paused;
    m_eta->setText(tr("Paused: %1. Resume continues from the tokens held.").arg(message));
    updateButtons();
}

void BudgetPanel::prefillFailed(const QString& message)
{
    m_state = PrefillState::Idle;
    m_prefillBar->setRange(0, 1);
    m_prefillBar->setValue(0);
    m_eta->setText(message);
    updateButtons();
}

void BudgetPanel::setResumable(const QString& workspace)
{
    m_state = PrefillState::Paused;
    m_eta->setText(tr("The prefill of \"%1\" was interrupted when Quire closed. Resume recomputes what is "
                      "not held (KV snapshots restore it once available).")
                       .arg(workspace));
    updateButtons();
}

} // namespace quire::ui
