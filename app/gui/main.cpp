// quire: the desktop application.
#include <QApplication>
#include <QCommandLineParser>

#include <cstdio>

#include "quire/app/logging.h"
#include "quire/app/paths.h"
#include "quire/app/version.h"
#include "quire/ui/main_window.h"

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
            std::printf("Usage: quire [--verbose]\n\nQuire %s: long-context document analysis.\n"
                        "Headless use: quire-cli --help\n", QUIRE_VERSION);
            return 0;
        }
    }
    QApplication app(argc, argv);
    QApplication::setApplicationName("quire");
    QApplication::setApplicationDisplayName("Quire");
    QApplication::setApplicationVersion(QUIRE_VERSION);
    QApplication::setDesktopFileName("io.quire.Quire");

    const auto paths = quire::app::Paths::standard();
    QString error;
    const bool haveDirs = paths.ensureExists(&error);
    quire::app::initLogging({haveDirs ? paths.logDir : QString(), app.arguments().contains("--verbose"), true});
    if (!haveDirs)
        quire::app::log()->warn("{}", error.toStdString());
    quire::app::log()->info("Quire {} starting", QUIRE_VERSION);

    quire::ui::MainWindow window;
    window.show();
    return app.exec();
}
