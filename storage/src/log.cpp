#include "log.h"

namespace quire::storage {
std::shared_ptr<spdlog::logger> log()
{
    if (auto existing = spdlog::get("storage"))
        return existing;
    auto def = spdlog::default_logger();
    auto created = std::make_shared<spdlog::logger>("storage", def->sinks().begin(), def->sinks().end());
    spdlog::register_logger(created);
    return created;
}
} // namespace quire::storage
