// quire-cli: Quire without a window, for scripts, servers and tests.
#include <QCoreApplication>
#include <QTextStream>

#include <cstdio>

#include "commands.h"
#include "quire/app/logging.h"
#include "quire/app/paths.h"
#include "quire/app/version.h"

namespace {

void printHelp()
{
    QTextStream out(stdout);
    out << "Usage: quire-cli [--verbose] <command> [options]\n\n"
           "Quire " QUIRE_VERSION ": long-context document analysis without a window.\n\n"
           "Commands:\n";
    for (const auto& c : quire::cli::commands())
        out << "  " << QString::fromLatin1(c.name).leftJustified(14) << c.summary << "\n";
    out << "\nGlobal options:\n"
           "  --help, -h    this text; `quire-cli <command> --help` for a command's options\n"
           "  --version     print the version\n"
           "  --verbose     debug logging on the console\n\n"
           "Data lives in "
        << quire::app::Paths::standard().dataDir << " (override with QUIRE_DATA_DIR).\n";
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName("quire");
    QCoreApplication::setApplicationVersion(QUIRE_VERSION);

    QStringList args = app.arguments().mid(1);
    bool verbose = false;
    while (!args.isEmpty() && args.first().startsWith('-')) {
        const QString a = args.takeFirst();
        if (a == "--help" || a == "-h") {
            printHelp();
            return quire::cli::Ok;
        }
        if (a == "--version") {
            std::printf("quire-cli %s\n", QUIRE_VERSION);
            return quire::cli::Ok;
        }
        if (a == "--verbose" || a == "-v") {
            verbose = true;
            continue;
        }
        std::fprintf(stderr, "quire-cli: unknown option %s (see quire-cli --help)\n", qPrintable(a));
        return quire::cli::Usage;
    }
    if (args.isEmpty()) {
        printHelp();
        return quire::cli::Usage;
    }

    const auto paths = quire::app::Paths::standard();
    QString error;
    const bool haveDirs = paths.ensureExists(&error);
    quire::app::initLogging({haveDirs ? paths.logDir : QString(), verbose, true});
    if (!haveDirs)
        quire::app::log()->warn("{}", error.toStdString());

    const QString name = args.takeFirst();
    for (const auto& c : quire::cli::commands()) {
        if (name == QLatin1String(c.name))
            return c.run(args);
    }
    std::fprintf(stderr, "quire-cli: unknown command '%s' (see quire-cli --help)\n", qPrintable(name));
    return quire::cli::Usage;
}
