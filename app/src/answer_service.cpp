#include "quire/app/answer_service.h"

#include <QDateTime>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <mutex>

#include "quire/app/answer_json.h"
#include "quire/app/kv_snapshots.h"
#include "quire/storage/catalog.h"
#include "quire/storage/conversations.h"

namespace quire::app {

// ---- throughput log ------------------------------------------------------------------------

namespace {

std::mutex& throughputMutex()
{
    static std::mutex m;
    return m;
}

QString throughputFile(const QString& dataDir)
{
    return dataDir + "/throughput.json";
}

} // namespace

std::optional<Throughput> loadThroughput(const QString& dataDir, const std::string& fingerprint)
{
    std::lock_guard lock(throughputMutex());
    QFile f(throughputFile(dataDir));
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    const auto o =
        QJsonDocument::fromJson(f.readAll()).object()[QString::fromStdString(fingerprint)].toObject();
    if (o.isEmpty() || o["tokensPerSecond"].toDouble() <= 0)
        return std::nullopt;
    return Throughput{o["tokensPerSecond"].toDouble(), o["tokens"].toInteger(),
                      o["measuredUnix"].toInteger()};
}

void saveThroughput(const QString& dataDir, const std::string& fingerprint, const Throughput& t)
{
    std::lock_guard lock(throughputMutex());
    QJsonObject root;
    {
        QFile f(throughputFile(dataDir));
        if (f.open(QIODevice::ReadOnly))
            root = QJsonDocument::fromJson(f.readAll()).object();
    }
    root[QString::fromStdString(fingerprint)] = QJsonObject{{"tokensPerSecond", t.tokensPerSecond},
                                                            {"tokens", qint64(t.tokens)},
                                                            {"measuredUnix", qint64(t.measuredUnix)}};
    QSaveFile f(throughputFile(dataDir));
    if (f.open(QIODevice::WriteOnly)) {
        f.write(QJsonDocument(root).toJson());
        f.commit();
    }
}

// ---- service -------------------------------------------------------------------------------

AnswerService::AnswerService(ServiceConfig config, QObject* parent)
    : QObject(parent),
      m_thread(std::make_unique<WorkerThread<AnswerWorker>>("quire-answer", std::move(config)))
{
    auto* w = m_thread->worker();
    connect(w, &AnswerWorker::modelLoaded, this, &AnswerService::modelLoaded);
    connect(w, &AnswerWorker::budgetReady, this, &AnswerService::budgetReady);
    connect(w, &AnswerWorker::prefillProgress, this, &AnswerService::prefillProgress);
    connect(w, &AnswerWorker::prefilled, this, &AnswerService::prefilled);
    connect(w, &AnswerWorker::answerText, this, &AnswerService::answerText);
    connect(w, &AnswerWorker::answered, this, &AnswerService::answered);
    connect(w, &AnswerWorker::snapshotRestored, this, &AnswerService::snapshotRestored);
    connect(w, &AnswerWorker::failed, this, &AnswerService::failed);
}

AnswerService::~AnswerService() = default;

void AnswerService::cancel(quint64 id)
{
    m_thread->cancel(id);
}

quint64 AnswerService::budget(const QString& workspace, bool measure)
{
    return post(
        [ws = workspace.toStdString(), measure](AnswerWorker& w, quint64 id, const std::atomic<bool>* c) {
            w.budget(id, ws, measure, c);
        });
}

quint64 AnswerService::prefill(const QString& workspace)
{
    return post([ws = workspace.toStdString()](AnswerWorker& w, quint64 id, const std::atomic<bool>* c) {
        w.prefill(id, ws, c);
    });
}

quint64 AnswerService::ask(const AskRequest& request)
{
    return post(
        [request](AnswerWorker& w, quint64 id, const std::atomic<bool>* c) { w.ask(id, request, c); });
}

quint64 AnswerService::restoreSnapshot(const QString& workspace, const QString& name)
{
    return post([ws = workspace.toStdString(), n = name.toStdString()](AnswerWorker& w, quint64 id,
                                                                        const std::atomic<bool>* c) {
        w.restoreSnapshot(id, ws, n, c);
    });
}

// ---- worker --------------------------------------------------------------------------------

void AnswerWorker::fail(quint64 id, const std::string& message, int kind)
{
    emit failed(id, QString::fromStdString(message), kind);
}

void AnswerWorker::failEngine(quint64 id, const EngineError& e)
{
    int kind = AnswerService::General;
    switch (e.code) {
    case EngineError::Code::Model:
        kind = AnswerService::Model;
        break;
    case EngineError::Code::DoesNotFit:
        kind = AnswerService::DoesNotFit;
        break;
    case EngineError::Code::Cancelled:
        kind = AnswerService::Cancelled;
        break;
    default:
        break;
    }
    fail(id, e.message, kind);
}

std::expected<storage::Database*, std::string> AnswerWorker::db()
{
    return readConnection(m_db, m_config.libraryPath);
}

bool AnswerWorker::ensureEngine(quint64 id)
{
    if (m_engine)
        return true;
    std::unique_ptr<PrefixCache> cache;
    if (m_config.writer && !m_config.libraryPath.isEmpty()) {
        SnapshotOptions so;
        so.denseBlockTokens = m_config.engine.prefillBlock;
        cache = std::make_unique<StoredPrefixCache>(m_config.libraryPath.toStdString(), m_config.writer, so);
    }
    auto e = AnswerEngine::open(m_config.engine, std::move(cache));
    if (!e) {
        failEngine(id, e.error());
        return false;
    }
    m_engine = std::move(*e);
    emit modelLoaded(id, QString::fromStdString(m_engine->model().name()), m_engine->contextWindow());
    return true;
}

std::optional<AnswerWorker::Prepared> AnswerWorker::prepare(quint64 id, const std::string& workspace,
                                                            const std::atomic<bool>* cancel)
{
    auto d = db();
    if (!d) {
        fail(id, d.error());
        return std::nullopt;
    }
    auto ws = findWorkspace(**d, workspace);
    if (!ws) {
        fail(id, ws.error());
        return std::nullopt;
    }
    // Without segment text first: when the documents are the ones last assembled, the cached
    // context is used as it is.
    auto content = loadWorkspaceContent(**d, m_config.dataDir, *ws, false);
    if (!content) {
        fail(id, content.error());
        return std::nullopt;
    }
    if (content->layoutChanged)
        (void)content->layout.save(m_config.dataDir);
    auto preset = loadPreset(content->layout.preset);
    if (!preset) {
        fail(id, preset.error());
        return std::nullopt;
    }
    if (!ensureEngine(id))
        return std::nullopt;
    m_engine->setWorkspace(ws->id);
    // The context depends on the preset, the workspace name and each included document's id,
    // number, batch and segment count (a re-ingested document gets a new id).
    std::string key =
        m_engine->fingerprint() + "|" + std::to_string(ws->id) + "|" + ws->name + "|" + preset->key;
    for (const auto& doc : content->documents)
        key += "|" + std::to_string(doc.number) + ":" + std::to_string(doc.documentId) + ":" +
               std::to_string(doc.batch) + ":" + std::to_string(doc.storedSegments);
    if (key != m_contextKey || !m_context) {
        auto full = loadWorkspaceContent(**d, m_config.dataDir, *ws, true);
        if (!full) {
            fail(id, full.error());
            return std::nullopt;
        }
        AssemblyInput in{ws->name, *preset, full->documents};
        auto ctx = assembleContext(in, m_engine->tokenizer(), m_engine->chatTemplate(), {}, cancel);
        if (!ctx) {
            fail(id, ctx.error().message,
                 ctx.error().cancelled ? AnswerService::Cancelled : AnswerService::General);
            return std::nullopt;
        }
        m_context = std::make_shared<const AssembledContext>(std::move(*ctx));
        m_contextKey = key;
        // Exact counts per segment (mark included) for the catalog; not waited for.
        std::vector<std::pair<std::int64_t, int>> counts;
        for (const auto& s : m_context->map.segments) {
            if (s.segmentId > 0)
                counts.push_back({s.segmentId, int(s.tokenEnd - s.tokenBegin)});
        }
        if (!counts.empty())
            m_config.writer->submit(
                [counts](storage::Database& w) { return storage::Catalog(w).setTokenCounts(counts); });
    }
    if (m_context->map.documents.empty()) {
        fail(id, "workspace \"" + ws->name + "\" has no document with text in the context" +
                     (content->sources.empty() ? " (add sources: quire-cli workspace add)" : ""));
        return std::nullopt;
    }
    return Prepared{std::move(*content), std::move(*preset), m_context};
}

void AnswerWorker::recordThroughput(const PrefillStats& stats)
{
    if (stats.computedTokens >= 64 && stats.tokensPerSecond > 0)
        saveThroughput(m_config.dataDir, m_engine->fingerprint(),
                       {stats.tokensPerSecond, stats.computedTokens, QDateTime::currentSecsSinceEpoch()});
}

void AnswerWorker::budget(quint64 id, const std::string& workspace, bool measure,
                          const std::atomic<bool>* cancel)
{
    auto p = prepare(id, workspace, cancel);
    if (!p)
        return;
    const AssembledContext& ctx = *p->context;
    applyExactCounts(p->content, ctx);
    // Excluded documents are counted too (in a context holding every document), so the user
    // sees what taking one back would cost.
    if (!p->content.excludedDocuments.empty()) {
        auto full = loadWorkspaceContent(**db(), m_config.dataDir, p->content.workspace, true);
        if (!full)
            return fail(id, full.error());
        std::vector<ContextDocument> all = full->documents;
        all.insert(all.end(), full->excludedDocuments.begin(), full->excludedDocuments.end());
        std::stable_sort(all.begin(), all.end(), [&](const ContextDocument& a, const ContextDocument& b) {
            return full->layout.entryForNumber(a.number) < full->layout.entryForNumber(b.number);
        });
        AssemblyInput everything{p->content.workspace.name, p->preset, std::move(all)};
        auto counted =
            assembleContext(everything, m_engine->tokenizer(), m_engine->chatTemplate(), {}, cancel);
        if (counted) {
            for (auto& s : p->content.sources) {
                if (!s.excluded)
                    continue;
                for (const auto& d : counted->perDocument) {
                    if (d.number == s.number)
                        s.exactTokens = d.tokens;
                }
            }
        }
    }
    BudgetInput in;
    in.sources = p->content.sources;
    in.promptTokens = ctx.promptTokens + ctx.overviewTokens;
    in.contextWindow = m_engine->contextWindow();
    in.reserveTokens = m_engine->reserveTokens(p->preset, AskRequest{}.maxTokens);
    in.config = m_engine->model().config();
    in.llama4 = llama4ConfigOf(*m_engine->model().weights());
    const auto& engine = m_engine->options();
    if (in.llama4) {
        const auto kv = llama4KvBytesPerElement(engine.backend, engine.kvDtype);
        in.kvBytesPerElement = kv.global;
        in.chunkedKvBytesPerElement = kv.chunked;
    } else {
        in.kvBytesPerElement = kvBytesPerElement(engine.backend, engine.kvDtype);
    }
    auto tp = loadThroughput(m_config.dataDir, m_engine->fingerprint());
    // Measuring prefills the start of the context; never when the session holds a context
    // already (it would be cut back to that start).
    if (!tp && measure && !ctx.tokens.empty() && m_engine->heldTokens() == 0) {
        const std::size_t n = std::min<std::size_t>(256, ctx.tokens.size());
        auto st = m_engine->prefill(std::span(ctx.tokens).first(n), 0, {}, cancel);
        if (st && !st->cancelled && st->computedTokens > 0) {
            tp = Throughput{st->tokensPerSecond, st->computedTokens, QDateTime::currentSecsSinceEpoch()};
            recordThroughput(*st);
        }
    }
    if (tp) {
        in.prefillTokensPerSecond = tp->tokensPerSecond;
        in.throughputNote =
            "measured over " + std::to_string(tp->tokens) + " tokens on " +
            QDateTime::fromSecsSinceEpoch(tp->measuredUnix).toString("yyyy-MM-dd hh:mm").toStdString();
    } else {
        in.throughputNote = "not measured yet (run quire-cli prefill once)";
    }
    BudgetResult r;
    r.report = computeBudget(std::move(in));
    r.workspace.id = p->content.workspace.id;
    r.workspace.name = p->content.workspace.name;
    r.workspace.preset = p->preset.key;
    r.modelName = m_engine->model().name();
    r.backend = m_engine->options().backend;
    r.prefixCache = m_engine->prefixCache().describe();
    emit budgetReady(id, r);
}

void AnswerWorker::restoreSnapshot(quint64 id, const std::string& workspace, const std::string& name,
                                   const std::atomic<bool>* cancel)
{
    auto d = db();
    if (!d)
        return fail(id, d.error());
    auto ws = findWorkspace(**d, workspace);
    if (!ws)
        return fail(id, ws.error());
    if (!ensureEngine(id))
        return;
    m_engine->setWorkspace(ws->id);
    auto r = m_engine->restoreSnapshot(
        ws->id, name, [&](std::int64_t done, std::int64_t total) { emit prefillProgress(id, done, total); },
        cancel);
    // A restore stopped between blocks fails; one whose stop came after its last block is complete.
    if (!r)
        return fail(id, r.error(), cancel && cancel->load() ? AnswerService::Cancelled : AnswerService::General);
    emit snapshotRestored(id, QString::fromStdString(*r), m_engine->heldTokens());
}

void AnswerWorker::prefill(quint64 id, const std::string& workspace, const std::atomic<bool>* cancel)
{
    auto p = prepare(id, workspace, cancel);
    if (!p)
        return;
    const auto reserve = m_engine->reserveTokens(p->preset, AskRequest{}.maxTokens);
    auto st = m_engine->prefill(
        p->context->tokens, reserve,
        [&](std::int64_t done, std::int64_t total) { emit prefillProgress(id, done, total); }, cancel);
    if (!st)
        return failEngine(id, st.error());
    recordThroughput(*st);
    if (st->cancelled)
        return fail(id,
                    "prefill cancelled after " + std::to_string(m_engine->heldTokens()) + " of " +
                        std::to_string(st->contextTokens) + " tokens (kept in memory for this process)",
                    AnswerService::Cancelled);
    PrefillResult r;
    r.workspace.id = p->content.workspace.id;
    r.workspace.name = p->content.workspace.name;
    r.workspace.preset = p->preset.key;
    r.stats = *st;
    emit prefilled(id, r);
}

void AnswerWorker::ask(quint64 id, const AskRequest& request, const std::atomic<bool>* cancel)
{
    const std::string question = request.question.trimmed().toStdString();
    if (question.empty())
        return fail(id, "the question is empty");
    auto p = prepare(id, request.workspace.toStdString(), cancel);
    if (!p)
        return;
    const std::int64_t wsId = p->content.workspace.id;

    // The session the turn belongs to.
    std::int64_t session = request.session;
    {
        storage::Conversations conv(**db());
        if (session > 0) {
            auto s = conv.session(session);
            if (!s || s->workspace != wsId)
                return fail(id, "workspace \"" + p->content.workspace.name + "\" has no session " +
                                    std::to_string(session));
        } else if (!request.newSession) {
            auto all = conv.sessions(wsId);
            if (!all)
                return fail(id, all.error().message);
            for (const auto& s : *all) {
                if (s.modelFingerprint == m_engine->fingerprint() && s.id > session)
                    session = s.id;
            }
        }
    }
    if (session <= 0) {
        const std::string name =
            "Questions " + QDateTime::currentDateTime().toString("yyyy-MM-dd hh:mm").toStdString();
        const std::string fp = m_engine->fingerprint();
        auto s = m_config.writer
                     ->submit([wsId, name, fp](storage::Database& w) {
                         return storage::Conversations(w).createSession(wsId, name, fp);
                     })
                     .get();
        if (!s)
            return fail(id, s.error().message);
        session = *s;
    }

    AskOptions options;
    options.maxTokens = request.maxTokens;
    auto out = m_engine->ask(
        *p->context, p->preset, question, options,
        [&](std::string_view text) {
            emit answerText(id, QString::fromUtf8(text.data(), qsizetype(text.size())));
        },
        [&](std::int64_t done, std::int64_t total) { emit prefillProgress(id, done, total); }, cancel);
    if (!out)
        return failEngine(id, out.error());
    if (out->timings.contextTokens - out->timings.reusedTokens >= 64)
        recordThroughput({out->timings.contextTokens,
                          out->timings.reusedTokens,
                          out->timings.contextTokens - out->timings.reusedTokens,
                          double(out->timings.prefillMs) / 1000.0,
                          double(out->timings.contextTokens - out->timings.reusedTokens) /
                              std::max(0.001, double(out->timings.prefillMs) / 1000.0),
                          false,
                          {}});

    AnswerRecord rec;
    rec.workspace = wsId;
    rec.session = session;
    rec.map = std::shared_ptr<const SourceMap>(p->context, &p->context->map);
    rec.citationsJson = QJsonDocument(answerCheckToJson(out->text, out->check, p->context->map))
                            .toJson(QJsonDocument::Compact)
                            .toStdString();
    storage::Turn turn;
    turn.question = question;
    turn.answer = out->text;
    turn.citationsJson = rec.citationsJson;
    turn.timings.promptTokens = out->timings.contextTokens + out->timings.questionTokens;
    turn.timings.answerTokens = out->timings.answerTokens;
    turn.timings.prefillMs = out->timings.prefillMs;
    turn.timings.firstTokenMs = out->timings.firstTokenMs;
    turn.timings.totalMs = out->timings.totalMs;
    auto stored = m_config.writer
                      ->submit([session, turn](storage::Database& w) {
                          return storage::Conversations(w).addTurn(session, turn);
                      })
                      .get();
    if (!stored)
        return fail(id, "the answer could not be stored: " + stored.error().message);
    rec.turn = stored->id;
    rec.outcome = std::move(*out);
    emit answered(id, rec);
}

} // namespace quire::app
