#include "quire/ingest/content_hash.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace quire::ingest {

struct ContentHasher::State {
    XXH3_state_t* state = XXH3_createState();
    ~State() { XXH3_freeState(state); }
};

ContentHasher::ContentHasher() : m_state(std::make_unique<State>())
{
    XXH3_128bits_reset(m_state->state);
}

ContentHasher::~ContentHasher() = default;

void ContentHasher::update(std::string_view bytes)
{
    XXH3_128bits_update(m_state->state, bytes.data(), bytes.size());
}

namespace {

std::string toHex(XXH128_hash_t hash)
{
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, hash);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(32);
    for (unsigned char b : canonical.digest) {
        out += digits[b >> 4];
        out += digits[b & 15];
    }
    return out;
}

} // namespace

std::string ContentHasher::hex() const
{
    return toHex(XXH3_128bits_digest(m_state->state));
}

std::string ContentHasher::hexOf(std::string_view bytes)
{
    return toHex(XXH3_128bits(bytes.data(), bytes.size()));
}

std::expected<std::string, Error> hashFile(const std::filesystem::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::unexpected(
            Error{ErrorCode::Io, "cannot open " + path.string() + ": " + std::strerror(errno)});
    ContentHasher hasher;
    std::vector<char> buffer(1 << 20);
    for (;;) {
        const ssize_t n = ::read(fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return std::unexpected(
                Error{ErrorCode::Io, "cannot read " + path.string() + ": " + std::strerror(err)});
        }
        if (n == 0)
            break;
        hasher.update({buffer.data(), static_cast<std::size_t>(n)});
    }
    ::close(fd);
    return hasher.hex();
}

} // namespace quire::ingest
