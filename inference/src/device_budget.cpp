// Device context sizing (device_budget.h).
#include "quire/inference/device_budget.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

namespace quire::inference {

namespace {

std::string gib(std::uint64_t bytes)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.2f GiB", double(bytes) / double(std::uint64_t(1) << 30));
    return b;
}

std::int64_t granule(const DeviceContextCost& c)
{
    return std::max(c.granularity, 1);
}

} // namespace

std::uint64_t budgetedFreeBytes(std::uint64_t freeBytes, std::uint64_t budget)
{
    return budget > 0 ? std::min(freeBytes, budget) : freeBytes;
}

std::uint64_t kvBytesPerToken(int layers, int kvDim, KvDtype dtype)
{
    return std::uint64_t(std::max(layers, 0)) * 2 * std::uint64_t(std::max(kvDim, 0)) * kvDtypeBytes(dtype);
}

std::uint64_t contextBytes(const DeviceContextCost& c, std::int64_t tokens)
{
    const std::int64_t g = granule(c);
    const std::int64_t rounded = (std::max<std::int64_t>(tokens, 0) + g - 1) / g * g;
    return c.fixedBytes + std::uint64_t(rounded) * c.bytesPerToken;
}

std::int64_t longestContext(const DeviceContextCost& c, std::int64_t cap)
{
    if (c.availableBytes < c.fixedBytes)
        return 0;
    if (cap > 0 && contextBytes(c, cap) <= c.availableBytes)
        return cap; // the whole cap fits (the runner rounds its allocation up to the granularity)
    const std::int64_t g = granule(c);
    const std::uint64_t left = c.availableBytes - c.fixedBytes;
    const std::uint64_t perToken = std::max<std::uint64_t>(c.bytesPerToken, 1);
    const auto most = std::int64_t(std::min<std::uint64_t>(left / perToken, std::numeric_limits<int>::max()));
    const std::int64_t fit = most / g * g;
    return cap > 0 ? std::min(fit, cap) : fit;
}

std::expected<int, Error> chooseDeviceContext(const DeviceContextCost& c, int requested, int modelMax,
                                              std::string_view what)
{
    const std::int64_t fits = longestContext(c, modelMax > 0 ? modelMax : 0);
    if (requested > 0 && contextBytes(c, requested) <= c.availableBytes)
        return requested;
    if (requested <= 0 && fits > 0)
        return int(fits);
    std::string m = std::string(what) + ": ";
    if (requested > 0)
        m += "a context of " + std::to_string(requested) + " tokens needs " + gib(contextBytes(c, requested));
    else
        m += "not even one token fits";
    m += " (" + std::to_string(c.bytesPerToken) + " B per token + " + gib(c.fixedBytes) +
         " of working memory), but " + gib(c.availableBytes) + " are available";
    m += fits > 0 ? "; at most " + std::to_string(fits) + " tokens fit" : "; no context fits";
    m += " (raise the device memory budget or shorten the context)";
    return std::unexpected(Error{ErrorCode::OutOfMemory, m});
}

} // namespace quire::inference
