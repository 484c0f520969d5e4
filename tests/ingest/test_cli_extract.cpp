#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTest>

#include <map>

#include "docx_writer.h"
#include "pdf_writer.h"
#include "test_support.h"

using namespace quire::ingest::test;

class TestCliExtract : public QObject {
    Q_OBJECT
private slots:
    void printsOneJsonObjectPerDocument()
    {
        QTemporaryDir tmp;
        QTemporaryDir data; // keeps the CLI's logs and library out of the user's folders
        writeFile(root(tmp) / "notes.md", "# Notes\n\nFirst point.\n");
        writeFile(root(tmp) / "contract.pdf", writePdf({textPage({{"Payment is due in sixty days."}})}));
        writeFile(root(tmp) / "broken.pdf", "%PDF-1.7\ntruncated");
        QVERIFY(writeDocx(root(tmp) / "memo.docx",
                          docxParagraph("Memo", "Heading1") + docxParagraph("Body text.")));

        QProcess cli;
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("QUIRE_DATA_DIR", data.path());
        cli.setProcessEnvironment(env);
        cli.start(QString(QUIRE_BINARY_DIR) + "/bin/quire-cli", {"extract", tmp.path(), "--json"});
        QVERIFY(cli.waitForFinished(60000));
        QCOMPARE(cli.exitCode(), 0);
        std::map<QString, QJsonObject> docs;
        for (const QByteArray& line : cli.readAllStandardOutput().split('\n')) {
            if (line.isEmpty())
                continue;
            QJsonParseError error;
            const QJsonDocument json = QJsonDocument::fromJson(line, &error);
            QVERIFY2(error.error == QJsonParseError::NoError, line.constData());
            const QJsonObject o = json.object();
            for (const char* key : {"path", "kind", "status", "error", "segments"})
                QVERIFY2(o.contains(key), key);
            docs[QFileInfo(o["path"].toString()).fileName()] = o;
        }
        QCOMPARE(docs.size(), size_t(4));

        const QJsonObject md = docs["notes.md"];
        QCOMPARE(md["kind"].toString(), QString("text"));
        QCOMPARE(md["status"].toString(), QString("ingested"));
        const QJsonObject firstLine = md["segments"].toArray()[0].toObject();
        QCOMPARE(firstLine["text"].toString(), QString("# Notes"));
        QCOMPARE(firstLine["anchor"].toObject()["type"].toString(), QString("lines"));
        QCOMPARE(firstLine["anchor"].toObject()["begin"].toInt(), 1);

        const QJsonObject pdf = docs["contract.pdf"];
        QCOMPARE(pdf["status"].toString(), QString("ingested"));
        const QJsonObject para = pdf["segments"].toArray()[0].toObject();
        QCOMPARE(para["text"].toString(), QString("Payment is due in sixty days."));
        const QJsonObject anchor = para["anchor"].toObject();
        QCOMPARE(anchor["type"].toString(), QString("page"));
        QCOMPARE(anchor["page"].toInt(), 1);
        QCOMPARE(anchor["label"].toString(), QString("p.1"));
        QCOMPARE(anchor["box"].toArray().size(), 4);
        QVERIFY(std::abs(anchor["box"].toArray()[0].toDouble() - 72) < 1);

        QCOMPARE(docs["broken.pdf"]["status"].toString(), QString("quarantined"));
        QVERIFY(!docs["broken.pdf"]["error"].toString().isEmpty());

        const QJsonObject docx = docs["memo.docx"];
        QCOMPARE(docx["kind"].toString(), QString("docx"));
        const QJsonObject heading = docx["segments"].toArray()[0].toObject();
        QCOMPARE(heading["heading"].toInt(), 1);
        QCOMPARE(heading["anchor"].toObject()["type"].toString(), QString("paragraph"));
        QCOMPARE(docx["segments"].toArray()[1].toObject()["anchor"].toObject()["index"].toInt(), 1);
    }
    void rejectsBadUsage()
    {
        QProcess cli;
        cli.start(QString(QUIRE_BINARY_DIR) + "/bin/quire-cli", {"extract"});
        QVERIFY(cli.waitForFinished(20000));
        QCOMPARE(cli.exitCode(), 2);
        cli.start(QString(QUIRE_BINARY_DIR) + "/bin/quire-cli", {"extract", "x", "--bogus"});
        QVERIFY(cli.waitForFinished(20000));
        QCOMPARE(cli.exitCode(), 2);
    }
};

QTEST_GUILESS_MAIN(TestCliExtract)
#include "test_cli_extract.moc"
