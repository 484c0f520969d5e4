// The built-in CPU backends and the backend registry.
#include <map>
#include <mutex>

#include "cpu/llama4_runner.h"
#include "cpu/runners.h"
#include "quire/inference/backend.h"

namespace quire::inference {

namespace {

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(bool reference) : m_reference(reference) {}
    std::string_view name() const override { return m_reference ? "cpu-reference" : "cpu"; }
    std::expected<std::unique_ptr<Runner>, Error> createRunner(std::shared_ptr<const ModelWeights> weights,
                                                               const RunnerOptions& options) const override
    {
        if (!weights)
            return std::unexpected(Error{ErrorCode::InvalidArgument, "no model weights"});
        // Each runner checks options.kvDtype: the fast ones hold f32/f16/bf16, the references f32.
        if (weights->config.arch == ModelArch::Llama4)
            return m_reference ? cpu::makeLlama4ReferenceRunner(std::move(weights), options)
                               : cpu::makeLlama4CpuRunner(std::move(weights), options);
        return m_reference ? cpu::makeLlamaReferenceRunner(std::move(weights), options)
                           : cpu::makeLlamaCpuRunner(std::move(weights), options);
    }

private:
    bool m_reference;
};

struct Registry {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<const Backend>, std::less<>> backends{
        {"cpu", cpuBackend()}, {"cpu-reference", cpuReferenceBackend()}};
};

Registry& registry()
{
    static Registry r;
    return r;
}

} // namespace

std::shared_ptr<const Backend> cpuBackend()
{
    static const auto backend = std::make_shared<const CpuBackend>(false);
    return backend;
}

std::shared_ptr<const Backend> cpuReferenceBackend()
{
    static const auto backend = std::make_shared<const CpuBackend>(true);
    return backend;
}

void registerBackend(std::string name, std::shared_ptr<const Backend> backend)
{
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    r.backends[std::move(name)] = std::move(backend);
}

std::expected<std::shared_ptr<const Backend>, Error> findBackend(std::string_view name)
{
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    const auto it = r.backends.find(name);
    if (it == r.backends.end()) {
        std::string known;
        for (const auto& [n, b] : r.backends)
            known += (known.empty() ? "" : ", ") + n;
        return std::unexpected(Error{ErrorCode::Unsupported, "no backend named '" + std::string(name) +
                                                                 "' in this build (have: " + known + ")"});
    }
    return it->second;
}

std::vector<std::string> backendNames()
{
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    std::vector<std::string> names;
    for (const auto& [n, b] : r.backends)
        names.push_back(n);
    return names;
}

} // namespace quire::inference
