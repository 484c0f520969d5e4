// The RAII owner of a service's worker: a QObject living on its own QThread. Construction moves
// the worker to a new thread and starts it; destruction asks the caller's cancel flags to be set
// first (the service does that), then quits the thread's event loop, waits for it, and deletes
// the worker there (deleteLater on QThread::finished). Requests reach the worker as queued
// invocations (QMetaObject::invokeMethod with Qt::QueuedConnection) and results come back as
// queued signals; nothing blocks the owner's thread.
//
// post() queues a job on the worker with a request id and a cancel flag (CancelRegistry);
// cancel(id) sets that flag, cancel(0) every flag. A service's destructor cancels everything
// before the thread is stopped.
//
// Threads: construct, destroy and post on the owner's thread; cancel from any thread.
#pragma once

#include <QMetaObject>
#include <QObject>
#include <QString>
#include <QThread>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace quire::app {

// Cancel flags by request id, shared by a service (sets them) and its worker (reads them).
class CancelRegistry {
public:
    std::shared_ptr<std::atomic<bool>> add(quint64 id);
    void cancel(quint64 id); // 0: every request
    void remove(quint64 id);

private:
    std::mutex m_mutex;
    std::map<quint64, std::shared_ptr<std::atomic<bool>>> m_flags;
};

template <class Worker> class WorkerThread {
public:
    template <class... Args>
    explicit WorkerThread(const QString& name, Args&&... args)
        : m_worker(new Worker(std::forward<Args>(args)...))
    {
        m_thread.setObjectName(name);
        m_worker->moveToThread(&m_thread);
        QObject::connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
        m_thread.start();
    }
    ~WorkerThread()
    {
        m_cancels->cancel(0);
        m_thread.quit();
        m_thread.wait();
    }
    WorkerThread(const WorkerThread&) = delete;
    WorkerThread& operator=(const WorkerThread&) = delete;

    Worker* worker() const { return m_worker; }
    QThread* thread() { return &m_thread; }

    using Job = std::function<void(Worker&, quint64 id, const std::atomic<bool>* cancel)>;
    // Queues `job` on the worker's thread; returns its request id (never 0).
    quint64 post(Job job)
    {
        const quint64 id = ++m_next;
        auto flag = m_cancels->add(id);
        Worker* w = m_worker;
        QMetaObject::invokeMethod(
            w,
            [w, id, flag, cancels = m_cancels, job = std::move(job)] {
                job(*w, id, flag.get());
                cancels->remove(id);
            },
            Qt::QueuedConnection);
        return id;
    }
    void cancel(quint64 id) { m_cancels->cancel(id); }

private:
    std::shared_ptr<CancelRegistry> m_cancels = std::make_shared<CancelRegistry>();
    quint64 m_next = 0;
    QThread m_thread;
    Worker* m_worker; // deleted on its thread when that thread finishes
};

} // namespace quire::app
