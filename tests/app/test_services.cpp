// The services on their threads, without a model: WorkspaceService (create, add and ingest a
// generated text and code tree, unchanged files skipped, changed and new files, removal, stable
// numbering in batches, exclusions, cancel), SearchService, AnswerService's refusal without a
// model, and the context assembled from stored documents staying prefix-stable when files are
// added.
#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "quire/app/answer_engine.h"
#include "quire/app/answer_service.h"
#include "quire/app/context_assembly.h"
#include "quire/app/samples.h"
#include "quire/app/search_service.h"
#include "quire/app/workspace_content.h"
#include "quire/app/workspace_ops.h"
#include "quire/app/workspace_service.h"
#include "quire/inference/chat_template.h"
#include "quire/inference/tokenizer.h"

using namespace quire;
using namespace quire::app;

namespace {

void writeFile(const QString& path, const QByteArray& text)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size())
        qFatal("cannot write %s", qPrintable(path));
}

// Waits for the first emission of `spy` whose first argument is `id`; returns its arguments.
QList<QVariant> waitFor(QSignalSpy& spy, quint64 id, int timeoutMs = 30000)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        for (int i = 0; i < spy.size(); ++i) {
            if (spy.at(i).value(0).toULongLong() == id)
                return spy.takeAt(i);
        }
        spy.wait(200);
    }
    return {};
}

} // namespace

class TestServices : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    ServiceConfig m_config;
    QString m_corpus;

    WorkspaceListing listing(WorkspaceService& s, const QString& ws)
    {
        QSignalSpy listed(&s, &WorkspaceService::sourcesListed);
        const auto id = s.listSources(ws);
        const auto args = waitFor(listed, id);
        if (args.isEmpty())
            qFatal("no listing");
        return args.at(1).value<WorkspaceListing>();
    }

    IngestReport ingestOk(WorkspaceService& s, quint64 id)
    {
        QSignalSpy done(&s, &WorkspaceService::ingestFinished);
        QSignalSpy failed(&s, &WorkspaceService::failed);
        auto args = waitFor(done, id, 60000);
        if (args.isEmpty()) {
            const QString why = failed.isEmpty() ? QString("timeout") : failed.first().at(1).toString();
            qFatal("ingest failed: %s", qPrintable(why));
        }
        return args.at(1).value<IngestReport>();
    }

private slots:
    void initTestCase()
    {
        qRegisterMetaType<WorkspaceSummary>();
        qRegisterMetaType<WorkspaceListing>();
        qRegisterMetaType<IngestReport>();
        qRegisterMetaType<ingest::IngestProgress>();
        qRegisterMetaType<BudgetResult>();
        qRegisterMetaType<std::vector<WorkspaceSummary>>();
        qRegisterMetaType<std::vector<SearchResultLine>>();
        QVERIFY(m_dir.isValid());
        m_config.dataDir = m_dir.path() + "/data";
        QDir().mkpath(m_config.dataDir);
        m_config.libraryPath = m_config.dataDir + "/library.sqlite";
        auto writer = storage::WriterThread::start(m_config.libraryPath.toStdString());
        QVERIFY(writer.has_value());
        m_config.writer = std::shared_ptr<storage::WriterThread>(std::move(*writer));
        m_config.ingest.threads = 2;
        m_config.engine.modelPath = (m_dir.path() + "/no-such-model.gguf").toStdString();

        m_corpus = m_dir.path() + "/corpus";
        writeFile(m_corpus + "/notes.md", "# Notes\n\nThe release of version 2.4 is planned for Thursday.\n\n"
                                          "Maria will update the installer next week.\n");
        writeFile(m_corpus + "/src/schedule.py",
                  "DEFAULT_SET_POINT = 16.0\n\n\ndef set_point(hour):\n    return DEFAULT_SET_POINT\n");
        writeFile(m_corpus + "/src/controller.py", "HYSTERESIS = 0.5\n\n\nclass Controller:\n    pass\n");
        writeFile(m_corpus + "/.gitignore", "build/\n");
        writeFile(m_corpus + "/build/out.txt", "ignored\n");
    }

    void createListAndRefuseDuplicates()
    {
        WorkspaceService s(m_config);
        QSignalSpy created(&s, &WorkspaceService::workspaceCreated);
        QSignalSpy failed(&s, &WorkspaceService::failed);
        const auto a = s.createWorkspace("notes", "code");
        const auto args = waitFor(created, a);
        QVERIFY(!args.isEmpty());
        QCOMPARE(args.at(1).value<WorkspaceSummary>().preset, std::string("code"));
        const auto dup = s.createWorkspace("notes");
        const auto err = waitFor(failed, dup);
        QVERIFY(!err.isEmpty());
        QVERIFY(err.at(1).toString().contains("exists already"));
        const auto bad = s.createWorkspace("other", "poetry");
        QVERIFY(waitFor(failed, bad).at(1).toString().contains("unknown preset"));
        QSignalSpy listed(&s, &WorkspaceService::workspacesListed);
        const auto l = s.listWorkspaces();
        const auto all = waitFor(listed, l).at(1).value<std::vector<WorkspaceSummary>>();
        QCOMPARE(all.size(), std::size_t(1));
        QCOMPARE(all[0].name, std::string("notes"));
        // Requests run on the service's own thread.
        QVERIFY(s.thread() == QThread::currentThread());
    }

    void addIngestsAndNumbersInPathOrder()
    {
        WorkspaceService s(m_config);
        QSignalSpy progress(&s, &WorkspaceService::ingestProgress);
        const auto r = ingestOk(s, s.addSources("notes", {m_corpus}));
        QCOMPARE(r.scanned, std::size_t(4)); // .gitignore, notes.md, two sources; build/ ignored
        QCOMPARE(r.ingested + r.skipped, std::size_t(4));
        QCOMPARE(r.numbered, std::size_t(r.ingested));
        QVERIFY(!progress.isEmpty());
        const auto l = listing(s, "notes");
        QStringList paths;
        for (const auto& line : l.sources)
            paths << QString::fromStdString(line.displayPath);
        QVERIFY2(paths.indexOf("notes.md") < paths.indexOf("src/controller.py"), qPrintable(paths.join(",")));
        QVERIFY(paths.indexOf("src/controller.py") < paths.indexOf("src/schedule.py"));
        for (int i = 0; i < int(l.sources.size()); ++i)
            QCOMPARE(l.sources[std::size_t(i)].budget.number, i + 1);
        QCOMPARE(l.summary.inputs.size(), std::size_t(1));
    }

    void unchangedFilesAreSkippedChangedOnesKeepTheirNumber()
    {
        WorkspaceService s(m_config);
        const auto again = ingestOk(s, s.ingest("notes"));
        QCOMPARE(again.unchanged, again.scanned);
        QCOMPARE(again.ingested, std::size_t(0));
        QCOMPARE(again.numbered, std::size_t(0));

        const auto before = listing(s, "notes");
        QTest::qWait(20); // a different modification time
        writeFile(m_corpus + "/notes.md", "# Notes\n\nThe release of version 2.5 moved to Friday.\n");
        writeFile(m_corpus + "/zeta.txt", "A new file, added later: the zeta protocol.\n");
        const auto r = ingestOk(s, s.ingest("notes"));
        QCOMPARE(r.ingested, std::size_t(2));
        QCOMPARE(r.numbered, std::size_t(1));
        const auto after = listing(s, "notes");
        QCOMPARE(after.sources.size(), before.sources.size() + 1);
        for (std::size_t i = 0; i < before.sources.size(); ++i)
            QCOMPARE(after.sources[i].budget.number, before.sources[i].budget.number);
        QCOMPARE(after.sources.back().displayPath, std::string("zeta.txt"));
        QCOMPARE(after.sources.back().budget.number, int(before.sources.size()) + 1);
    }

    void searchGivesMarks()
    {
        SearchService search(m_config);
        QSignalSpy results(&search, &SearchService::results);
        const auto id = search.search("notes", "zeta protocol");
        const auto args = waitFor(results, id);
        QVERIFY(!args.isEmpty());
        const auto hits = args.at(1).value<std::vector<SearchResultLine>>();
        QCOMPARE(hits.size(), std::size_t(1));
        QVERIFY2(QString::fromStdString(hits[0].mark).startsWith("[doc "), hits[0].mark.c_str());
        QVERIFY(hits[0].docNumber > 0);
        QVERIFY(QString::fromStdString(hits[0].hit.snippet).contains("[zeta]"));
        QSignalSpy failed(&search, &SearchService::failed);
        QVERIFY(!waitFor(failed, search.search("nope", "x")).isEmpty());
    }

    void exclusionsAreRememberedAndChecked()
    {
        WorkspaceService s(m_config);
        QSignalSpy configured(&s, &WorkspaceService::configured);
        QSignalSpy failed(&s, &WorkspaceService::failed);
        auto args = waitFor(configured, s.configure("notes", QString("general"), {2}, {}));
        QVERIFY(!args.isEmpty());
        QCOMPARE(args.at(1).value<WorkspaceSummary>().excluded, 1);
        QCOMPARE(args.at(1).value<WorkspaceSummary>().preset, std::string("general"));
        const auto l = listing(s, "notes");
        QVERIFY(l.sources[1].budget.excluded);
        QVERIFY(!l.sources[1].budget.inContext);
        QVERIFY(waitFor(failed, s.configure("notes", std::nullopt, {99}, {}))
                    .at(1)
                    .toString()
                    .contains("no doc 99"));
        args = waitFor(configured, s.configure("notes", std::nullopt, {}, {2}));
        QCOMPARE(args.at(1).value<WorkspaceSummary>().excluded, 0);
    }

    void storedContextStaysPrefixStableWhenFilesAreAdded()
    {
        auto tok =
            inference::Tokenizer::open(QUIRE_SHARED_DIR "/testdata/tokenizers/ggml-vocab-llama-bpe.gguf");
        QVERIFY(tok.has_value());
        const inference::ChatTemplate chat(inference::ChatTemplate::Kind::Llama3);
        auto assembleNow = [&] {
            storage::OpenOptions o;
            o.mode = storage::OpenMode::ReadOnly;
            auto db = storage::Database::open(m_config.libraryPath.toStdString(), o);
            if (!db)
                qFatal("db");
            auto ws = findWorkspace(*db, "notes");
            auto c = loadWorkspaceContent(*db, m_config.dataDir, *ws);
            if (!c)
                qFatal("%s", c.error().c_str());
            AssemblyInput in{ws->name, *loadPreset(c->layout.preset), c->documents};
            return *assembleContext(in, *tok, chat);
        };
        const auto before = assembleNow();
        writeFile(m_corpus + "/aaa-first-by-name.txt", "Sorted first by name, but added last.\n");
        WorkspaceService s(m_config);
        QCOMPARE(ingestOk(s, s.ingest("notes")).numbered, std::size_t(1));
        const auto after = assembleNow();
        QVERIFY(after.tokens.size() > before.tokens.size());
        QVERIFY(std::equal(before.tokens.begin(), before.tokens.end(), after.tokens.begin()));
        QCOMPARE(QString::fromStdString(after.map.documents.back().displayPath),
                 QString("aaa-first-by-name.txt"));
    }

    void removedFilesLeaveAndNumbersAreNotReused()
    {
        WorkspaceService s(m_config);
        const auto before = listing(s, "notes");
        QVERIFY(QFile::remove(m_corpus + "/zeta.txt"));
        const auto r = ingestOk(s, s.ingest("notes"));
        QCOMPARE(r.removed, std::size_t(1));
        const auto after = listing(s, "notes");
        QCOMPARE(after.sources.size(), before.sources.size() - 1);
        writeFile(m_corpus + "/zeta2.txt", "Another file.\n");
        ingestOk(s, s.ingest("notes"));
        const auto last = listing(s, "notes");
        int maxBefore = 0;
        for (const auto& l : before.sources)
            maxBefore = std::max(maxBefore, l.budget.number);
        QCOMPARE(last.sources.back().budget.number, maxBefore + 1);

        QSignalSpy removed(&s, &WorkspaceService::sourcesRemoved);
        const auto args = waitFor(removed, s.removeSources("notes", {m_corpus + "/src"}));
        QCOMPARE(args.at(1).toInt(), 2);
        QSignalSpy failed(&s, &WorkspaceService::failed);
        QVERIFY(!waitFor(failed, s.removeSources("notes", {m_dir.path() + "/elsewhere"})).isEmpty());
        QVERIFY(!waitFor(failed, s.addSources("notes", {m_dir.path() + "/missing"})).isEmpty());
    }

    void cancelledIngestStoresNothing()
    {
        writeFile(m_dir.path() + "/second/a.txt", "alpha\n");
        WorkspaceService s(m_config);
        QSignalSpy created(&s, &WorkspaceService::workspaceCreated);
        QVERIFY(!waitFor(created, s.createWorkspace("second")).isEmpty());
        // The operation behind addSources, with the flag the service's cancel() sets.
        storage::OpenOptions o;
        o.mode = storage::OpenMode::ReadOnly;
        auto db = storage::Database::open(m_config.libraryPath.toStdString(), o);
        QVERIFY(db.has_value());
        std::atomic<bool> cancel{true};
        auto r = ingestWorkspace(*db, *m_config.writer, m_config.dataDir, "second",
                                 {(m_dir.path() + "/second").toStdString()}, m_config.ingest, {}, &cancel);
        QVERIFY(r.has_value());
        QVERIFY(r->cancelled);
        QCOMPARE(listing(s, "second").sources.size(), std::size_t(0));
        // cancel(id) reaches the request's flag, cancel() every flag.
        CancelRegistry reg;
        auto f1 = reg.add(1), f2 = reg.add(2);
        reg.cancel(2);
        QVERIFY(!f1->load() && f2->load());
        reg.cancel(0);
        QVERIFY(f1->load());
    }

    void answerServiceWithoutModelFailsClearly()
    {
        AnswerService a(m_config);
        QSignalSpy failed(&a, &AnswerService::failed);
        const auto id = a.budget("notes");
        const auto args = waitFor(failed, id);
        QVERIFY(!args.isEmpty());
        QCOMPARE(args.at(2).toInt(), int(AnswerService::Model));
        QVERIFY(args.at(1).toString().contains("model not found"));
        const auto missing = a.ask({"nope", "why?", 0, false, 10});
        QVERIFY(waitFor(failed, missing).at(1).toString().contains("no workspace"));
        const auto empty = a.ask({"notes", "   ", 0, false, 10});
        QVERIFY(waitFor(failed, empty).at(1).toString().contains("empty"));
    }

    void unknownQuantizationIsRefusedBeforeLoading()
    {
        QTemporaryDir dir;
        const auto file = (dir.path() + "/model.gguf").toStdString();
        QFile f(QString::fromStdString(file));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("not a model");
        f.close();
        EngineOptions o;
        o.modelPath = file;
        o.quantization = "int3";
        auto e = AnswerEngine::open(o);
        QVERIFY(!e.has_value());
        QCOMPARE(e.error().code, EngineError::Code::Invalid);
        QVERIFY(e.error().message.find("unknown quantization") != std::string::npos);
        // A known preset gets as far as reading the file.
        o.quantization = "int4-fp8";
        e = AnswerEngine::open(o);
        QVERIFY(!e.has_value());
        QCOMPARE(e.error().code, EngineError::Code::Model);
    }

    void kvDtypeIsCheckedByNameAndByTheBackend()
    {
        EngineOptions o;
        o.modelPath = qEnvironmentVariable("QUIRE_DEFAULT_MODEL").toStdString();
        if (o.modelPath.empty() || !std::filesystem::exists(o.modelPath)) {
            // Without the model the name check still runs before anything is read.
            const QString file = m_dir.path() + "/fake-model.gguf";
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("not a model");
            o.modelPath = file.toStdString();
        }
        o.maxContext = 256;
        o.kvDtype = "q4";
        auto e = AnswerEngine::open(o);
        QVERIFY(!e.has_value());
        QCOMPARE(e.error().code, EngineError::Code::Invalid);
        QVERIFY(e.error().message.find("unknown KV dtype \"q4\"") != std::string::npos);
        if (o.modelPath.filename() == "fake-model.gguf")
            QSKIP("QUIRE_DEFAULT_MODEL not set: the backend's own refusal is not exercised");
        // The CPU backend holds no fp8 KV: refused when the session is made, naming the dtype.
        o.kvDtype = "fp8";
        e = AnswerEngine::open(o);
        QVERIFY(!e.has_value());
        QVERIFY2(e.error().message.find("fp8") != std::string::npos, e.error().message.c_str());
        QVERIFY2(e.error().message.find("cpu") != std::string::npos, e.error().message.c_str());
        // The GPU budget is for device backends: the CPU engine opens with one set.
        o.kvDtype = "auto";
        o.gpuMemoryBytes = std::uint64_t(1) << 30;
        e = AnswerEngine::open(o);
        QVERIFY2(e.has_value(), e ? "" : e.error().message.c_str());
    }

    // EngineOptions::kvDtype reaches the CPU runner: "f16" opens on the default model and holds a
    // context (a cache distinct from the f32 one); "fp8" is refused by name when the engine opens.
    void kvDtypeF16OnTheDefaultModel()
    {
        const char* model = std::getenv("QUIRE_DEFAULT_MODEL");
        if (!model || !std::filesystem::exists(model))
            QSKIP("QUIRE_DEFAULT_MODEL not set or missing");
        EngineOptions o;
        o.modelPath = model;
        o.threads = 2;
        o.maxContext = 512;
        o.kvDtype = "f16";
        auto e = AnswerEngine::open(o);
        QVERIFY2(e.has_value(), e ? "" : e.error().message.c_str());
        const auto context =
            (*e)->tokenizer().encode("The tenant pays the rent on the first day of each month.");
        auto stats = (*e)->prefill(context, 64, {}, nullptr);
        QVERIFY2(stats.has_value(), stats ? "" : stats.error().message.c_str());
        QCOMPARE(stats->computedTokens, std::int64_t(context.size()));
        QCOMPARE((*e)->heldTokens(), std::int64_t(context.size()));
        o.kvDtype = "f32";
        auto f32 = AnswerEngine::open(o);
        QVERIFY(f32.has_value());
        QVERIFY((*f32)->fingerprint() != (*e)->fingerprint());
        o.kvDtype = "fp8";
        auto fp8 = AnswerEngine::open(o);
        QVERIFY(!fp8.has_value());
        QVERIFY2(fp8.error().message.find("fp8") != std::string::npos &&
                     fp8.error().message.find("cpu") != std::string::npos,
                 fp8.error().message.c_str());
    }

    void samplesInstallOnce()
    {
        const QString data = m_dir.path() + "/sample-data";
        auto first = installSamples(data);
        QVERIFY2(first.has_value(), first ? "" : first.error().c_str());
        QCOMPARE(*first, 6);
        for (const char* f : {"contract.pdf", "standup.ogg", "code/README.md", "code/thermostat/schedule.py"})
            QVERIFY2(QFile::exists(samplesFolder(data) + "/" + f), f);
        const auto mtime = QFileInfo(samplesFolder(data) + "/contract.pdf").lastModified();
        QCOMPARE(*installSamples(data), 0); // same bytes: untouched, so ingest sees them unchanged
        QCOMPARE(QFileInfo(samplesFolder(data) + "/contract.pdf").lastModified(), mtime);
        writeFile(samplesFolder(data) + "/code/README.md", "edited");
        QCOMPARE(*installSamples(data), 1);
    }

    void removeWorkspaceRemovesItsLayout()
    {
        WorkspaceService s(m_config);
        QSignalSpy removed(&s, &WorkspaceService::workspaceRemoved);
        const QString layout = WorkspaceLayout::fileFor(m_config.dataDir, 2);
        QVERIFY(QFile::exists(layout));
        QVERIFY(!waitFor(removed, s.removeWorkspace("second")).isEmpty());
        QVERIFY(!QFile::exists(layout));
    }
};

QTEST_GUILESS_MAIN(TestServices)
#include "test_services.moc"
