// Hugging Face safetensors files: an 8-byte header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw data, used in place from a read-only memory map.
// SafetensorsSet joins the shards of a model directory (model.safetensors.index.json) into one
// name -> tensor lookup. Both are immutable after open and safe to read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "quire/inference/error.h"
#include "quire/inference/gguf.h"
#include "quire/inference/mapped_file.h"

namespace quire::inference {

struct SafeTensor {
    std::string name;
    std::string dtype;               // as written: "F32", "F16", "BF16", "I64", ...
    std::optional<GgmlType> type;    // F32/F16/BF16 when the engine can compute with it
    std::vector<std::int64_t> shape; // row-major: shape.back() is the contiguous dimension
    std::span<const std::byte> data; // validated, inside the mapping

    std::int64_t elements() const;
};

class SafetensorsFile {
public:
    static std::expected<SafetensorsFile, Error> open(const std::filesystem::path& path);

    const std::map<std::string, SafeTensor, std::less<>>& tensors() const { return m_tensors; }
    const std::map<std::string, std::string, std::less<>>& metadata() const { return m_metadata; }
    const SafeTensor* tensor(std::string_view name) const;
    const MappedFile& file() const { return m_file; }

private:
    explicit SafetensorsFile(MappedFile file) : m_file(std::move(file)) {}
    MappedFile m_file;
    std::map<std::string, SafeTensor, std::less<>> m_tensors;
    std::map<std::string, std::string, std::less<>> m_metadata;
};

class SafetensorsSet {
public:
    // A folder holding model.safetensors.index.json (with its shards), model.safetensors, or
    // other *.safetensors files; or one .safetensors file.
    static std::expected<SafetensorsSet, Error> open(const std::filesystem::path& path);

    const SafeTensor* tensor(std::string_view name) const;
    std::vector<std::string> names() const;
    std::size_t shardCount() const { return m_files.size(); }

private:
    std::vector<std::unique_ptr<SafetensorsFile>> m_files; // stable addresses for m_index
    std::map<std::string, const SafeTensor*, std::less<>> m_index;
};

} // namespace quire::inference
