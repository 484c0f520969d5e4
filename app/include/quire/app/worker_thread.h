// The RAII owner of a service's worker: a QObject living on its own QThread. Construction moves
// the worker to a new thread and starts it; destruction asks the caller's cancel flags to be set
// first (the service does that), then quits the thread's event loop, waits for it, and deletes
// the worker there (deleteLater on QThread::finished). Requests reach the worker as queued
// invocations (QMetaObject::invokeMethod with Qt::QueuedConnection) and results come back as
// queued signals; nothing blocks the owner's thread.
//
// Threads: construct and destroy on the owner's thread.
#pragma once

#include <QObject>
#include <QString>
#include <QThread>

#include <utility>

namespace quire::app {

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
        m_thread.quit();
        m_thread.wait();
    }
    WorkerThread(const WorkerThread&) = delete;
    WorkerThread& operator=(const WorkerThread&) = delete;

    Worker* worker() const { return m_worker; }
    QThread* thread() { return &m_thread; }

private:
    QThread m_thread;
    Worker* m_worker; // deleted on its thread when that thread finishes
};

} // namespace quire::app
