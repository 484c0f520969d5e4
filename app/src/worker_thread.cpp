#include "quire/app/worker_thread.h"

namespace quire::app {

std::shared_ptr<std::atomic<bool>> CancelRegistry::add(quint64 id)
{
    auto flag = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard lock(m_mutex);
    m_flags[id] = flag;
    return flag;
}

void CancelRegistry::cancel(quint64 id)
{
    std::lock_guard lock(m_mutex);
    for (auto& [key, flag] : m_flags) {
        if (id == 0 || key == id)
            flag->store(true);
    }
}

void CancelRegistry::remove(quint64 id)
{
    std::lock_guard lock(m_mutex);
    m_flags.erase(id);
}

} // namespace quire::app
