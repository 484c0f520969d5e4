// SearchService: full-text search over a workspace's segments (SQLite FTS5 through storage) on
// its own thread with its own read connection; results come back as a queued signal, each hit
// with its anchor and the "[doc N ...]" mark the context uses for it.
//
// Threads: create, call and destroy on one thread.
#pragma once

#include <QObject>
#include <QString>

#include <memory>
#include <optional>

#include "quire/app/service_types.h"
#include "quire/app/worker_thread.h"

namespace quire::app {

class SearchWorker;

class SearchService : public QObject {
    Q_OBJECT
public:
    explicit SearchService(ServiceConfig config, QObject* parent = nullptr);
    ~SearchService() override;

    // ftsSyntax: the query is FTS5 syntax (AND, OR, NEAR, "phrases", prefix*), else plain words.
    quint64 search(const QString& workspace, const QString& query, int limit = 20, bool ftsSyntax = false);

signals:
    void results(quint64 id, const std::vector<quire::app::SearchResultLine>& hits);
    void failed(quint64 id, const QString& message);

private:
    std::unique_ptr<WorkerThread<SearchWorker>> m_thread;
};

class SearchWorker : public QObject {
    Q_OBJECT
public:
    explicit SearchWorker(ServiceConfig config) : m_config(std::move(config)) {}
    void search(quint64 id, const std::string& workspace, const std::string& query, int limit,
                bool ftsSyntax);

signals:
    void results(quint64 id, const std::vector<quire::app::SearchResultLine>& hits);
    void failed(quint64 id, const QString& message);

private:
    ServiceConfig m_config;
    std::optional<storage::Database> m_db;
};

} // namespace quire::app
