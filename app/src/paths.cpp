#include "quire/app/paths.h"

#include <QDir>
#include <QStandardPaths>

namespace quire::app {

Paths Paths::standard()
{
    QString root = qEnvironmentVariable("QUIRE_DATA_DIR");
    if (root.isEmpty()) {
        root = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
        if (root.isEmpty())
            root = QDir::homePath() + "/.local/share";
        root += "/quire";
    }
    Paths p;
    p.dataDir = QDir::cleanPath(root);
    p.logDir = p.dataDir + "/logs";
    p.modelDir = p.dataDir + "/models";
    p.libraryDb = p.dataDir + "/library.sqlite";
    return p;
}

bool Paths::ensureExists(QString* error) const
{
    for (const QString& dir : {dataDir, logDir, modelDir}) {
        if (!QDir().mkpath(dir)) {
            if (error)
                *error = QStringLiteral("cannot create the folder %1").arg(dir);
            return false;
        }
    }
    return true;
}

} // namespace quire::app
