// Where Quire keeps a user's data: the library database, models, logs and caches, under the XDG
// data directory (~/.local/share/quire), or under $QUIRE_DATA_DIR when it is set (tests, portable
// installs). Thread-safe.
#pragma once

#include <QString>

namespace quire::app {

struct Paths {
    QString dataDir;   // root of everything below
    QString logDir;    // rotating log files
    QString modelDir;  // downloaded and imported models
    QString libraryDb; // the SQLite library file

    static Paths standard();
    // Creates the folders; false with a message when one cannot be created.
    bool ensureExists(QString* error) const;
};

} // namespace quire::app
