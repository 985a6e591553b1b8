// Listening with several workers: each worker has its own socket in one SO_REUSEPORT group and
// accepts the clients it serves. Both workers take clients, a second patroxy cannot take the
// same address (SO_REUSEPORT must not let it share silently), and a reload that replaces the
// listener binds the same address again at once.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"

#include <filesystem>
#include <map>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <csignal>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;

/// How many sessions each worker served, from patroxy's "served by worker=N" debug lines.
std::map<std::string, int> sessions_by_worker(const std::string& log)
{
    std::map<std::string, int> served;
    const std::string needle = "served by worker=";
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
        const auto start = at + needle.size();
        ++served[log.substr(start, log.find_first_not_of("0123456789", start) - start)];
    }
    return served;
}

/// Opens `count` sessions through `port` one after the other; how many answered a query.
int sessions_served(std::uint16_t port, int count)
{
    int served = 0;
    for (int i = 0; i < count; ++i) {
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        if (PQstatus(conn.get()) == CONNECTION_OK && query_value(conn.get(), "SELECT 1") == "1") ++served;
    }
    return served;
}

proxy_config two_worker_config(std::uint16_t port)
{
    auto config = shared_cluster_config({listener_spec("main", port, {"pg1"})});
    config.workers = 2;
    config.extra_args = {"--log-level", "debug"};
    return config;
}

} // namespace

TEST_CASE("listen: with two workers both accept clients on the listener's address", "[listen]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, two_worker_config(port));
    CHECK(sessions_served(port, 40) == 40);
    INFO(proxy.log());
    // The kernel spreads connections by a hash of their addresses: 40 never all land on one.
    const auto served = sessions_by_worker(proxy.log());
    CHECK(served.size() == 2);
}

TEST_CASE("listen: sessions held open are spread evenly over the workers, whatever the kernel's hash", "[listen]")
{
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, two_worker_config(port));
    // Opened one after another and kept: each accept sees the sessions before it. The kernel's
    // hash alone splits 8 connections 4/4 only 27 % of the time (C(8,4) / 2^8).
    std::vector<pq_conn> held;
    for (int i = 0; i < 8; ++i) {
        held.push_back(pq_connect(conninfo_for(port, "sslmode=disable")));
        REQUIRE(PQstatus(held.back().get()) == CONNECTION_OK);
        REQUIRE(query_value(held.back().get(), "SELECT 1") == "1");
    }
    INFO(proxy.log());
    CHECK(sessions_by_worker(proxy.log()) == std::map<std::string, int>{{"0", 4}, {"1", 4}});
    // Sessions handed to the other worker serve as well as the others.
    for (auto& conn : held) CHECK(query_value(conn.get(), "SELECT 2") == "2");
}

TEST_CASE("listen: a second patroxy on the same address is refused and the first goes on", "[listen]")
{
    const auto port = free_port();
    const auto config = two_worker_config(port);
    patroxy_process first(PATROXY_BINARY, config);

    const auto dir = make_temp_dir("patroxy-listen");
    const auto path = dir + "/second.json";
    std::ofstream(path) << config.to_json();
    const auto second = run_captured(PATROXY_BINARY, {"-f", path}, 10s);
    INFO("the second patroxy said: " << second.output);
    CHECK(second.exit_status == 1);
    CHECK(second.output.find("listener=main cannot listen on 127.0.0.1:" + std::to_string(port) +
                             ": Address already in use") != std::string::npos);
    CHECK(first.running());
    CHECK(sessions_served(port, 4) == 4);
    std::filesystem::remove_all(dir);
}

TEST_CASE("listen: a reload that replaces the listener binds its address again at once", "[listen]")
{
    const auto port = free_port();
    auto config = two_worker_config(port);
    patroxy_process proxy(PATROXY_BINARY, config);
    auto kept = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(kept.get()) == CONNECTION_OK);

    config.listeners.front().max_connections = 50; // a change: the listener is replaced
    std::ofstream(proxy.config_path(), std::ios::trunc) << config.to_json();
    REQUIRE(::kill(proxy.pid(), SIGHUP) == 0);
    REQUIRE(proxy.wait_for_log("configuration reloaded from", 5s));
    INFO(proxy.log());
    CHECK(proxy.log().find("cannot listen") == std::string::npos);
    CHECK(sessions_served(port, 10) == 10);
    CHECK(query_value(kept.get(), "SELECT 2") == "2"); // the session from before the reload lives on
}

TEST_CASE("listen: a listener added by a reload serves its very first client", "[listen]")
{
    const auto port = free_port();
    auto config = two_worker_config(port);
    patroxy_process proxy(PATROXY_BINARY, config);

    // Connect to the new listener's port from before the reload until the first connection
    // gets through: a client accepted before the workers know the new listener would be routed
    // without it and answered 57P03. The window is short, so five reloads each add one.
    for (int round = 0; round < 5; ++round) {
        const auto added = free_port();
        config.listeners.push_back(listener_spec("added" + std::to_string(round), added, {"pg1"}));
        std::ofstream(proxy.config_path(), std::ios::trunc) << config.to_json();
        REQUIRE(::kill(proxy.pid(), SIGHUP) == 0);
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        pq_conn first;
        while (std::chrono::steady_clock::now() < deadline) {
            first = pq_connect(conninfo_for(added, "sslmode=disable connect_timeout=5"));
            if (PQstatus(first.get()) == CONNECTION_OK) break;
            const std::string error = PQerrorMessage(first.get());
            INFO("round " << round << ": " << error << proxy.log());
            REQUIRE(error.find("Connection refused") != std::string::npos); // not bound yet, or a bug
        }
        INFO("round " << round << proxy.log());
        REQUIRE(PQstatus(first.get()) == CONNECTION_OK);
        CHECK(query_value(first.get(), "SELECT 1") == "1");
    }
}
