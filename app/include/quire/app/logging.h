// Process-wide logging set-up, done once by each executable's main(): a console sink and a
// rotating file in the log folder, shared by the named loggers of every module ("app", "ui",
// "ingest", "storage", "inference"; the engine's callback is routed to "inference").
#pragma once

#include <QString>
#include <memory>
#include <spdlog/logger.h>

namespace quire::app {

struct LoggingOptions {
    QString logDir;       // empty: console only
    bool verbose = false; // debug level on the console
    bool consoleToStderr = true;
};

void initLogging(const LoggingOptions& options);
std::shared_ptr<spdlog::logger> log(); // the "app" logger

} // namespace quire::app
