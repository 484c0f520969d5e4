// quire: the desktop application. Builds the service configuration (data folder, the library's
// writer thread, engine settings) and hands it to the main window.
#include <QApplication>
#include <QMessageBox>
#include <QSettings>

#include <cstdio>

#include "quire/app/logging.h"
#include "quire/app/paths.h"
#include "quire/app/version.h"
#include "quire/storage/writer_thread.h"
#include "quire/ui/main_window.h"
#include "quire/ui/settings.h"

int main(int argc, char** argv)
{
    // --version and --help must work without a display (the .deb's smoke test, scripts).
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--version") {
            std::printf("quire %s\n", QUIRE_VERSION);
            return 0;
        }
        if (a == "--help" || a == "-h") {
            std::printf(
                "Usage: quire [--verbose] [--first-run]\n\nQuire %s: long-context document analysis.\n"
                "--first-run sets up and opens the sample workspace again.\n"
                "Headless use: quire-cli --help\n",
                QUIRE_VERSION);
            return 0;
        }
    }
    // Cited audio plays through Qt Multimedia's FFmpeg backend: FFmpeg already decodes every
    // format ingest reads, while the GStreamer backend needs plugin packages a machine may lack
    // (then it neither plays nor reports an error). A user's own choice is kept.
    if (qEnvironmentVariableIsEmpty("QT_MEDIA_BACKEND"))
        qputenv("QT_MEDIA_BACKEND", "ffmpeg");
    QApplication app(argc, argv);
    QApplication::setOrganizationName("quire");
    QApplication::setApplicationName("quire");
    QApplication::setApplicationDisplayName("Quire");
    QApplication::setApplicationVersion(QUIRE_VERSION);
    QApplication::setDesktopFileName("io.quire.Quire");

    const auto paths = quire::app::Paths::standard();
    QString error;
    const bool haveDirs = paths.ensureExists(&error);
    quire::app::initLogging(
        {haveDirs ? paths.logDir : QString(), app.arguments().contains("--verbose"), true});
    if (!haveDirs)
        quire::app::log()->warn("{}", error.toStdString());
    quire::app::log()->info("Quire {} starting", QUIRE_VERSION);

    auto writer = quire::storage::WriterThread::start(paths.libraryDb.toStdString());
    if (!writer) {
        QMessageBox::critical(nullptr, "Quire",
                              QObject::tr("Cannot open the library %1: %2")
                                  .arg(paths.libraryDb, QString::fromStdString(writer.error().message)));
        return 1;
    }
    quire::app::ServiceConfig config;
    config.dataDir = paths.dataDir;
    config.libraryPath = paths.libraryDb;
    config.writer = std::shared_ptr<quire::storage::WriterThread>(std::move(*writer));

    quire::ui::MainWindowOptions options;
    options.firstRun =
        !QSettings().value("firstRun/done").toBool() || app.arguments().contains("--first-run");
    quire::ui::MainWindow window(config, quire::ui::EngineSettings::load(), options);
    window.show();
    return app.exec();
}
