// quire-ingest-worker: extracts one PDF, DOCX or media file and reports over stdout (see
// ingest/src/worker_protocol.h). Started by the Ingestor under time and memory limits, so a
// crash or hang in a parser ends this process, not the application.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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

void sendError(const Error& error)
{
    writeAll(worker::frame(worker::Frame::Error, worker::errorPayload(error)));
}

}  // namespace

int main(int argc, char** argv)
{
    // Results go to the original stdout; anything a library prints there goes to stderr instead.
    g_resultFd = ::dup(1);
    ::dup2(2, 1);
    if (g_resultFd < 0)
        return 3;

    auto request = worker::fromArguments(std::vector<std::string>(argv + 1, argv + argc));
    if (!request) {
        std::fprintf(stderr, "quire-ingest-worker: %s\n", request.error().c_str());
        sendError({ErrorCode::Crashed, "bad helper arguments: " + request.error()});
        return 2;
    }
    try {
        double last = -1;
        auto result = extractFile(request->path, request->kind, request->options, nullptr, [&last](double f) {
            if (f - last >= 0.001 || f >= 1.0) {
                last = f;
                writeAll(worker::frame(worker::Frame::Progress, std::string_view(reinterpret_cast<const char*>(&f), sizeof f)));
            }
        });
        if (result)
            writeAll(worker::frame(worker::Frame::Document, encodeDocument(*result)));
        else
            sendError(result.error());
    } catch (const std::bad_alloc&) {
        sendError({ErrorCode::TooComplex, request->path.filename().string() + " needs more memory than the per-file limit allows"});
    } catch (const std::exception& e) {
        sendError({ErrorCode::Crashed, std::string("the extractor failed: ") + e.what()});
    }
    return 0;
}
