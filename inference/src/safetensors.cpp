#include "quire/inference/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "quire/inference/json.h"

namespace quire::inference {

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20; // the format's own limit
constexpr std::int64_t kMaxDims = 8;

Error formatError(const std::filesystem::path& path, const std::string& what)
{
    return Error{ErrorCode::Format, path.filename().string() + ": " + what};
}

std::optional<std::size_t> dtypeSize(const std::string& dtype)
{
    static const std::map<std::string, std::size_t, std::less<>> sizes = {
        {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
        {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U8", 1},      {"U16", 2},
        {"U32", 4}, {"U64", 8}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    const auto it = sizes.find(dtype);
    return it == sizes.end() ? std::nullopt : std::optional<std::size_t>(it->second);
}

std::optional<GgmlType> computeType(const std::string& dtype)
{
    if (dtype == "F32")
        return GgmlType::F32;
    if (dtype == "F16")
        return GgmlType::F16;
    if (dtype == "BF16")
        return GgmlType::BF16;
    return std::nullopt;
}

} // namespace

std::int64_t SafeTensor::elements() const
{
    std::int64_t n = 1;
    for (const auto d : shape)
        n *= d;
    return n;
}

std::expected<SafetensorsFile, Error> SafetensorsFile::open(const std::filesystem::path& path)
{
    auto mapped = MappedFile::open(path);
    if (!mapped)
        return std::unexpected(mapped.error());
    SafetensorsFile file(std::move(*mapped));
    const auto bytes = file.m_file.bytes();
    if (bytes.size() < 8)
        return std::unexpected(formatError(path, "too short for a safetensors header (truncated?)"));
    std::uint64_t headerLen = 0;
    std::memcpy(&headerLen, bytes.data(), 8); // little-endian on every platform we build for
    if (headerLen > kMaxHeaderBytes || headerLen > bytes.size() - 8)
        return std::unexpected(formatError(path, "header length " + std::to_string(headerLen) +
                                                     " runs past the end of the file (truncated or not "
                                                     "a safetensors file)"));
    const std::string_view headerText(reinterpret_cast<const char*>(bytes.data() + 8), headerLen);
    auto header = Json::parse(headerText);
    if (!header)
        return std::unexpected(formatError(path, "bad header: " + header.error().message));
    if (!header->isObject())
        return std::unexpected(formatError(path, "header is not a JSON object"));
    const std::size_t dataStart = 8 + headerLen;
    const std::uint64_t dataSize = bytes.size() - dataStart;

    for (const auto& [name, entry] : *header->asObject()) {
        if (name == "__metadata__") {
            if (const auto* meta = entry.asObject())
                for (const auto& [k, v] : *meta)
                    if (const auto* s = v.asString())
                        file.m_metadata[k] = *s;
            continue;
        }
        const Json* dtype = entry.find("dtype");
        const Json* shape = entry.find("shape");
        const Json* offsets = entry.find("data_offsets");
        if (!dtype || !dtype->isString() || !shape || !shape->isArray() || !offsets || !offsets->isArray() ||
            offsets->asArray()->size() != 2)
            return std::unexpected(
                formatError(path, "tensor '" + name + "' lacks dtype, shape or data_offsets"));
        SafeTensor t;
        t.name = name;
        t.dtype = *dtype->asString();
        const auto elemSize = dtypeSize(t.dtype);
        if (!elemSize)
            return std::unexpected(formatError(path, "tensor '" + name + "' has unknown dtype " + t.dtype));
        t.type = computeType(t.dtype);
        if (std::int64_t(shape->asArray()->size()) > kMaxDims)
            return std::unexpected(formatError(path, "tensor '" + name + "' has too many dimensions"));
        std::uint64_t elements = 1;
        for (const auto& d : *shape->asArray()) {
            const auto v = d.asInt();
            if (!v || *v < 0 || *v > (std::int64_t(1) << 40))
                return std::unexpected(formatError(path, "tensor '" + name + "' has an absurd shape"));
            t.shape.push_back(*v);
            elements *= std::uint64_t(*v);
            if (elements > (std::uint64_t(1) << 42))
                return std::unexpected(formatError(path, "tensor '" + name + "' has an absurd shape"));
        }
        const auto begin = (*offsets->asArray())[0].asInt();
        const auto end = (*offsets->asArray())[1].asInt();
        if (!begin || !end || *begin < 0 || *end < *begin || std::uint64_t(*end) > dataSize)
            return std::unexpected(formatError(path, "tensor '" + name +
                                                         "' has data offsets past the end of the "
                                                         "file (truncated?)"));
        if (std::uint64_t(*end - *begin) != elements * *elemSize)
            return std::unexpected(
                formatError(path, "tensor '" + name + "' byte range does not match its shape"));
        t.data = bytes.subspan(dataStart + std::size_t(*begin), std::size_t(*end - *begin));
        file.m_tensors.emplace(name, std::move(t));
    }
    return file;
}

const SafeTensor* SafetensorsFile::tensor(std::string_view name) const
{
    const auto it = m_tensors.find(name);
    return it == m_tensors.end() ? nullptr : &it->second;
}

std::expected<SafetensorsSet, Error> SafetensorsSet::open(const std::filesystem::path& path)
{
    namespace fs = std::filesystem;
    std::vector<fs::path> shards;
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
        shards.push_back(path);
    } else if (fs::is_directory(path, ec)) {
        const fs::path index = path / "model.safetensors.index.json";
        if (fs::exists(index, ec)) {
            std::ifstream in(index, std::ios::binary);
            std::stringstream text;
            text << in.rdbuf();
            auto json = Json::parse(text.str());
            if (!json)
                return std::unexpected(formatError(index, json.error().message));
            const Json* map = json->find("weight_map");
            if (!map || !map->isObject())
                return std::unexpected(formatError(index, "no weight_map object"));
            std::set<std::string> files;
            for (const auto& [name, file] : *map->asObject()) {
                const auto* f = file.asString();
                if (!f || f->find('/') != std::string::npos || f->find("..") != std::string::npos)
                    return std::unexpected(formatError(index, "bad shard name for tensor '" + name + "'"));
                files.insert(*f);
            }
            for (const auto& f : files)
                shards.push_back(path / f);
        } else if (fs::exists(path / "model.safetensors", ec)) {
            shards.push_back(path / "model.safetensors");
        } else {
            for (const auto& entry : fs::directory_iterator(path, ec))
                if (entry.path().extension() == ".safetensors")
                    shards.push_back(entry.path());
            std::sort(shards.begin(), shards.end());
        }
    } else {
        return std::unexpected(Error{ErrorCode::Io, path.string() + " does not exist"});
    }
    if (shards.empty())
        return std::unexpected(Error{ErrorCode::Io, "no .safetensors files in " + path.string()});

    SafetensorsSet set;
    for (const auto& shard : shards) {
        auto file = SafetensorsFile::open(shard);
        if (!file)
            return std::unexpected(file.error());
        set.m_files.push_back(std::make_unique<SafetensorsFile>(std::move(*file)));
        for (const auto& [name, t] : set.m_files.back()->tensors()) {
            if (!set.m_index.emplace(name, &t).second)
                return std::unexpected(formatError(shard, "tensor '" + name + "' appears in two shards"));
        }
    }
    return set;
}

const SafeTensor* SafetensorsSet::tensor(std::string_view name) const
{
    const auto it = m_index.find(name);
    return it == m_index.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsSet::names() const
{
    std::vector<std::string> out;
    out.reserve(m_index.size());
    for (const auto& [name, t] : m_index)
        out.push_back(name);
    return out;
}

} // namespace quire::inference
