// Content hashes for Source::contentHash: XXH3-128 of the file's bytes as 32 lower-case hex
// digits. ContentHasher is a streaming state (one per thread); hashFile reads a file in chunks.
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "quire/ingest/error.h"

namespace quire::ingest {

class ContentHasher {
public:
    ContentHasher();
    ~ContentHasher();
    ContentHasher(const ContentHasher&) = delete;
    ContentHasher& operator=(const ContentHasher&) = delete;

    void update(std::string_view bytes);
    std::string hex() const; // of everything fed so far

    // The same hash of bytes that are all at hand, without a streaming state.
    static std::string hexOf(std::string_view bytes);

private:
    struct State;
    std::unique_ptr<State> m_state;
};

std::expected<std::string, Error> hashFile(const std::filesystem::path& path);

} // namespace quire::ingest
