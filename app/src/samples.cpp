#include "quire/app/samples.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

namespace quire::app {

QString samplesFolder(const QString& dataDir)
{
    return dataDir + "/samples";
}

std::expected<int, std::string> installSamples(const QString& dataDir)
{
    const QString dest = samplesFolder(dataDir);
    const QString root = QStringLiteral(":/quire/samples/");
    int written = 0, seen = 0;
    QDirIterator it(":/quire/samples", QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString src = it.next();
        const QString rel = src.mid(root.size());
        const QString out = dest + "/" + rel;
        ++seen;
        QFile in(src);
        if (!in.open(QIODevice::ReadOnly))
            return std::unexpected("cannot read the sample " + rel.toStdString());
        const QByteArray bytes = in.readAll();
        QFile existing(out);
        if (existing.open(QIODevice::ReadOnly) && existing.readAll() == bytes)
            continue;
        if (!QDir().mkpath(QFileInfo(out).absolutePath()))
            return std::unexpected("cannot create " + QFileInfo(out).absolutePath().toStdString());
        QSaveFile f(out);
        if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
            return std::unexpected("cannot write " + out.toStdString() + ": " +
                                   f.errorString().toStdString());
        ++written;
    }
    if (seen == 0)
        return std::unexpected("this build carries no sample files");
    return written;
}

} // namespace quire::app
