#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include <fstream>

#include "quire/storage/database.h"
#include "storage_test_util.h"

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
            QVERIFY(!db->createWorkspace("contracts").has_value()); // names are unique
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
    void refusesABlockStoreFileThatIsNotSqliteAndWritesNothing()
    {
        QTemporaryDir dir;
        const auto path = quire::storage::test::libraryIn(dir);
        const auto kvPath = Database::defaultBlockStorePath(path);
        QCOMPARE(kvPath.filename().string(), std::string("library.kv.sqlite"));
        const std::string content(5000, 'z');
        std::ofstream(kvPath) << content;
        auto db = Database::open(path);
        QVERIFY(!db);
        QCOMPARE(db.error().code, ErrorCode::NotADatabase);
        QVERIFY(db.error().message.find("library.kv.sqlite") != std::string::npos);
        QVERIFY(!std::filesystem::exists(path)); // the library was not created either
        std::ifstream in(kvPath);
        std::string back((std::istreambuf_iterator<char>(in)), {});
        QCOMPARE(back, content);
    }

    void refusesANewerBlockStoreAndLeavesBothFilesAlone()
    {
        QTemporaryDir dir;
        const auto path = quire::storage::test::libraryIn(dir);
        QVERIFY(Database::open(path).has_value());
        const auto kvPath = Database::defaultBlockStorePath(path);
        {
            sqlite3* raw = nullptr;
            sqlite3_open(kvPath.c_str(), &raw);
            const std::string sql =
                "PRAGMA user_version=" + std::to_string(Database::blockStoreSchemaVersion() + 1);
            QCOMPARE(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
            sqlite3_close(raw);
        }
        const auto kvSize = std::filesystem::file_size(kvPath);
        const auto mtime = std::filesystem::last_write_time(path);
        auto db = Database::open(path);
        QVERIFY(!db);
        QCOMPARE(db.error().code, ErrorCode::TooNew);
        QVERIFY(db.error().message.find("newer Quire") != std::string::npos);
        QCOMPARE(std::filesystem::file_size(kvPath), kvSize);
        QVERIFY(std::filesystem::last_write_time(path) == mtime);
    }

    void readersNeedAnExistingLibraryAndCannotWrite()
    {
        QTemporaryDir dir;
        const auto path = quire::storage::test::libraryIn(dir);
        auto missing = Database::open(path, quire::storage::test::readOnly());
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, ErrorCode::Open);
        QVERIFY(!std::filesystem::exists(path));
        {
            auto writer = Database::open(path);
            QVERIFY(writer.has_value());
            QVERIFY(writer->createWorkspace("w").has_value());
        }
        auto reader = Database::open(path, quire::storage::test::readOnly());
        QVERIFY(reader.has_value());
        QVERIFY(reader->readOnly());
        QCOMPARE(reader->workspaces().value().size(), size_t(1));
        QVERIFY(!reader->createWorkspace("x").has_value());
        QCOMPARE(reader->integrityCheck().value(), std::string("ok"));
    }
};

QTEST_GUILESS_MAIN(TestDatabase)
#include "test_database.moc"
