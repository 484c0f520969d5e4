// KV blocks: the block format, Session export/import, the 128-bit hash and prefix hashes, and
// the Runner defaults for backends without KV export.
#include "quire/inference/kv_blocks.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>

#include "quire/inference/engine.h"

namespace quire::inference {

// ---- KvDtype and the Runner defaults ----

std::size_t kvDtypeBytes(KvDtype dtype)
{
    switch (dtype) {
    case KvDtype::F32:
        return 4;
    case KvDtype::F16:
    case KvDtype::BF16:
        return 2;
    case KvDtype::Fp8E4M3:
        return 1;
    }
    return 0;
}

std::string_view toString(KvDtype dtype)
{
    switch (dtype) {
    case KvDtype::F32:
        return "f32";
    case KvDtype::F16:
        return "f16";
    case KvDtype::BF16:
        return "bf16";
    case KvDtype::Fp8E4M3:
        return "fp8e4m3";
    }
    return "unknown";
}

std::optional<KvDtype> parseKvDtype(std::string_view text)
{
    if (text == "f32")
        return KvDtype::F32;
    if (text == "f16")
        return KvDtype::F16;
    if (text == "bf16")
        return KvDtype::BF16;
    if (text == "fp8" || text == "fp8e4m3")
        return KvDtype::Fp8E4M3;
    return std::nullopt;
}

namespace {

Error unsupportedKv(const Runner& r)
{
    return Error{ErrorCode::Unsupported, "KV export/import (snapshots) is not supported on the " +
                                             std::string(r.backendName()) + " backend yet"};
}

} // namespace

std::expected<void, Error> checkKvCopy(int layer, int nLayers, int begin, int end, int held,
                                       std::size_t kBytes, std::size_t vBytes, std::size_t rowBytes)
{
    if (layer < 0 || layer >= nLayers)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "KV copy: no layer " + std::to_string(layer)});
    if (begin < 0 || begin > end || end > held)
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "KV copy: positions [" + std::to_string(begin) + ", " +
                                                  std::to_string(end) + ") are not held (" +
                                                  std::to_string(held) + " tokens)"});
    const std::size_t need = std::size_t(end - begin) * rowBytes;
    if (kBytes != need || vBytes != need)
        return std::unexpected(Error{ErrorCode::InvalidArgument, "KV copy: buffers of the wrong size"});
    return {};
}

std::expected<void, Error> checkAppend(std::span<const std::int32_t> tokens, int held, int maxContext, int vocab)
{
    for (const std::int32_t t : tokens)
        if (t < 0 || t >= vocab)
            return std::unexpected(Error{ErrorCode::InvalidArgument,
                                         "token id " + std::to_string(t) + " is outside the vocabulary"});
    if (std::size_t(held) + tokens.size() > std::size_t(maxContext))
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "context full: " + std::to_string(held + tokens.size()) +
                                                  " tokens exceed " + std::to_string(maxContext)});
    return {};
}

std::expected<KvLayout, Error> Runner::kvLayout() const
{
    return std::unexpected(unsupportedKv(*this));
}

std::expected<void, Error> Runner::readKv(int, int, int, std::span<std::byte>, std::span<std::byte>) const
{
    return std::unexpected(unsupportedKv(*this));
}

std::expected<void, Error> Runner::appendUncomputed(std::span<const std::int32_t>)
{
    return std::unexpected(unsupportedKv(*this));
}

std::expected<void, Error> Runner::writeKv(int, int, int, std::span<const std::byte>,
                                           std::span<const std::byte>)
{
    return std::unexpected(unsupportedKv(*this));
}

// ---- block format ----

namespace {

template <typename T> void put(std::byte* at, T value)
{
    std::memcpy(at, &value, sizeof value);
}
template <typename T> T get(const std::byte* at)
{
    T value;
    std::memcpy(&value, at, sizeof value);
    return value;
}

constexpr char kMagic[4] = {'Q', 'K', 'V', 'B'};

std::size_t layerBytes(const KvLayout& l, int layer, std::int64_t begin, std::int64_t end,
                       std::int64_t chunkedBegin)
{
    const std::int64_t from = l.isChunked(layer) ? chunkedBegin : begin;
    return 2 * std::size_t(end - from) * l.rowBytes();
}

} // namespace

std::int64_t kvChunkedBegin(const KvLayout& layout, std::int64_t end)
{
    const std::int64_t C = layout.chunkSize;
    if (C <= 0 || layout.chunked.empty() || end % C == 0)
        return end;
    return end / C * C;
}

std::size_t kvBlockBytes(const KvLayout& layout, std::int64_t begin, std::int64_t end)
{
    const std::int64_t cb = kvChunkedBegin(layout, end);
    std::size_t n = kKvBlockHeaderBytes + std::size_t(end - begin) * sizeof(TokenId);
    for (int l = 0; l < layout.nLayers; ++l)
        n += layerBytes(layout, l, begin, end, cb);
    return n;
}

std::expected<KvBlockHeader, Error> parseKvBlockHeader(std::span<const std::byte> block)
{
    if (block.size() < kKvBlockHeaderBytes || std::memcmp(block.data(), kMagic, 4) != 0)
        return std::unexpected(Error{ErrorCode::Format, "not a KV block (bad magic)"});
    const std::byte* p = block.data();
    KvBlockHeader h;
    h.formatVersion = get<std::uint32_t>(p + 4);
    if (h.formatVersion != kKvBlockFormatVersion)
        return std::unexpected(
            Error{ErrorCode::Format, "KV block format version " + std::to_string(h.formatVersion) +
                                         "; this build reads " + std::to_string(kKvBlockFormatVersion)});
    h.dtype = KvDtype(get<std::uint32_t>(p + 8));
    h.nLayers = int(get<std::uint32_t>(p + 12));
    h.nKvHeads = int(get<std::uint32_t>(p + 16));
    h.headDim = int(get<std::uint32_t>(p + 20));
    h.tokenBegin = get<std::int64_t>(p + 24);
    h.tokenEnd = get<std::int64_t>(p + 32);
    h.chunkedBegin = get<std::int64_t>(p + 40);
    h.chunkSize = int(get<std::uint32_t>(p + 48));
    if (h.tokenBegin < 0 || h.tokenEnd < h.tokenBegin || h.chunkedBegin > h.tokenEnd || h.chunkedBegin < 0)
        return std::unexpected(Error{ErrorCode::Format, "KV block header with an impossible token range"});
    return h;
}

std::expected<std::vector<std::byte>, Error> Session::exportBlock(int begin, int end) const
{
    auto layout = m_runner->kvLayout();
    if (!layout)
        return std::unexpected(layout.error());
    const KvLayout& l = *layout;
    if (begin < 0 || begin >= end || end > position())
        return std::unexpected(Error{ErrorCode::InvalidArgument, "export: positions [" +
                                                                     std::to_string(begin) + ", " +
                                                                     std::to_string(end) + ") are not held"});
    const std::int64_t cb = kvChunkedBegin(l, end);
    if (cb < end && end != position())
        return std::unexpected(Error{ErrorCode::InvalidArgument,
                                     "export: a block ending inside an attention chunk must end at the "
                                     "session's position"});
    std::vector<std::byte> out(kvBlockBytes(l, begin, end));
    std::byte* p = out.data();
    std::memcpy(p, kMagic, 4);
    put<std::uint32_t>(p + 4, kKvBlockFormatVersion);
    put<std::uint32_t>(p + 8, std::uint32_t(l.dtype));
    put<std::uint32_t>(p + 12, std::uint32_t(l.nLayers));
    put<std::uint32_t>(p + 16, std::uint32_t(l.nKvHeads));
    put<std::uint32_t>(p + 20, std::uint32_t(l.headDim));
    put<std::int64_t>(p + 24, begin);
    put<std::int64_t>(p + 32, end);
    put<std::int64_t>(p + 40, cb);
    put<std::uint32_t>(p + 48, std::uint32_t(l.chunkSize));
    put<std::uint32_t>(p + 52, std::uint32_t(kKvBlockHeaderBytes));
    std::memcpy(p + kKvBlockHeaderBytes, m_tokens.data() + begin, std::size_t(end - begin) * sizeof(TokenId));
    std::size_t at = kKvBlockHeaderBytes + std::size_t(end - begin) * sizeof(TokenId);
    for (int layer = 0; layer < l.nLayers; ++layer) {
        const std::int64_t from = l.isChunked(layer) ? cb : begin;
        const std::size_t half = std::size_t(end - from) * l.rowBytes();
        if (half == 0)
            continue;
        auto ok = m_runner->readKv(layer, int(from), end, std::span(out).subspan(at, half),
                                   std::span(out).subspan(at + half, half));
        if (!ok)
            return std::unexpected(ok.error());
        at += 2 * half;
    }
    return out;
}

std::expected<std::vector<TokenId>, Error> kvBlockTokens(std::span<const std::byte> block)
{
    auto h = parseKvBlockHeader(block);
    if (!h)
        return std::unexpected(h.error());
    const std::size_t n = std::size_t(h->tokenEnd - h->tokenBegin);
    if (block.size() < kKvBlockHeaderBytes + n * sizeof(TokenId))
        return std::unexpected(Error{ErrorCode::Format, "the KV block is truncated"});
    std::vector<TokenId> tokens(n);
    std::memcpy(tokens.data(), block.data() + kKvBlockHeaderBytes, n * sizeof(TokenId));
    return tokens;
}

std::expected<void, Error> Session::importBlock(std::span<const std::byte> block)
{
    auto stored = kvBlockTokens(block);
    if (!stored)
        return std::unexpected(stored.error());
    const std::span<const TokenId> tokens(*stored);

    auto layout = m_runner->kvLayout();
    if (!layout)
        return std::unexpected(layout.error());
    const KvLayout& l = *layout;
    auto header = parseKvBlockHeader(block);
    if (!header)
        return std::unexpected(header.error());
    const KvBlockHeader& h = *header;
    const std::int64_t begin = position(), end = begin + std::int64_t(tokens.size());
    if (h.dtype != l.dtype || h.nLayers != l.nLayers || h.nKvHeads != l.nKvHeads || h.headDim != l.headDim ||
        h.chunkSize != l.chunkSize)
        return std::unexpected(Error{
            ErrorCode::Format, "the KV block's layout (" + std::string(toString(h.dtype)) + ", " +
                                   std::to_string(h.nLayers) + " layers, " + std::to_string(h.nKvHeads) +
                                   "x" + std::to_string(h.headDim) + ") does not match this session's"});
    if (h.tokenBegin != begin || tokens.empty())
        return std::unexpected(
            Error{ErrorCode::InvalidArgument, "the KV block starts at token " + std::to_string(h.tokenBegin) +
                                                  ", the session holds " + std::to_string(begin)});
    if (h.chunkedBegin != kvChunkedBegin(l, end) || block.size() != kvBlockBytes(l, begin, end))
        return std::unexpected(Error{ErrorCode::Format, "the KV block has the wrong size"});
    if (auto ok = m_runner->appendUncomputed(tokens); !ok)
        return ok;
    std::size_t at = kKvBlockHeaderBytes + tokens.size() * sizeof(TokenId);
    for (int layer = 0; layer < l.nLayers; ++layer) {
        const std::int64_t from = l.isChunked(layer) ? h.chunkedBegin : begin;
        const std::size_t half = std::size_t(end - from) * l.rowBytes();
        if (half == 0)
            continue;
        auto ok = m_runner->writeKv(layer, int(from), int(end), block.subspan(at, half),
                                    block.subspan(at + half, half));
        if (!ok) {
            m_runner->truncate(int(begin));
            return ok;
        }
        at += 2 * half;
    }
    m_tokens.insert(m_tokens.end(), tokens.begin(), tokens.end());
    m_logits.clear();
    return {};
}

// ---- hashing ----

namespace {

constexpr std::uint64_t kP1 = 0x9e3779b185ebca87ull, kP2 = 0xc2b2ae3d27d4eb4full, kP3 = 0x165667b19e3779f9ull;

std::uint64_t fmix(std::uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

} // namespace

void Hasher128::word(std::uint64_t w)
{
    m_a = std::rotl(m_a ^ (w * kP1), 31) * kP2;
    m_b = std::rotl(m_b + (w ^ kP3), 27) * kP1 + m_a;
}

void Hasher128::update(std::span<const std::byte> bytes)
{
    std::size_t i = 0;
    m_length += bytes.size();
    while (m_tailBytes != 0 && i < bytes.size()) {
        m_tail |= std::uint64_t(bytes[i++]) << (8 * m_tailBytes);
        if (++m_tailBytes == 8) {
            word(m_tail);
            m_tail = 0;
            m_tailBytes = 0;
        }
    }
    for (; i + 8 <= bytes.size(); i += 8)
        word(get<std::uint64_t>(bytes.data() + i));
    for (; i < bytes.size(); ++i)
        m_tail |= std::uint64_t(bytes[i]) << (8 * m_tailBytes++);
}

void Hasher128::update(std::string_view text)
{
    update(std::as_bytes(std::span(text.data(), text.size())));
}

void Hasher128::updateU64(std::uint64_t value)
{
    std::byte b[8];
    put(b, value);
    update(std::span<const std::byte>(b, 8));
}

std::string Hasher128::digest() const
{
    std::uint64_t a = m_a, b = m_b;
    if (m_tailBytes) {
        a = std::rotl(a ^ (m_tail * kP1), 31) * kP2;
        b = std::rotl(b + (m_tail ^ kP3), 27) * kP1 + a;
    }
    a = fmix(a ^ m_length);
    b = fmix(b ^ a ^ (m_length * kP3));
    a = fmix(a + b);
    std::string out(16, '\0');
    std::memcpy(out.data(), &a, 8);
    std::memcpy(out.data() + 8, &b, 8);
    return out;
}

std::string toHex(std::string_view bytes)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (const char c : bytes) {
        s += kHex[(static_cast<unsigned char>(c) >> 4) & 15];
        s += kHex[static_cast<unsigned char>(c) & 15];
    }
    return s;
}

std::string chainPrefixHash(std::string_view previous, std::span<const TokenId> tokens,
                            std::string_view fingerprintKey)
{
    Hasher128 h;
    h.update("quire-prefix-v1");
    h.updateU64(previous.size());
    h.update(previous);
    h.updateU64(fingerprintKey.size());
    h.update(fingerprintKey);
    h.updateU64(tokens.size());
    h.update(std::as_bytes(tokens));
    return h.digest();
}

// ---- file identity ----

std::string fileIdentity(const std::filesystem::path& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(path, ec))
            if (e.is_regular_file(ec))
                files.push_back(e.path());
        std::ranges::sort(files);
        std::string all;
        for (const auto& f : files)
            all += f.filename().string() + ":" + fileIdentity(f) + ";";
        return all;
    }
    const auto size = fs::file_size(path, ec);
    if (ec)
        return "unreadable";
    const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
    Hasher128 h;
    std::ifstream in(path, std::ios::binary);
    std::vector<char> buf(std::size_t{1} << 20);
    auto sample = [&](std::uint64_t offset, std::size_t n) {
        in.clear();
        in.seekg(std::streamoff(offset));
        in.read(buf.data(), std::streamsize(std::min<std::uint64_t>(n, buf.size())));
        h.updateU64(offset);
        h.update(std::string_view(buf.data(), std::size_t(in.gcount())));
    };
    sample(0, buf.size()); // the header (GGUF metadata, safetensors index)
    constexpr int kSamples = 16;
    constexpr std::size_t kChunk = 64 << 10;
    if (size > buf.size())
        for (int i = 1; i <= kSamples; ++i)
            sample(std::uint64_t(double(size - kChunk) * i / kSamples), kChunk);
    return std::to_string(size) + " bytes, mtime " + std::to_string(mtime) + ", sampled " + toHex(h.digest());
}

} // namespace quire::inference
