// The one thread that writes the library. It owns the ReadWrite connection and runs jobs
// (callables over that connection) in the order they were submitted; results come back through a
// std::future or a callback. Readers open their own ReadOnly Database on their own threads.
//
// Threads: submit() and post() may be called from any thread. A job runs on the writer thread
// and must not block on another job's future (it would wait on itself). Callbacks passed to
// submit() run on the writer thread: hop to your own thread from there (app queues a signal).
// Jobs return std::expected<T, Error>; an exception escaping a job is caught on the writer thread
// and becomes an Error, so no exception crosses threads.
// Destruction (or stop()) finishes every job already queued, then closes the connection; jobs
// submitted after that complete at once with ErrorCode::Cancelled.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <expected>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>

#include "quire/storage/database.h"
#include "quire/storage/error.h"

namespace quire::storage {

namespace detail {
template <class T> struct IsExpected : std::false_type {
};
template <class T> struct IsExpected<std::expected<T, Error>> : std::true_type {
};
Error jobThrew(const char* what);
Error jobCancelled();
} // namespace detail

class WriterThread {
public:
    // Opens `path` (ReadWrite, migrating it) on the calling thread, so a refused file is reported
    // here, then starts the thread.
    static std::expected<std::unique_ptr<WriterThread>, Error> start(const std::filesystem::path& path,
                                                                     OpenOptions options = {});
    ~WriterThread();
    WriterThread(const WriterThread&) = delete;
    WriterThread& operator=(const WriterThread&) = delete;

    // Queues `job` (callable as job(Database&), returning std::expected<T, Error>).
    template <class F> auto submit(F&& job) -> std::future<std::invoke_result_t<F&, Database&>>
    {
        using R = std::invoke_result_t<F&, Database&>;
        static_assert(detail::IsExpected<R>::value, "a writer job returns std::expected<T, storage::Error>");
        std::promise<R> promise;
        auto future = promise.get_future();
        enqueue([p = std::move(promise), f = std::forward<F>(job)](Database* db) mutable {
            p.set_value(invoke(f, db));
        });
        return future;
    }

    // Queues `job`; `done(result)` runs on the writer thread when it finishes.
    template <class F, class Done> void submit(F&& job, Done&& done)
    {
        using R = std::invoke_result_t<F&, Database&>;
        static_assert(detail::IsExpected<R>::value, "a writer job returns std::expected<T, storage::Error>");
        enqueue([f = std::forward<F>(job), d = std::forward<Done>(done)](Database* db) mutable {
            d(invoke(f, db));
        });
    }

    // Finishes the queued jobs and ends the thread; called by the destructor.
    void stop();
    // Jobs queued and not yet finished.
    std::size_t pending() const;
    // True on the writer thread itself (for asserts in code that must run there).
    bool onWriterThread() const { return std::this_thread::get_id() == m_thread.get_id(); }

private:
    // A queued job receives the connection, or nullptr when it is cancelled.
    using Job = std::move_only_function<void(Database*)>;
    explicit WriterThread(Database db);
    void enqueue(Job job);
    void run();

    template <class F> static auto invoke(F& f, Database* db) -> std::invoke_result_t<F&, Database&>
    {
        if (!db)
            return std::unexpected(detail::jobCancelled());
        try {
            return f(*db);
        } catch (const std::exception& e) {
            return std::unexpected(detail::jobThrew(e.what()));
        } catch (...) {
            return std::unexpected(detail::jobThrew("unknown exception"));
        }
    }

    Database m_db;
    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<Job> m_queue;
    std::size_t m_running = 0;
    bool m_stopping = false;
    std::thread m_thread;
};

} // namespace quire::storage
