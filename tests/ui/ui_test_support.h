// Shared by the GUI tests: an isolated settings store and data folder, a service configuration
// over a fresh library, and screenshots into <build>/screenshots/.
#pragma once

#include <QCoreApplication>
#include <QDir>
#include <QImage>
#include <QSettings>
#include <QTemporaryDir>
#include <QWidget>

#include "quire/app/service_types.h"
#include "quire/storage/writer_thread.h"

namespace quire::uitest {

// Each test process keeps its QSettings in its own temporary folder (two runs at once, as with
// ctest -j, never share them), under its own names, empty at the start.
inline void isolateSettings(const char* name)
{
    static QTemporaryDir dir;
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, dir.path());
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir.path());
    QCoreApplication::setOrganizationName("quire-tests");
    QCoreApplication::setApplicationName(name);
    QSettings().clear();
}

inline std::optional<app::ServiceConfig> makeConfig(const QString& root)
{
    app::ServiceConfig c;
    c.dataDir = root + "/data";
    QDir().mkpath(c.dataDir);
    c.libraryPath = c.dataDir + "/library.sqlite";
    auto writer = storage::WriterThread::start(c.libraryPath.toStdString());
    if (!writer)
        return std::nullopt;
    c.writer = std::shared_ptr<storage::WriterThread>(std::move(*writer));
    c.engine.modelPath = qEnvironmentVariable("QUIRE_DEFAULT_MODEL").toStdString();
    return c;
}

inline bool screenshot(QWidget* w, const QString& name)
{
    const QString dir = QStringLiteral(QUIRE_BINARY_DIR) + "/screenshots";
    QDir().mkpath(dir);
    const QImage shot = w->grab().toImage();
    return !shot.isNull() && shot.save(dir + "/" + name + ".png");
}

} // namespace quire::uitest
