#include "worker_protocol.h"

#include <charconv>
#include <cstring>

namespace quire::ingest::worker {

namespace {

const char* kindName(SourceKind kind)
{
    return toString(kind);
}

std::string number(double v)
{
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, end);
}

template <class T> bool parse(std::string_view s, T& out)
{
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

} // namespace

std::vector<std::string> toArguments(const Request& r)
{
    const ExtractOptions& o = r.options;
    std::vector<std::string> a = {"--kind", kindName(r.kind), "--path", r.path.string()};
    auto add = [&a](const char* flag, std::string value) {
        a.emplace_back(flag);
        a.push_back(std::move(value));
    };
    add("--ocr", o.pdf.ocr ? "1" : "0");
    add("--ocr-dpi", std::to_string(o.pdf.ocrDpi));
    add("--ocr-language", o.pdf.ocrLanguage);
    add("--tessdata", o.pdf.tessdataDir);
    add("--max-pages", std::to_string(o.pdf.maxPages));
    add("--word-boxes", o.pdf.wordBoxes ? "1" : "0");
    add("--docx-max-bytes", std::to_string(o.docx.maxUncompressedBytes));
    add("--docx-max-ratio", number(o.docx.maxCompressionRatio));
    add("--transcribe", o.media.transcribe ? "1" : "0");
    add("--asr-model", o.media.asrModelDir);
    add("--key-frames", o.media.keyFrames ? "1" : "0");
    add("--frame-dir", o.media.frameDir);
    add("--frame-interval", number(o.media.frameIntervalSec));
    add("--scene-threshold", number(o.media.sceneThreshold));
    add("--frame-width", std::to_string(o.media.frameMaxWidth));
    return a;
}

std::expected<Request, std::string> fromArguments(const std::vector<std::string>& args)
{
    Request r;
    ExtractOptions& o = r.options;
    for (std::size_t i = 0; i < args.size(); i += 2) {
        const std::string& flag = args[i];
        if (i + 1 >= args.size())
            return std::unexpected("missing value for " + flag);
        const std::string& v = args[i + 1];
        bool ok = true;
        if (flag == "--kind") {
            r.kind = SourceKind::Unknown;
            for (SourceKind k : {SourceKind::Text, SourceKind::Code, SourceKind::Pdf, SourceKind::Docx,
                                 SourceKind::Audio, SourceKind::Video})
                if (v == kindName(k))
                    r.kind = k;
            ok = r.kind != SourceKind::Unknown;
        } else if (flag == "--path") {
            r.path = v;
        } else if (flag == "--ocr") {
            o.pdf.ocr = v == "1";
        } else if (flag == "--ocr-dpi") {
            ok = parse(v, o.pdf.ocrDpi);
        } else if (flag == "--ocr-language") {
            o.pdf.ocrLanguage = v;
        } else if (flag == "--tessdata") {
            o.pdf.tessdataDir = v;
        } else if (flag == "--max-pages") {
            ok = parse(v, o.pdf.maxPages);
        } else if (flag == "--word-boxes") {
            o.pdf.wordBoxes = v == "1";
        } else if (flag == "--docx-max-bytes") {
            ok = parse(v, o.docx.maxUncompressedBytes);
        } else if (flag == "--docx-max-ratio") {
            ok = parse(v, o.docx.maxCompressionRatio);
        } else if (flag == "--transcribe") {
            o.media.transcribe = v == "1";
        } else if (flag == "--asr-model") {
            o.media.asrModelDir = v;
        } else if (flag == "--key-frames") {
            o.media.keyFrames = v == "1";
        } else if (flag == "--frame-dir") {
            o.media.frameDir = v;
        } else if (flag == "--frame-interval") {
            ok = parse(v, o.media.frameIntervalSec);
        } else if (flag == "--scene-threshold") {
            ok = parse(v, o.media.sceneThreshold);
        } else if (flag == "--frame-width") {
            ok = parse(v, o.media.frameMaxWidth);
        } else {
            return std::unexpected("unknown option " + flag);
        }
        if (!ok)
            return std::unexpected("bad value '" + v + "' for " + flag);
    }
    if (r.kind == SourceKind::Unknown || r.path.empty())
        return std::unexpected("--kind and --path are required");
    return r;
}

std::string frame(Frame type, std::string_view payload)
{
    std::string out;
    out.reserve(payload.size() + 9);
    out += static_cast<char>(type);
    const std::uint64_t n = payload.size();
    char len[8];
    std::memcpy(len, &n, 8);
    out.append(len, 8);
    out.append(payload);
    return out;
}

std::string errorPayload(const Error& error)
{
    const std::int32_t code = static_cast<std::int32_t>(error.code);
    std::string out(reinterpret_cast<const char*>(&code), 4);
    out += error.message;
    return out;
}

std::string requestPayload(const std::vector<std::string>& args)
{
    std::string out;
    for (const auto& a : args) {
        out += a;
        out += '\0';
    }
    return out;
}

std::vector<std::string> argumentsFromPayload(std::string_view payload)
{
    std::vector<std::string> args;
    while (!payload.empty()) {
        const std::size_t end = payload.find('\0');
        args.emplace_back(payload.substr(0, end));
        if (end == std::string_view::npos)
            break;
        payload.remove_prefix(end + 1);
    }
    return args;
}

Error errorFromPayload(std::string_view payload)
{
    if (payload.size() < 4)
        return {ErrorCode::Crashed, "the extractor sent a malformed error"};
    std::int32_t code = 0;
    std::memcpy(&code, payload.data(), 4);
    return {static_cast<ErrorCode>(code), std::string(payload.substr(4))};
}

} // namespace quire::ingest::worker
