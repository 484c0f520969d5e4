#pragma once
#include <memory>
#include <spdlog/spdlog.h>

namespace quire::storage {
// The module's named logger "storage"; the app registers it with its sinks, otherwise it is
// created here on spdlog's default sinks.
std::shared_ptr<spdlog::logger> log();
} // namespace quire::storage
