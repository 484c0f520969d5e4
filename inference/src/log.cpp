#include "quire/inference/log.h"

#include <cstdio>
#include <memory>
#include <mutex>

namespace quire::inference {

namespace {
std::mutex g_mutex;
std::shared_ptr<const LogCallback> g_callback = std::make_shared<const LogCallback>(
    [](LogLevel level, std::string_view message) {
        if (level >= LogLevel::Warn)
            std::fprintf(stderr, "[inference] %.*s\n", static_cast<int>(message.size()), message.data());
    });
}  // namespace

void setLogCallback(LogCallback callback)
{
    auto next = std::make_shared<const LogCallback>(std::move(callback));
    std::lock_guard lock(g_mutex);
    g_callback = std::move(next);
}

void logMessage(LogLevel level, std::string_view message)
{
    std::shared_ptr<const LogCallback> cb;
    {
        std::lock_guard lock(g_mutex);
        cb = g_callback;
    }
    if (cb && *cb)
        (*cb)(level, message);
}

}  // namespace quire::inference
