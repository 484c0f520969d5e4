// GGUF (v2/v3) model files: metadata and tensor directory parsed up front, tensor data used in
// place from a read-only memory map. A GgufFile is immutable after open() and safe to read from
// any number of threads. Every offset, count and shape is validated against the file size, so a
// malformed or hostile file gives an Error, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "quire/inference/error.h"
#include "quire/inference/mapped_file.h"

namespace quire::inference {

// ggml tensor type numbers as stored in GGUF files (persisted by the format: never renumber).
enum class GgmlType : std::uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
};

const char* toString(GgmlType type);
// Elements per block and bytes per block; nullopt for a type this build does not know.
std::optional<std::pair<std::size_t, std::size_t>> blockLayout(GgmlType type);

struct GgufValue;
using GgufArray = std::vector<GgufValue>;
struct GgufValue {
    // uint8..int64 are widened into these alternatives; the original GGUF type is kept in `type`.
    std::variant<std::uint64_t, std::int64_t, double, bool, std::string, GgufArray> value;
    std::uint32_t type = 0; // GGUF metadata value type number

    std::optional<std::int64_t> asInt() const;
    std::optional<double> asFloat() const;
    const std::string* asString() const;
    const GgufArray* asArray() const;
};

struct GgufTensor {
    std::string name;
    GgmlType type = GgmlType::F32;
    std::vector<std::int64_t> shape; // GGUF order: shape[0] is the innermost (contiguous) dim
    std::uint64_t offset = 0;        // from the start of the data section
    std::span<const std::byte> data; // validated, inside the mapping

    std::int64_t elements() const;
};

class GgufFile {
public:
    static std::expected<GgufFile, Error> open(const std::filesystem::path& path);

    std::uint32_t version() const { return m_version; }
    std::size_t alignment() const { return m_alignment; }
    // Byte offset of the (aligned) tensor data section from the start of the file.
    std::size_t dataOffset() const { return m_dataOffset; }
    const std::map<std::string, GgufValue>& metadata() const { return m_metadata; }
    const std::vector<GgufTensor>& tensors() const { return m_tensors; }

    const GgufValue* find(const std::string& key) const;
    std::optional<std::int64_t> getInt(const std::string& key) const;
    std::optional<double> getFloat(const std::string& key) const;
    std::optional<std::string> getString(const std::string& key) const;
    // String arrays (e.g. tokenizer.ggml.tokens / merges) without copying each element twice.
    std::vector<std::string> getStringArray(const std::string& key) const;
    std::vector<double> getFloatArray(const std::string& key) const;
    std::vector<std::int64_t> getIntArray(const std::string& key) const;
    const GgufTensor* tensor(const std::string& name) const;

    const MappedFile& file() const { return m_file; }

private:
    explicit GgufFile(MappedFile file) : m_file(std::move(file)) {}
    MappedFile m_file;
    std::uint32_t m_version = 0;
    std::size_t m_alignment = 32;
    std::size_t m_dataOffset = 0;
    std::map<std::string, GgufValue> m_metadata;
    std::vector<GgufTensor> m_tensors;
    std::map<std::string, std::size_t, std::less<>> m_tensorIndex;
};

} // namespace quire::inference
