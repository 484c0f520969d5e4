#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <fstream>

#include "quire/storage/database.h"

using namespace quire::storage;

class TestDatabase : public QObject {
    Q_OBJECT
private slots:
    void roundTripSurvivesReopen()
    {
        QTemporaryDir dir;
        const std::filesystem::path path = dir.path().toStdString() + "/lib.sqlite";
        {
            auto db = Database::open(path);
            QVERIFY2(db.has_value(), db ? "" : db.error().message.c_str());
            QVERIFY(db->createWorkspace("contracts").has_value());
            QVERIFY(db->createWorkspace("codebase").has_value());
            QVERIFY(!db->createWorkspace("contracts").has_value());  // names are unique
        }
        auto db = Database::open(path);
        QVERIFY(db.has_value());
        auto rows = db->workspaces();
        QVERIFY(rows.has_value());
        QCOMPARE(rows->size(), size_t(2));
        QCOMPARE(rows->at(0).name, std::string("contracts"));
        QCOMPARE(rows->at(1).name, std::string("codebase"));
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(db->handle(), "PRAGMA journal_mode", -1, &st, nullptr);
        QCOMPARE(sqlite3_step(st), SQLITE_ROW);
        QCOMPARE(QByteArray(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))), QByteArray("wal"));
        sqlite3_finalize(st);
    }
    void refusesAFileThatIsNotSqliteAndLeavesItAlone()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/notes.txt";
        const std::string content = "these are my notes, not a database\n";
        std::ofstream(path) << content;
        auto db = Database::open(path);
        QVERIFY(!db);
        QCOMPARE(db.error().code, ErrorCode::NotADatabase);
        std::ifstream in(path);
        std::string back((std::istreambuf_iterator<char>(in)), {});
        QCOMPARE(back, content);
    }
    void refusesANewerSchema()
    {
        QTemporaryDir dir;
        const std::string path = dir.path().toStdString() + "/future.sqlite";
        {
            sqlite3* raw = nullptr;
            sqlite3_open(path.c_str(), &raw);
            const std::string sql = "PRAGMA user_version=" + std::to_string(Database::schemaVersion() + 5);
            sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr);
            sqlite3_close(raw);
        }
        auto db = Database::open(path);
        QVERIFY(!db);
        QCOMPARE(db.error().code, ErrorCode::TooNew);
        sqlite3* raw = nullptr;
        sqlite3_open(path.c_str(), &raw);
        sqlite3_stmt* st = nullptr;
        sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, nullptr);
        sqlite3_step(st);
        QCOMPARE(sqlite3_column_int(st, 0), Database::schemaVersion() + 5);
        sqlite3_finalize(st);
        sqlite3_close(raw);
    }
};

QTEST_GUILESS_MAIN(TestDatabase)
#include "test_database.moc"
