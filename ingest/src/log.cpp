#include "log.h"

namespace quire::ingest {
std::shared_ptr<spdlog::logger> log()
{
    if (auto existing = spdlog::get("ingest"))
        return existing;
    auto def = spdlog::default_logger();
    auto created = std::make_shared<spdlog::logger>("ingest", def->sinks().begin(), def->sinks().end());
    spdlog::register_logger(created);
    return created;
}
}  // namespace quire::ingest
