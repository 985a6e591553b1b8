// Running a patroni_poller on a test-owned io_context: the events it reports, bounded runs until
// its snapshot satisfies a condition, and a stop that lets its loops end. Header-only; for test
// binaries that link patroxy_health.
#pragma once

#include "health/poller/patroni_poller.hpp"

#include <asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::test {

struct poller_harness {
    asio::io_context io;
    config::config cfg;              ///< what start() gives the poller
    std::vector<std::string> events; ///< "level: text", in order
    std::optional<health::patroni_poller> poller;

    poller_harness() = default;
    poller_harness(const poller_harness&) = delete;
    poller_harness& operator=(const poller_harness&) = delete;

    ~poller_harness()
    {
        if (!poller) return;
        poller->stop();
        io.run_for(std::chrono::seconds(2)); // returns once the loops have seen the stop and ended
    }

    /// Constructs the poller from `cfg` (snapshots are dropped, events collected) and starts it;
    /// `lookup` scripts the answers for members' host names.
    void start(health::patroni_poller::api_tls_fn make_api_tls = {}, health::lookup_fn lookup = {})
    {
        poller.emplace(io.get_executor(), cfg, [](const health::snapshot_ptr&) {},
                       [this](std::string_view level, std::string_view, const std::string& text) {
                           events.push_back(std::string(level) + ": " + text);
                       },
                       std::move(make_api_tls), std::move(lookup));
        poller->start();
    }

    /// Runs the poller until `done` holds on its current snapshot, for at most `limit`.
    bool run_until(const std::function<bool(const health::cluster_snapshot&)>& done,
                   std::chrono::milliseconds limit = std::chrono::seconds(5))
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (done(*poller->current())) return true;
            io.run_for(std::chrono::milliseconds(20));
        }
        return done(*poller->current());
    }

    /// Some event contains `part`.
    [[nodiscard]] bool logged(std::string_view part) const
    {
        return std::any_of(events.begin(), events.end(),
                           [&](const std::string& e) { return e.find(part) != std::string::npos; });
    }
};

} // namespace patroxy::test
