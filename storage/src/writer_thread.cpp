#include "quire/storage/writer_thread.h"

#include "log.h"

namespace quire::storage {

namespace detail {

Error jobThrew(const char* what)
{
    log()->error("a storage writer job threw: {}", what);
    return Error{ErrorCode::Sql, std::string("the storage writer job failed: ") + what};
}

Error jobCancelled()
{
    return Error{ErrorCode::Cancelled, "the storage writer has stopped; the job did not run"};
}

} // namespace detail

std::expected<std::unique_ptr<WriterThread>, Error> WriterThread::start(const std::filesystem::path& path,
                                                                        OpenOptions options)
{
    options.mode = OpenMode::ReadWrite;
    auto db = Database::open(path, options);
    if (!db)
        return std::unexpected(db.error());
    return std::unique_ptr<WriterThread>(new WriterThread(std::move(*db)));
}

WriterThread::WriterThread(Database db) : m_db(std::move(db))
{
    m_thread = std::thread([this] { run(); });
}

WriterThread::~WriterThread()
{
    stop();
}

void WriterThread::stop()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    if (m_thread.joinable() && !onWriterThread())
        m_thread.join();
}

std::size_t WriterThread::pending() const
{
    std::lock_guard lock(m_mutex);
    return m_queue.size() + m_running;
}

void WriterThread::enqueue(Job job)
{
    {
        std::lock_guard lock(m_mutex);
        if (!m_stopping) {
            m_queue.push_back(std::move(job));
            m_wake.notify_one();
            return;
        }
    }
    job(nullptr); // stopped: complete it as cancelled, on the caller's thread
}

void WriterThread::run()
{
    for (;;) {
        Job job;
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty())
                return; // stopping, and everything queued has run
            job = std::move(m_queue.front());
            m_queue.pop_front();
            ++m_running;
        }
        job(&m_db);
        std::lock_guard lock(m_mutex);
        --m_running;
    }
}

} // namespace quire::storage
