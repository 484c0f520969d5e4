// Builds GGUF files byte by byte for tests and fuzz seeds: valid ones, and (by editing the bytes
// afterwards) malformed ones. Little-endian host assumed, like the files themselves.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace quire::test {

class GgufBuilder {
public:
    enum Type : std::uint32_t {
        U8 = 0,
        I8 = 1,
        U16 = 2,
        I16 = 3,
        U32 = 4,
        I32 = 5,
        F32 = 6,
        Bool = 7,
        String = 8,
        Array = 9,
        U64 = 10,
        I64 = 11,
        F64 = 12,
    };

    struct Tensor {
        std::string name;
        std::vector<std::uint64_t> dims;
        std::uint32_t type = 0;
        std::uint64_t offset = 0;
        std::vector<std::uint8_t> data;
    };

    std::uint32_t version = 3;
    std::size_t alignment = 32;

    // Metadata: the caller writes the value bytes with the put* helpers into `kv`.
    void key(std::string_view k, std::uint32_t type)
    {
        putString(m_kv, k);
        putU32(m_kv, type);
        ++m_kvCount;
    }
    void kvU32(std::string_view k, std::uint32_t v) { key(k, U32), putU32(m_kv, v); }
    void kvString(std::string_view k, std::string_view v) { key(k, String), putString(m_kv, v); }
    void kvStringArray(std::string_view k, const std::vector<std::string>& v)
    {
        key(k, Array);
        putU32(m_kv, String);
        putU64(m_kv, v.size());
        for (const auto& s : v)
            putString(m_kv, s);
    }
    std::vector<std::uint8_t>& kvBytes() { return m_kv; }

    // Adds a tensor; its offset is the next aligned position in the data section.
    void tensor(std::string name, std::vector<std::uint64_t> dims, std::uint32_t type,
                std::vector<std::uint8_t> data)
    {
        std::uint64_t off = m_dataSize;
        off = (off + alignment - 1) / alignment * alignment;
        m_dataSize = off + data.size();
        m_tensors.push_back({std::move(name), std::move(dims), type, off, std::move(data)});
    }

    std::vector<std::uint8_t> build() const
    {
        std::vector<std::uint8_t> out;
        out.insert(out.end(), {'G', 'G', 'U', 'F'});
        putU32(out, version);
        putU64(out, m_tensors.size());
        putU64(out, m_kvCount);
        out.insert(out.end(), m_kv.begin(), m_kv.end());
        for (const auto& t : m_tensors) {
            putString(out, t.name);
            putU32(out, static_cast<std::uint32_t>(t.dims.size()));
            for (auto d : t.dims)
                putU64(out, d);
            putU32(out, t.type);
            putU64(out, t.offset);
        }
        while (out.size() % alignment)
            out.push_back(0);
        const std::size_t base = out.size();
        for (const auto& t : m_tensors) {
            out.resize(base + t.offset, 0);
            out.insert(out.end(), t.data.begin(), t.data.end());
        }
        return out;
    }

    static void putU32(std::vector<std::uint8_t>& o, std::uint32_t v) { putRaw(o, &v, 4); }
    static void putU64(std::vector<std::uint8_t>& o, std::uint64_t v) { putRaw(o, &v, 8); }
    static void putString(std::vector<std::uint8_t>& o, std::string_view s)
    {
        putU64(o, s.size());
        o.insert(o.end(), s.begin(), s.end());
    }
    static void putRaw(std::vector<std::uint8_t>& o, const void* p, std::size_t n)
    {
        const auto* b = static_cast<const std::uint8_t*>(p);
        o.insert(o.end(), b, b + n);
    }

private:
    std::vector<std::uint8_t> m_kv;
    std::uint64_t m_kvCount = 0;
    std::uint64_t m_dataSize = 0;
    std::vector<Tensor> m_tensors;
};

} // namespace quire::test
