// Building snapshots from a static configuration (no Patroni involved).
#include "health/cluster_snapshot.hpp"

#include <asio/io_context.hpp>

#include <unordered_map>

namespace patroxy::health {
namespace {

/// Resolves host:port to the first address getaddrinfo returns.
bool resolve(asio::ip::tcp::resolver& resolver, const config::member& m, asio::ip::tcp::endpoint& out,
             std::string& error)
{
    std::error_code ec;
    const auto results = resolver.resolve(m.host, std::to_string(m.port), ec);
    if (ec || results.empty()) {
        error = ec ? ec.message() : "no address";
        return false;
    }
    out = results.begin()->endpoint();
    return true;
}

} // namespace

static_snapshot_result make_static_snapshot(const config::config& cfg, std::uint64_t generation)
{
    static_snapshot_result result;
    auto snapshot = std::make_shared<cluster_snapshot>();
    snapshot->generation = generation;

    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    std::unordered_map<std::string, std::uint32_t> index_of;
    for (const auto& m : cfg.members) {
        member_view view{m.name, m.host, m.port, {}};
        std::string error;
        if (!resolve(resolver, m, view.endpoint, error)) {
            result.errors.push_back({m.name, "cannot resolve " + m.host + ": " + error});
            continue;
        }
        index_of.emplace(m.name, static_cast<std::uint32_t>(snapshot->members.size()));
        snapshot->members.push_back(std::move(view));
    }

    snapshot->eligible.resize(cfg.listeners.size());
    for (std::size_t i = 0; i < cfg.listeners.size(); ++i) {
        for (const auto& name : cfg.listeners[i].servers) {
            if (auto it = index_of.find(name); it != index_of.end()) snapshot->eligible[i].push_back(it->second);
        }
    }
    result.snapshot = std::move(snapshot);
    return result;
}

} // namespace patroxy::health
