// quire-ingest-worker: extracts PDF, DOCX and media files and reports over stdout (see
// ingest/src/worker_protocol.h). Started by the Ingestor under time and memory limits, so a
// crash or hang in a parser ends this process, not the application.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "quire/ingest/document_codec.h"
#include "quire/ingest/extractor.h"
#include "worker_protocol.h"

using namespace quire::ingest;

namespace {

int g_resultFd = -1;

bool writeAll(const std::string& bytes)
{
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(g_resultFd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool readAll(int fd, char* data, std::size_t size)
{
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::read(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

void sendError(const Error& error)
{
    writeAll(worker::frame(worker::Frame::Error, worker::errorPayload(error)));
}

// Extracts one file and reports the result; false only when the arguments are unusable.
bool extractOne(const std::vector<std::string>& args)
{
    auto request = worker::fromArguments(args);
    if (!request) {
        std::fprintf(stderr, "quire-ingest-worker: %s\n", request.error().c_str());
        sendError({ErrorCode::Crashed, "bad helper arguments: " + request.error()});
        return false;
    }
    try {
        double last = -1;
        auto result = extractFile(request->path, request->kind, request->options, nullptr, [&last](double f) {
            if (f - last >= 0.001 || f >= 1.0) {
                last = f;
                writeAll(worker::frame(worker::Frame::Progress,
                                       std::string_view(reinterpret_cast<const char*>(&f), sizeof f)));
            }
        });
        if (result)
            writeAll(worker::frame(worker::Frame::Document, encodeDocument(*result)));
        else
            sendError(result.error());
    } catch (const std::bad_alloc&) {
        sendError({ErrorCode::TooComplex,
                   request->path.filename().string() + " needs more memory than the per-file limit allows"});
    } catch (const std::exception& e) {
        sendError({ErrorCode::Crashed, std::string("the extractor failed: ") + e.what()});
    }
    return true;
}

} // namespace

int main(int argc, char** argv)
{
    // Results go to the original stdout; anything a library prints there goes to stderr instead.
    g_resultFd = ::dup(1);
    ::dup2(2, 1);
    if (g_resultFd < 0)
        return 3;

    if (argc == 2 && std::strcmp(argv[1], "--serve") == 0) {
        for (;;) {
            char header[9];
            if (!readAll(0, header, sizeof header))
                return 0; // the parent closed our input: done
            std::uint64_t len = 0;
            std::memcpy(&len, header + 1, 8);
            if (header[0] != static_cast<char>(worker::Frame::Request) || len > (1u << 20))
                return 2;
            std::string payload(len, '\0');
            if (!readAll(0, payload.data(), payload.size()))
                return 2;
            extractOne(worker::argumentsFromPayload(payload));
        }
    }
    return extractOne(std::vector<std::string>(argv + 1, argv + argc)) ? 0 : 2;
}
