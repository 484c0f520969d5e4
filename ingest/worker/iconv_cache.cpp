// poppler-cpp converts every word of a text layer with poppler::ustring::from_utf8(), which calls
// iconv_open() and iconv_close() each time; in glibc that is a converter lookup plus several
// allocations, about a fifth of the whole cost of extracting a text PDF. This helper process
// interposes both functions (the executable exports them, so the dynamic linker binds
// libpoppler-cpp's calls here) and keeps a few open converters per thread for reuse, reset to
// their initial state. Nothing else changes: conversions still run in glibc. Only the helper
// does this; the library and the application call glibc directly.
#include <dlfcn.h>
#include <iconv.h>

#include <cstring>

namespace {

using OpenFn = iconv_t (*)(const char*, const char*);
using CloseFn = int (*)(iconv_t);

const iconv_t kInvalid = reinterpret_cast<iconv_t>(-1);

OpenFn realOpen()
{
    static const OpenFn fn = reinterpret_cast<OpenFn>(::dlsym(RTLD_NEXT, "iconv_open"));
    return fn;
}

CloseFn realClose()
{
    static const CloseFn fn = reinterpret_cast<CloseFn>(::dlsym(RTLD_NEXT, "iconv_close"));
    return fn;
}

struct Entry {
    char to[32] = {};
    char from[32] = {};
    iconv_t cd = kInvalid;
    bool inUse = false;
};

thread_local Entry t_cache[4];

} // namespace

extern "C" iconv_t iconv_open(const char* to, const char* from)
{
    if (!realOpen())
        return kInvalid;
    if (to && from && std::strlen(to) < sizeof Entry::to && std::strlen(from) < sizeof Entry::from) {
        for (Entry& e : t_cache) {
            if (e.cd != kInvalid && !e.inUse && std::strcmp(e.to, to) == 0 &&
                std::strcmp(e.from, from) == 0) {
                ::iconv(e.cd, nullptr, nullptr, nullptr, nullptr); // back to the initial shift state
                e.inUse = true;
                return e.cd;
            }
        }
        for (Entry& e : t_cache) {
            if (e.cd == kInvalid) {
                const iconv_t cd = realOpen()(to, from);
                if (cd == kInvalid)
                    return cd;
                std::strcpy(e.to, to);
                std::strcpy(e.from, from);
                e.cd = cd;
                e.inUse = true;
                return cd;
            }
        }
    }
    return realOpen()(to, from);
}

extern "C" int iconv_close(iconv_t cd)
{
    for (Entry& e : t_cache) {
        if (e.cd == cd && e.inUse) {
            e.inUse = false;
            return 0;
        }
    }
    return realClose() ? realClose()(cd) : -1;
}
