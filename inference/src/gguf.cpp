// GGUF v2/v3 reader. The layout, all little-endian:
//   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
//   kv_count x (string key | u32 value_type | value)
//   tensor_count x (string name | u32 n_dims | u64 dims[n_dims] | u32 ggml_type | u64 offset)
//   padding to `general.alignment` (default 32) | tensor data (offsets relative to its start)
// where a string is u64 length + bytes and an array is u32 element_type + u64 count + elements.
// Every read is bounds-checked; every count is checked against the bytes left before anything is
// allocated, so a hostile header cannot make us allocate more than a small multiple of its size.
#include "quire/inference/gguf.h"

#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <string_view>

namespace quire::inference {

namespace {

// GGUF metadata value types (persisted by the format).
enum GgufType : std::uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12,
    kTypeCount = 13,
};

constexpr std::uint32_t kMaxDims = 4;             // GGML_MAX_DIMS
constexpr std::size_t kMaxKeyBytes = 65535;       // the spec's limit on key length
constexpr std::size_t kMaxTensorNameBytes = 1024; // ggml uses 64; be lenient, names are only looked up
constexpr int kMaxArrayDepth = 8;                 // nested arrays: real files use none
// Caps the in-memory expansion of metadata arrays (each element becomes a GgufValue). Real
// vocabularies have a few hundred thousand entries.
constexpr std::uint64_t kMaxMetadataElements = std::uint64_t(1) << 25;

const char* typeName(std::uint32_t t)
{
    static constexpr std::array<const char*, kTypeCount> names = {
        "uint8", "int8",   "uint16", "int16",  "uint32", "int32",  "float32",
        "bool",  "string", "array",  "uint64", "int64",  "float64"};
    return t < kTypeCount ? names[t] : "unknown";
}

// The smallest encoded size of one value of this type, used to bound counts before allocating.
std::uint64_t minEncodedSize(std::uint32_t t)
{
    switch (t) {
    case kU8:
    case kI8:
    case kBool:
        return 1;
    case kU16:
    case kI16:
        return 2;
    case kU32:
    case kI32:
    case kF32:
        return 4;
    case kU64:
    case kI64:
    case kF64:
    case kString:
        return 8;
    case kArray:
        return 12;
    default:
        return 1;
    }
}

struct FormatError {
    std::string what;
};

class Reader {
public:
    Reader(std::span<const std::byte> bytes) : m_bytes(bytes) {}

    std::size_t pos() const { return m_pos; }
    std::size_t left() const { return m_bytes.size() - m_pos; }

    void need(std::size_t n, std::string_view what) const
    {
        if (n > left())
            throw FormatError{"truncated: " + std::string(what) + " needs " + std::to_string(n) +
                              " byte(s) at offset " + std::to_string(m_pos) + " but the file has " +
                              std::to_string(left()) + " left"};
    }

    template <typename T> T read(std::string_view what)
    {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, m_bytes.data() + m_pos, sizeof(T));
        m_pos += sizeof(T);
        if constexpr (std::endian::native == std::endian::big)
            v = byteswapValue(v);
        return v;
    }

    std::string readString(std::string_view what, std::size_t maxBytes)
    {
        const auto len = read<std::uint64_t>(what);
        if (len > maxBytes)
            throw FormatError{std::string(what) + " claims " + std::to_string(len) +
                              " bytes, more than the limit of " + std::to_string(maxBytes)};
        need(static_cast<std::size_t>(len), what);
        std::string s(reinterpret_cast<const char*>(m_bytes.data() + m_pos), static_cast<std::size_t>(len));
        m_pos += static_cast<std::size_t>(len);
        return s;
    }

private:
    template <typename T> static T byteswapValue(T v)
    {
        if constexpr (sizeof(T) == 1) {
            return v;
        } else {
            std::array<unsigned char, sizeof(T)> b;
            std::memcpy(b.data(), &v, sizeof(T));
            for (std::size_t i = 0; i < sizeof(T) / 2; ++i)
                std::swap(b[i], b[sizeof(T) - 1 - i]);
            std::memcpy(&v, b.data(), sizeof(T));
            return v;
        }
    }

    std::span<const std::byte> m_bytes;
    std::size_t m_pos = 0;
};

class MetadataParser {
public:
    explicit MetadataParser(Reader& r) : m_r(r) {}

    GgufValue readValue(std::uint32_t type, const std::string& key, int depth)
    {
        GgufValue v;
        v.type = type;
        switch (type) {
        case kU8:
            v.value = std::uint64_t(m_r.read<std::uint8_t>(key));
            break;
        case kI8:
            v.value = std::int64_t(m_r.read<std::int8_t>(key));
            break;
        case kU16:
            v.value = std::uint64_t(m_r.read<std::uint16_t>(key));
            break;
        case kI16:
            v.value = std::int64_t(m_r.read<std::int16_t>(key));
            break;
        case kU32:
            v.value = std::uint64_t(m_r.read<std::uint32_t>(key));
            break;
        case kI32:
            v.value = std::int64_t(m_r.read<std::int32_t>(key));
            break;
        case kU64:
            v.value = m_r.read<std::uint64_t>(key);
            break;
        case kI64:
            v.value = m_r.read<std::int64_t>(key);
            break;
        case kF32:
            v.value = double(std::bit_cast<float>(m_r.read<std::uint32_t>(key)));
            break;
        case kF64:
            v.value = std::bit_cast<double>(m_r.read<std::uint64_t>(key));
            break;
        case kBool: {
            const auto b = m_r.read<std::uint8_t>(key);
            if (b > 1)
                throw FormatError{"metadata '" + key + "' is a bool with the value " + std::to_string(b)};
            v.value = b != 0;
            break;
        }
        case kString:
            v.value = m_r.readString("the string value of '" + key + "'", m_r.left());
            break;
        case kArray:
            v.value = readArray(key, depth);
            break;
        default:
            throw FormatError{"metadata '" + key + "' has the unknown value type " + std::to_string(type)};
        }
        return v;
    }

private:
    GgufArray readArray(const std::string& key, int depth)
    {
        if (depth >= kMaxArrayDepth)
            throw FormatError{"metadata '" + key + "' nests arrays deeper than " +
                              std::to_string(kMaxArrayDepth)};
        const auto elemType = m_r.read<std::uint32_t>("the element type of '" + key + "'");
        if (elemType >= kTypeCount)
            throw FormatError{"metadata '" + key + "' is an array of the unknown type " +
                              std::to_string(elemType)};
        const auto count = m_r.read<std::uint64_t>("the length of '" + key + "'");
        if (count > m_r.left() / minEncodedSize(elemType))
            throw FormatError{"metadata '" + key + "' claims " + std::to_string(count) + " " +
                              typeName(elemType) + " elements, more than the " + std::to_string(m_r.left()) +
                              " bytes left in the file can hold"};
        m_elements += count;
        if (m_elements > kMaxMetadataElements)
            throw FormatError{"metadata arrays hold more than " + std::to_string(kMaxMetadataElements) +
                              " elements in all (at '" + key + "')"};
        GgufArray out;
        out.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t i = 0; i < count; ++i)
            out.push_back(readValue(elemType, key, depth + 1));
        return out;
    }

    Reader& m_r;
    std::uint64_t m_elements = 0;
};

std::uint64_t checkedMul(std::uint64_t a, std::uint64_t b, const std::string& what)
{
    std::uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r))
        throw FormatError{what + " overflows 64 bits"};
    return r;
}

std::string printable(const std::string& s)
{
    // Names come from the file: keep them printable in messages.
    std::string out = "'";
    for (char c : s.substr(0, 200))
        out += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : '?';
    if (s.size() > 200)
        out += "...";
    return out + "'";
}

} // namespace

const char* toString(GgmlType type)
{
    switch (type) {
    case GgmlType::F32:
        return "F32";
    case GgmlType::F16:
        return "F16";
    case GgmlType::Q4_0:
        return "Q4_0";
    case GgmlType::Q4_1:
        return "Q4_1";
    case GgmlType::Q5_0:
        return "Q5_0";
    case GgmlType::Q5_1:
        return "Q5_1";
    case GgmlType::Q8_0:
        return "Q8_0";
    case GgmlType::Q8_1:
        return "Q8_1";
    case GgmlType::Q2_K:
        return "Q2_K";
    case GgmlType::Q3_K:
        return "Q3_K";
    case GgmlType::Q4_K:
        return "Q4_K";
    case GgmlType::Q5_K:
        return "Q5_K";
    case GgmlType::Q6_K:
        return "Q6_K";
    case GgmlType::Q8_K:
        return "Q8_K";
    case GgmlType::I8:
        return "I8";
    case GgmlType::I16:
        return "I16";
    case GgmlType::I32:
        return "I32";
    case GgmlType::I64:
        return "I64";
    case GgmlType::F64:
        return "F64";
    case GgmlType::BF16:
        return "BF16";
    }
    return "unknown";
}

std::optional<std::pair<std::size_t, std::size_t>> blockLayout(GgmlType type)
{
    using P = std::pair<std::size_t, std::size_t>;
    switch (type) {
    case GgmlType::F32:
        return P{1, 4};
    case GgmlType::F16:
        return P{1, 2};
    case GgmlType::BF16:
        return P{1, 2};
    case GgmlType::F64:
        return P{1, 8};
    case GgmlType::I8:
        return P{1, 1};
    case GgmlType::I16:
        return P{1, 2};
    case GgmlType::I32:
        return P{1, 4};
    case GgmlType::I64:
        return P{1, 8};
    case GgmlType::Q4_0:
        return P{32, 2 + 16};
    case GgmlType::Q4_1:
        return P{32, 2 + 2 + 16};
    case GgmlType::Q5_0:
        return P{32, 2 + 4 + 16};
    case GgmlType::Q5_1:
        return P{32, 2 + 2 + 4 + 16};
    case GgmlType::Q8_0:
        return P{32, 2 + 32};
    case GgmlType::Q8_1:
        return P{32, 4 + 32};
    case GgmlType::Q2_K:
        return P{256, 16 + 64 + 2 + 2};
    case GgmlType::Q3_K:
        return P{256, 32 + 64 + 12 + 2};
    case GgmlType::Q4_K:
        return P{256, 2 + 2 + 12 + 128};
    case GgmlType::Q5_K:
        return P{256, 2 + 2 + 12 + 32 + 128};
    case GgmlType::Q6_K:
        return P{256, 128 + 64 + 16 + 2};
    case GgmlType::Q8_K:
        return P{256, 4 + 256 + 32};
    }
    return std::nullopt;
}

std::optional<std::int64_t> GgufValue::asInt() const
{
    if (const auto* u = std::get_if<std::uint64_t>(&value)) {
        if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return std::nullopt;
        return static_cast<std::int64_t>(*u);
    }
    if (const auto* i = std::get_if<std::int64_t>(&value))
        return *i;
    return std::nullopt;
}

std::optional<double> GgufValue::asFloat() const
{
    if (const auto* d = std::get_if<double>(&value))
        return *d;
    if (const auto* u = std::get_if<std::uint64_t>(&value))
        return static_cast<double>(*u);
    if (const auto* i = std::get_if<std::int64_t>(&value))
        return static_cast<double>(*i);
    return std::nullopt;
}

const std::string* GgufValue::asString() const
{
    return std::get_if<std::string>(&value);
}

const GgufArray* GgufValue::asArray() const
{
    return std::get_if<GgufArray>(&value);
}

std::int64_t GgufTensor::elements() const
{
    std::int64_t n = 1;
    for (auto d : shape)
        n *= d; // validated at open(): cannot overflow
    return n;
}

namespace {

struct Header {
    std::uint32_t version = 0;
    std::uint64_t tensorCount = 0;
    std::uint64_t kvCount = 0;
};

Header readHeader(Reader& r)
{
    if (r.left() < 4)
        throw FormatError{"too short to be a GGUF file (" + std::to_string(r.left()) + " bytes)"};
    const auto magic = r.read<std::uint32_t>("the magic");
    if (magic != 0x46554747u) { // "GGUF" read little-endian
        std::string seen;
        for (int i = 0; i < 4; ++i) {
            const unsigned char c = static_cast<unsigned char>(magic >> (8 * i));
            seen += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
        }
        throw FormatError{"not a GGUF file: the magic is '" + seen + "', expected 'GGUF'"};
    }
    Header h;
    h.version = r.read<std::uint32_t>("the version");
    if (h.version == 0x02000000u || h.version == 0x03000000u)
        throw FormatError{"a big-endian GGUF file; only little-endian files are supported"};
    if (h.version == 1)
        throw FormatError{"GGUF version 1 is not supported (re-convert the model to GGUF v3)"};
    if (h.version != 2 && h.version != 3)
        throw FormatError{"unsupported GGUF version " + std::to_string(h.version) +
                          " (this build reads 2 and 3)"};
    h.tensorCount = r.read<std::uint64_t>("the tensor count");
    h.kvCount = r.read<std::uint64_t>("the metadata count");
    // A metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least
    // 8 + 4 + 4 + 8 bytes.
    if (h.kvCount > r.left() / 13)
        throw FormatError{"the header claims " + std::to_string(h.kvCount) +
                          " metadata entries, more than the " + std::to_string(r.left()) +
                          " bytes left can hold"};
    if (h.tensorCount > r.left() / 24)
        throw FormatError{"the header claims " + std::to_string(h.tensorCount) + " tensors, more than the " +
                          std::to_string(r.left()) + " bytes left can hold"};
    return h;
}

std::size_t alignmentFrom(const std::map<std::string, GgufValue>& md)
{
    const auto it = md.find("general.alignment");
    if (it == md.end())
        return 32;
    const auto a = it->second.asInt();
    if (!a || *a <= 0 || *a > (1 << 30) || !std::has_single_bit(static_cast<std::uint64_t>(*a)))
        throw FormatError{"general.alignment must be a power of two up to 2^30"};
    return static_cast<std::size_t>(*a);
}

GgufTensor readTensorInfo(Reader& r, std::uint64_t index, std::uint64_t count)
{
    GgufTensor t;
    const std::string which = "tensor " + std::to_string(index) + " of " + std::to_string(count);
    t.name = r.readString("the name of " + which, kMaxTensorNameBytes);
    const std::string label = "tensor " + printable(t.name);
    const auto nDims = r.read<std::uint32_t>("the dimension count of " + label);
    if (nDims == 0 || nDims > kMaxDims)
        throw FormatError{label + " has " + std::to_string(nDims) + " dimensions (1 to " +
                          std::to_string(kMaxDims) + " allowed)"};
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < nDims; ++d) {
        const auto dim = r.read<std::uint64_t>("the shape of " + label);
        if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            throw FormatError{label + " has the absurd dimension " + std::to_string(dim)};
        elements = checkedMul(elements, dim, "the element count of " + label);
        t.shape.push_back(static_cast<std::int64_t>(dim));
    }
    if (elements > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw FormatError{"the element count of " + label + " overflows"};
    const auto rawType = r.read<std::uint32_t>("the type of " + label);
    t.type = static_cast<GgmlType>(rawType);
    if (!blockLayout(t.type))
        throw FormatError{label + " has the ggml type " + std::to_string(rawType) +
                          ", which this build does not support"};
    t.offset = r.read<std::uint64_t>("the data offset of " + label);
    return t;
}

void placeTensor(GgufTensor& t, std::span<const std::byte> dataSection, std::size_t alignment)
{
    const std::string label = "tensor " + printable(t.name);
    const auto [blockElems, blockBytes] = *blockLayout(t.type);
    if (static_cast<std::uint64_t>(t.shape[0]) % blockElems != 0)
        throw FormatError{label + " (" + toString(t.type) + ") has a row of " + std::to_string(t.shape[0]) +
                          " elements, not a multiple of the block size " + std::to_string(blockElems)};
    const auto blocks = static_cast<std::uint64_t>(t.elements()) / blockElems;
    const auto bytes = checkedMul(blocks, blockBytes, "the byte size of " + label);
    if (t.offset % alignment != 0)
        throw FormatError{label + " starts at offset " + std::to_string(t.offset) +
                          ", not a multiple of the alignment " + std::to_string(alignment)};
    if (t.offset > dataSection.size() || bytes > dataSection.size() - t.offset)
        throw FormatError{label + " needs bytes " + std::to_string(t.offset) + ".." +
                          std::to_string(t.offset) + "+" + std::to_string(bytes) +
                          " of the data section, which has only " + std::to_string(dataSection.size()) +
                          " (truncated file?)"};
    t.data = dataSection.subspan(static_cast<std::size_t>(t.offset), static_cast<std::size_t>(bytes));
}

} // namespace

std::expected<GgufFile, Error> GgufFile::open(const std::filesystem::path& path)
{
    auto mapped = MappedFile::open(path);
    if (!mapped)
        return std::unexpected(mapped.error());
    GgufFile f(std::move(*mapped));
    const auto bytes = f.m_file.bytes();
    Reader r(bytes);
    try {
        const Header h = readHeader(r);
        f.m_version = h.version;
        MetadataParser parser(r);
        for (std::uint64_t i = 0; i < h.kvCount; ++i) {
            const std::string which =
                "metadata entry " + std::to_string(i) + " of " + std::to_string(h.kvCount);
            std::string key = r.readString("the key of " + which, kMaxKeyBytes);
            const auto type = r.read<std::uint32_t>("the value type of " + printable(key));
            GgufValue v = parser.readValue(type, key, 0);
            if (f.m_metadata.contains(key))
                throw FormatError{"metadata key " + printable(key) + " appears twice"};
            f.m_metadata.emplace(std::move(key), std::move(v));
        }
        f.m_alignment = alignmentFrom(f.m_metadata);

        f.m_tensors.reserve(static_cast<std::size_t>(h.tensorCount));
        for (std::uint64_t i = 0; i < h.tensorCount; ++i) {
            f.m_tensors.push_back(readTensorInfo(r, i, h.tensorCount));
            if (!f.m_tensorIndex.emplace(f.m_tensors.back().name, f.m_tensors.size() - 1).second)
                throw FormatError{"tensor " + printable(f.m_tensors.back().name) + " appears twice"};
        }

        std::size_t dataStart = r.pos();
        if (const auto rem = dataStart % f.m_alignment)
            dataStart += f.m_alignment - rem;
        if (dataStart > bytes.size()) {
            if (!f.m_tensors.empty())
                throw FormatError{"truncated: the tensor data section would start at offset " +
                                  std::to_string(dataStart) + ", past the end of the file (" +
                                  std::to_string(bytes.size()) + " bytes)"};
            dataStart = bytes.size(); // vocabulary-only files may end without padding
        }
        f.m_dataOffset = dataStart;
        const auto dataSection = bytes.subspan(dataStart);
        for (auto& t : f.m_tensors)
            placeTensor(t, dataSection, f.m_alignment);
    } catch (const FormatError& e) {
        return std::unexpected(Error{ErrorCode::Format, path.string() + ": " + e.what});
    } catch (const std::bad_alloc&) {
        return std::unexpected(
            Error{ErrorCode::OutOfMemory, path.string() + ": out of memory reading the header"});
    }
    return f;
}

const GgufValue* GgufFile::find(const std::string& key) const
{
    const auto it = m_metadata.find(key);
    return it == m_metadata.end() ? nullptr : &it->second;
}

std::optional<std::int64_t> GgufFile::getInt(const std::string& key) const
{
    const auto* v = find(key);
    return v ? v->asInt() : std::nullopt;
}

std::optional<double> GgufFile::getFloat(const std::string& key) const
{
    const auto* v = find(key);
    return v ? v->asFloat() : std::nullopt;
}

std::optional<std::string> GgufFile::getString(const std::string& key) const
{
    const auto* v = find(key);
    if (!v || !v->asString())
        return std::nullopt;
    return *v->asString();
}

std::vector<std::string> GgufFile::getStringArray(const std::string& key) const
{
    std::vector<std::string> out;
    const auto* v = find(key);
    const auto* a = v ? v->asArray() : nullptr;
    if (!a)
        return out;
    out.reserve(a->size());
    for (const auto& e : *a) {
        const auto* s = e.asString();
        if (!s)
            return {};
        out.push_back(*s);
    }
    return out;
}

std::vector<double> GgufFile::getFloatArray(const std::string& key) const
{
    std::vector<double> out;
    const auto* v = find(key);
    const auto* a = v ? v->asArray() : nullptr;
    if (!a)
        return out;
    out.reserve(a->size());
    for (const auto& e : *a) {
        const auto f = e.asFloat();
        if (!f)
            return {};
        out.push_back(*f);
    }
    return out;
}

std::vector<std::int64_t> GgufFile::getIntArray(const std::string& key) const
{
    std::vector<std::int64_t> out;
    const auto* v = find(key);
    const auto* a = v ? v->asArray() : nullptr;
    if (!a)
        return out;
    out.reserve(a->size());
    for (const auto& e : *a) {
        const auto i = e.asInt();
        if (!i)
            return {};
        out.push_back(*i);
    }
    return out;
}

const GgufTensor* GgufFile::tensor(const std::string& name) const
{
    const auto it = m_tensorIndex.find(name);
    return it == m_tensorIndex.end() ? nullptr : &m_tensors[it->second];
}

} // namespace quire::inference
