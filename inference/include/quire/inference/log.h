// Engine logging goes through one process-wide callback, so the engine needs no logging
// library; the app routes it to its spdlog logger "inference". setLogCallback is thread-safe and
// the callback may be called from any engine thread.
#pragma once

#include <functional>
#include <string_view>

namespace quire::inference {

enum class LogLevel : int { Debug = 0, Info = 1, Warn = 2, Error = 3 };

using LogCallback = std::function<void(LogLevel, std::string_view)>;

// Replaces the callback; an empty one silences the engine. The default writes warnings and
// errors to stderr.
void setLogCallback(LogCallback callback);
void logMessage(LogLevel level, std::string_view message);

}  // namespace quire::inference
