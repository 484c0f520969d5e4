#include "quire/app/service_types.h"

namespace quire::app {

std::expected<storage::Database*, std::string> readConnection(std::optional<storage::Database>& slot,
                                                              const QString& libraryPath)
{
    if (!slot) {
        storage::OpenOptions o;
        o.mode = storage::OpenMode::ReadOnly;
        auto d = storage::Database::open(libraryPath.toStdString(), o);
        if (!d)
            return std::unexpected(d.error().message);
        slot.emplace(std::move(*d));
    }
    return &*slot;
}

} // namespace quire::app
