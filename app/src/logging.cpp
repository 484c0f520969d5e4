#include "quire/app/logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <QDir>

#include "quire/inference/log.h"

namespace quire::app {

void initLogging(const LoggingOptions& options)
{
    std::vector<spdlog::sink_ptr> sinks;
    auto console = options.consoleToStderr
                       ? spdlog::sink_ptr(std::make_shared<spdlog::sinks::stderr_color_sink_mt>())
                       : spdlog::sink_ptr(std::make_shared<spdlog::sinks::stdout_color_sink_mt>());
    console->set_level(options.verbose ? spdlog::level::debug : spdlog::level::warn);
    sinks.push_back(console);
    if (!options.logDir.isEmpty() && QDir().mkpath(options.logDir)) {
        try {
            auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
                (options.logDir + "/quire.log").toStdString(), 8 * 1024 * 1024, 5);
            file->set_level(spdlog::level::debug);
            sinks.push_back(file);
        } catch (const spdlog::spdlog_ex& e) {
            console->log(spdlog::details::log_msg("app", spdlog::level::warn,
                                                  std::string("cannot open the log file: ") + e.what()));
        }
    }
    spdlog::drop_all();
    for (const char* name : {"app", "ui", "ingest", "storage", "inference"}) {
        auto logger = std::make_shared<spdlog::logger>(name, sinks.begin(), sinks.end());
        logger->set_level(spdlog::level::debug);
        logger->flush_on(spdlog::level::warn);
        spdlog::register_logger(logger);
    }
    spdlog::set_default_logger(spdlog::get("app"));

    inference::setLogCallback([](inference::LogLevel level, std::string_view message) {
        static constexpr spdlog::level::level_enum map[] = {spdlog::level::debug, spdlog::level::info,
                                                            spdlog::level::warn, spdlog::level::err};
        if (auto logger = spdlog::get("inference"))
            logger->log(map[static_cast<int>(level)], "{}", message);
    });
}

std::shared_ptr<spdlog::logger> log()
{
    auto logger = spdlog::get("app");
    return logger ? logger : spdlog::default_logger();
}

} // namespace quire::app
