// Sessions and turns: saved, listed in order, pointing at a KV snapshot that must exist, and
// unpointed when that snapshot is removed.
#include <QTemporaryDir>
#include <QTest>

#include "quire/storage/block_store.h"
#include "quire/storage/conversations.h"
#include "storage_test_util.h"

using namespace quire::storage;
using namespace quire::storage::test;

class TestConversations : public QObject {
    Q_OBJECT
private slots:
    void sessionsAndTurnsRoundTrip()
    {
        QTemporaryDir dir;
        const auto path = libraryIn(dir);
        std::int64_t ws = 0, session = 0;
        const std::string fingerprint("llama4\0scout-q4", 15); // opaque bytes, NUL included
        {
            auto db = Database::open(path);
            QUIRE_VERIFY_OK(db);
            ws = db->createWorkspace("w").value();
            Conversations conv(*db);
            auto created = conv.createSession(ws, "contract review", fingerprint);
            QUIRE_VERIFY_OK(created);
            session = *created;
            Turn t;
            t.question = "Who pays the rent?";
            t.answer = "The tenant [doc 1 p.4].";
            t.citationsJson = R"([{"document":1,"page":4,"quote":"The tenant shall pay","verified":true}])";
            t.timings = {1200, 9, 850, 910, 1400};
            auto first = conv.addTurn(session, t);
            QUIRE_VERIFY_OK(first);
            QCOMPARE(first->ordinal, 0);
            Turn u;
            u.question = "And the deposit?";
            u.answer = "Not stated.";
            auto second = conv.addTurn(session, u);
            QCOMPARE(second.value().ordinal, 1);
            QVERIFY(!conv.addTurn(session + 100, u).has_value()); // no such session
        }
        auto db = Database::open(path, readOnly());
        QUIRE_VERIFY_OK(db);
        Conversations conv(*db);
        auto sessions = conv.sessions(ws);
        QUIRE_VERIFY_OK(sessions);
        QCOMPARE(sessions->size(), size_t(1));
        QCOMPARE(sessions->front().name, std::string("contract review"));
        QCOMPARE(sessions->front().modelFingerprint, fingerprint);
        QCOMPARE(sessions->front().turnCount, std::int64_t(2));
        QVERIFY(!sessions->front().snapshot.has_value());
        auto turns = conv.turns(session);
        QUIRE_VERIFY_OK(turns);
        QCOMPARE(turns->size(), size_t(2));
        QCOMPARE(turns->at(0).question, std::string("Who pays the rent?"));
        QCOMPARE(turns->at(0).citationsJson,
                 std::string(R"([{"document":1,"page":4,"quote":"The tenant shall pay","verified":true}])"));
        QVERIFY(turns->at(0).timings == (TurnTimings{1200, 9, 850, 910, 1400}));
        QCOMPARE(turns->at(1).citationsJson, std::string("[]"));
        QVERIFY(!turns->at(1).timings.prefillMs.has_value());
        // A reader cannot write.
        QVERIFY(!conv.addTurn(session, turns->at(0)).has_value());
    }

    void sessionSnapshotPointerIsCheckedAndClearedOnRemoval()
    {
        QTemporaryDir dir;
        auto db = Database::open(libraryIn(dir));
        QUIRE_VERIFY_OK(db);
        auto ws = db->createWorkspace("w").value();
        BlockStore store(*db);
        const auto bytes = pattern(1000, 1);
        QUIRE_VERIFY_OK(store.put({"fp", "h1", 0}, {"", 0, 8192}, bytes));
        auto snap = store.saveSnapshot(ws, "after prefill", "fp", "h1", 8192);
        QUIRE_VERIFY_OK(snap);

        Conversations conv(*db);
        QVERIFY(!conv.createSession(ws, "s", "fp", *snap + 1).has_value()); // no such snapshot
        auto session = conv.createSession(ws, "s", "fp", *snap);
        QUIRE_VERIFY_OK(session);
        QCOMPARE(conv.session(*session).value().snapshot, std::optional<std::int64_t>(*snap));
        QUIRE_VERIFY_OK(conv.setSessionSnapshot(*session, std::nullopt));
        QVERIFY(!conv.session(*session).value().snapshot.has_value());
        QUIRE_VERIFY_OK(conv.setSessionSnapshot(*session, *snap));
        QUIRE_VERIFY_OK(store.removeSnapshot(*snap));
        QVERIFY(!conv.session(*session).value().snapshot.has_value());
        QCOMPARE(conv.setSessionSnapshot(*session + 5, std::nullopt).error().code, ErrorCode::NotFound);

        QUIRE_VERIFY_OK(conv.removeSession(*session));
        QCOMPARE(conv.sessions(ws).value().size(), size_t(0));
    }
};

QTEST_GUILESS_MAIN(TestConversations)
#include "test_conversations.moc"
