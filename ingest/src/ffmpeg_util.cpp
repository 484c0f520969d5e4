#include "ffmpeg_util.h"

#include <cstdarg>
#include <mutex>

#include "log.h"

namespace quire::ingest::ff {

namespace {

thread_local LogCapture* t_capture = nullptr;
thread_local std::vector<std::string>* t_sink = nullptr;

void logCallback(void* avcl, int level, const char* fmt, va_list args)
{
    if (level > AV_LOG_WARNING || (level > AV_LOG_ERROR && t_sink))
        return;
    char line[512];
    int prefix = 1;
    av_log_format_line2(avcl, level, fmt, args, line, sizeof line, &prefix);
    std::string text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    if (text.starts_with('[')) { // "[mov,mp4,m4a @ 0x55...] moov atom not found": drop the context
        if (const auto end = text.find("] "); end != std::string::npos)
            text.erase(0, end + 2);
    }
    if (text.empty())
        return;
    if (!t_sink)
        log()->debug("ffmpeg: {}", text); // outside an extraction (never in the helper)
    else if (t_sink->size() < 32)
        t_sink->push_back(std::move(text));
}

} // namespace

std::string errorText(int code)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, buf, sizeof buf);
    return buf;
}

LogCapture::LogCapture() : m_previous(t_capture)
{
    static std::once_flag once;
    std::call_once(once, [] { av_log_set_callback(logCallback); });
    t_capture = this;
    t_sink = &m_messages;
}

LogCapture::~LogCapture()
{
    t_capture = m_previous;
    t_sink = m_previous ? const_cast<std::vector<std::string>*>(&m_previous->messages()) : nullptr;
}

} // namespace quire::ingest::ff
