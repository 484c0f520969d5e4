#include "quire/app/workspace_layout.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <algorithm>

#include "quire/app/context_assembly.h"

namespace quire::app {

namespace {
constexpr int kFormat = 1;
}

std::size_t WorkspaceLayout::appendBatch(std::vector<std::pair<std::int64_t, std::string>> sources,
                                         std::int64_t nowUnix)
{
    std::erase_if(sources, [&](const auto& s) { return entryForSource(s.first) != nullptr; });
    if (sources.empty())
        return 0;
    std::sort(sources.begin(), sources.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    std::vector<std::string> paths;
    for (const auto& s : sources)
        paths.push_back(s.second);
    const int batch = int(batches.size());
    batches.push_back({commonRoot(paths), nowUnix});
    for (const auto& [id, path] : sources)
        entries.push_back({id, nextNumber++, batch, path});
    return sources.size();
}

void WorkspaceLayout::dropMissing(const std::set<std::int64_t>& existingSources)
{
    std::erase_if(entries, [&](const LayoutEntry& e) { return !existingSources.count(e.sourceId); });
}

const LayoutEntry* WorkspaceLayout::entryForNumber(int number) const
{
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const LayoutEntry& e) { return e.number == number; });
    return it == entries.end() ? nullptr : &*it;
}

const LayoutEntry* WorkspaceLayout::entryForSource(std::int64_t sourceId) const
{
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const LayoutEntry& e) { return e.sourceId == sourceId; });
    return it == entries.end() ? nullptr : &*it;
}

std::string WorkspaceLayout::displayPath(const LayoutEntry& e) const
{
    const std::string root = e.batch >= 0 && std::size_t(e.batch) < batches.size()
                                 ? batches[std::size_t(e.batch)].root
                                 : std::string();
    return displayPathFor(e.path, root);
}

bool WorkspaceLayout::addInput(const std::string& path)
{
    if (std::find(inputs.begin(), inputs.end(), path) != inputs.end())
        return false;
    inputs.push_back(path);
    return true;
}

std::string WorkspaceLayout::toJson() const
{
    QJsonObject o;
    o["format"] = kFormat;
    o["workspaceId"] = qint64(workspaceId);
    o["workspaceName"] = QString::fromStdString(workspaceName);
    o["preset"] = QString::fromStdString(preset);
    o["nextNumber"] = nextNumber;
    QJsonArray in;
    for (const auto& i : inputs)
        in.append(QString::fromStdString(i));
    o["inputs"] = in;
    QJsonArray bs;
    for (const auto& b : batches)
        bs.append(QJsonObject{{"root", QString::fromStdString(b.root)}, {"created", qint64(b.createdUnix)}});
    o["batches"] = bs;
    QJsonArray es;
    for (const auto& e : entries)
        es.append(QJsonObject{{"source", qint64(e.sourceId)},
                              {"number", e.number},
                              {"batch", e.batch},
                              {"path", QString::fromStdString(e.path)}});
    o["documents"] = es;
    QJsonArray ex;
    for (int n : excluded)
        ex.append(n);
    o["excluded"] = ex;
    return QJsonDocument(o).toJson(QJsonDocument::Indented).toStdString();
}

std::expected<WorkspaceLayout, std::string> WorkspaceLayout::fromJson(const std::string& json)
{
    QJsonParseError err;
    const auto doc = QJsonDocument::fromJson(QByteArray::fromStdString(json), &err);
    if (doc.isNull() || !doc.isObject())
        return std::unexpected("workspace layout is not valid JSON: " + err.errorString().toStdString());
    const auto o = doc.object();
    if (o["format"].toInt() != kFormat)
        return std::unexpected("workspace layout has an unknown format " +
                               std::to_string(o["format"].toInt()));
    WorkspaceLayout l;
    l.workspaceId = o["workspaceId"].toInteger();
    l.workspaceName = o["workspaceName"].toString().toStdString();
    l.preset = o["preset"].toString("general").toStdString();
    l.nextNumber = std::max(1, o["nextNumber"].toInt(1));
    for (const auto& v : o["inputs"].toArray())
        l.inputs.push_back(v.toString().toStdString());
    for (const auto& v : o["batches"].toArray()) {
        const auto b = v.toObject();
        l.batches.push_back({b["root"].toString().toStdString(), b["created"].toInteger()});
    }
    for (const auto& v : o["documents"].toArray()) {
        const auto e = v.toObject();
        LayoutEntry entry{e["source"].toInteger(), e["number"].toInt(), e["batch"].toInt(),
                          e["path"].toString().toStdString()};
        if (entry.number <= 0 || entry.sourceId <= 0)
            return std::unexpected("workspace layout has a document without a number or source");
        l.nextNumber = std::max(l.nextNumber, entry.number + 1);
        l.entries.push_back(std::move(entry));
    }
    for (const auto& v : o["excluded"].toArray())
        l.excluded.insert(v.toInt());
    return l;
}

QString WorkspaceLayout::fileFor(const QString& dataDir, std::int64_t workspaceId)
{
    return dataDir + QStringLiteral("/workspaces/%1.json").arg(workspaceId);
}

std::expected<WorkspaceLayout, std::string>
WorkspaceLayout::load(const QString& dataDir, std::int64_t workspaceId, const std::string& workspaceName)
{
    QFile f(fileFor(dataDir, workspaceId));
    WorkspaceLayout fresh;
    fresh.workspaceId = workspaceId;
    fresh.workspaceName = workspaceName;
    if (!f.exists())
        return fresh;
    if (!f.open(QIODevice::ReadOnly))
        return std::unexpected("cannot read " + f.fileName().toStdString() + ": " +
                               f.errorString().toStdString());
    auto l = fromJson(f.readAll().toStdString());
    if (!l)
        return std::unexpected(f.fileName().toStdString() + ": " + l.error());
    if (l->workspaceId != workspaceId || l->workspaceName != workspaceName)
        return fresh; // left over from a removed workspace whose id was reused
    return l;
}

std::expected<void, std::string> WorkspaceLayout::save(const QString& dataDir) const
{
    const QString path = fileFor(dataDir, workspaceId);
    if (!QDir().mkpath(QFileInfo(path).absolutePath()))
        return std::unexpected("cannot create the folder for " + path.toStdString());
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return std::unexpected("cannot write " + path.toStdString() + ": " + f.errorString().toStdString());
    const std::string json = toJson();
    f.write(json.data(), qint64(json.size()));
    if (!f.commit())
        return std::unexpected("cannot write " + path.toStdString() + ": " + f.errorString().toStdString());
    return {};
}

void WorkspaceLayout::remove(const QString& dataDir, std::int64_t workspaceId)
{
    QFile::remove(fileFor(dataDir, workspaceId));
}

} // namespace quire::app
