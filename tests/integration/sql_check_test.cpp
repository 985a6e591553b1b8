// health.sql_check against real PostgreSQL 15: probe_recovery() reads pg_is_in_recovery(), turns
// every failure (refused, unknown role, wrong password, a server that never answers) into an error
// within its timeout, and never blocks the io_context it runs on.
#include <catch2/catch.hpp>

#include "health/poller/patroni_poller.hpp"
#include "health/sql/sql_probe.hpp"
#include "tests/support/fake_patroni.hpp"
#include "tests/support/pg_server.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <vector>

#include <unistd.h>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using patroxy::config::sql_check_settings;
using patroxy::health::probe_recovery;
using patroxy::health::sql_probe_result;

sql_check_settings as_user(std::string user, std::string password = {})
{
    sql_check_settings s;
    s.user = std::move(user);
    s.password = std::move(password);
    s.database = "postgres";
    return s;
}

/// Runs probe_recovery() on a fresh io_context and returns its result; the context must finish
/// on its own, so a probe that leaves work behind (a timer, a descriptor wait) hangs the test.
sql_probe_result run_probe(std::uint16_t port, sql_check_settings settings, std::chrono::milliseconds timeout)
{
    asio::io_context io;
    std::optional<sql_probe_result> out;
    asio::co_spawn(io, probe_recovery(io.get_executor(), "127.0.0.1", port, std::move(settings), timeout),
                   [&](std::exception_ptr e, sql_probe_result r) {
                       if (e) std::rethrow_exception(e);
                       out = std::move(r);
                   });
    io.run();
    REQUIRE(out);
    return *out;
}

/// A port where nothing listens (bound and released at once).
std::uint16_t closed_port()
{
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

/// Two members behind fake Patroni APIs, as the poller sees them: node1's PostgreSQL is the shared
/// server 0, node2's port has nothing listening. One primary listener.
struct poller_rig {
    asio::io_context io;
    fake_patroni api1;
    fake_patroni api2;
    patroxy::config::config cfg;
    std::vector<std::string> events;
    std::optional<patroxy::health::patroni_poller> poller;

    explicit poller_rig(bool sql_check)
    {
        cfg.members = {{"node1", "127.0.0.1", shared_pg_server(0).port(), api1.api_url()},
                       {"node2", "127.0.0.1", closed_port(), api2.api_url()}};
        patroxy::config::listener l;
        l.name = "primary";
        l.role = patroxy::config::listener_role::primary;
        cfg.listeners = {l};
        cfg.health.interval = 200ms;
        cfg.health.fast_interval = 50ms;
        cfg.health.timeout = 500ms;
        if (sql_check) cfg.health.sql_check = as_user("postgres");
    }

    ~poller_rig()
    {
        if (!poller) return;
        poller->stop();
        io.run_for(2s); // lets the loops see stopped_ and end
    }

    /// node `leader` (1 or 2) reports itself master and holds the DCS lock; the other is a replica.
    void make_leader(int leader)
    {
        patroni_member primary;
        primary.role = "master";
        patroni_member replica;
        const std::string p1 = patroni_json(leader == 1 ? primary : replica).dump();
        const std::string p2 = patroni_json(leader == 2 ? primary : replica).dump();
        api1.set_patroni_body(p1);
        api2.set_patroni_body(p2);
        cluster_member m1{.name = "node1", .role = leader == 1 ? "leader" : "replica", .api_url = api1.api_url()};
        cluster_member m2{.name = "node2", .role = leader == 2 ? "leader" : "replica", .api_url = api2.api_url()};
        const std::string view = cluster_json({m1, m2}).dump();
        api1.set_cluster_body(view);
        api2.set_cluster_body(view);
    }

    void start()
    {
        poller.emplace(io.get_executor(), cfg, [](const patroxy::health::snapshot_ptr&) {},
                       [this](std::string_view level, std::string_view, const std::string& text) {
                           events.push_back(std::string(level) + ": " + text);
                       });
        poller->start();
    }

    /// Runs the poller until `done` holds on its current snapshot, for at most `limit`.
    bool run_until(const std::function<bool(const patroxy::health::cluster_snapshot&)>& done,
                   std::chrono::milliseconds limit = 5000ms)
    {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (done(*poller->current())) return true;
            io.run_for(20ms);
        }
        return done(*poller->current());
    }

    [[nodiscard]] bool logged(std::string_view part) const
    {
        return std::any_of(events.begin(), events.end(),
                           [&](const std::string& e) { return e.find(part) != std::string::npos; });
    }
};

bool primary_is(const patroxy::health::cluster_snapshot& s, std::uint32_t i) { return s.primary == i; }

} // namespace

TEST_CASE("sql_check: a primary answers pg_is_in_recovery() = false", "[sql_check]")
{
    auto& server = shared_pg_server(0); // ssl = on: the probe negotiates TLS (libpq's sslmode=prefer)
    const auto r = run_probe(server.port(), as_user("postgres"), 2000ms);
    INFO(r.error);
    CHECK(r.ok);
    CHECK(r.error.empty());
    CHECK_FALSE(r.in_recovery);
    CHECK(r.duration < 2000ms);
}

TEST_CASE("sql_check: several probes share one io_context", "[sql_check]")
{
    asio::io_context io;
    std::vector<sql_probe_result> results;
    for (std::size_t i = 0; i < 4; ++i) {
        const std::uint16_t port = shared_pg_server(i % 2).port();
        asio::co_spawn(io, probe_recovery(io.get_executor(), "127.0.0.1", port, as_user("postgres"), 2000ms),
                       [&](std::exception_ptr e, sql_probe_result r) {
                           if (e) std::rethrow_exception(e);
                           results.push_back(std::move(r));
                       });
    }
    io.run();
    REQUIRE(results.size() == 4);
    for (const auto& r : results) {
        INFO(r.error);
        CHECK(r.ok);
        CHECK_FALSE(r.in_recovery);
    }
}

TEST_CASE("sql_check: nothing listening is an error at once", "[sql_check]")
{
    const auto r = run_probe(closed_port(), as_user("postgres"), 2000ms);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("refused"));
    CHECK(r.duration < 1000ms);
}

TEST_CASE("sql_check: an unknown role is an error with the server's message", "[sql_check]")
{
    const auto r = run_probe(shared_pg_server(0).port(), as_user("patroxy_no_such_role"), 2000ms);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("patroxy_no_such_role"));
    CHECK(r.duration < 2000ms);
}

TEST_CASE("sql_check: a server that accepts and never answers times out, and the loop keeps running",
          "[sql_check]")
{
    // A listening socket that never accepts: the kernel completes the handshake, libpq sends its
    // first packet and waits for an answer that never comes.
    asio::io_context io;
    asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    const std::uint16_t port = silent.local_endpoint().port();

    std::optional<sql_probe_result> out;
    asio::co_spawn(io, probe_recovery(io.get_executor(), "127.0.0.1", port, as_user("postgres"), 300ms),
                   [&](std::exception_ptr e, sql_probe_result r) {
                       if (e) std::rethrow_exception(e);
                       out = std::move(r);
                   });
    // Ticks while the probe waits: a probe that blocked the thread would starve them.
    int ticks = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer t(io);
            while (!out) {
                t.expires_after(10ms);
                co_await t.async_wait(asio::use_awaitable);
                ++ticks;
            }
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    io.run();
    REQUIRE(out);
    CHECK_FALSE(out->ok);
    CHECK(out->error == "timeout after 300 ms");
    CHECK(out->duration >= 290ms);
    CHECK(out->duration < 5000ms); // generous: CI machines are shared, only "bounded" matters
    CHECK(ticks >= 3);             // the thread kept serving timers while the probe waited
}

TEST_CASE("sql_check: password authentication, right and wrong", "[sql_check]")
{
    // A private server whose pg_hba.conf asks everyone but postgres for a SCRAM password.
    const auto hba = std::filesystem::temp_directory_path() / ("patroxy-sql-check-hba-" + std::to_string(::getpid()));
    {
        std::ofstream f(hba);
        f << "local all all trust\n"
          << "host all postgres 127.0.0.1/32 trust\n"
          << "host all all 127.0.0.1/32 scram-sha-256\n";
    }
    std::filesystem::permissions(hba, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                          std::filesystem::perms::group_read | std::filesystem::perms::others_read);
    pg_server_options options;
    options.settings = {"hba_file = '" + hba.string() + "'"};
    pg_server server(options);
    std::filesystem::remove(hba); // read at startup, and again only on reload

    auto admin = pq_connect(server.conninfo("sslmode=disable"));
    REQUIRE(PQstatus(admin.get()) == CONNECTION_OK);
    auto created = pq_exec(admin.get(), "CREATE ROLE patroxy_monitor LOGIN PASSWORD 'right horse'");
    REQUIRE(PQresultStatus(created.get()) == PGRES_COMMAND_OK);

    // One server for all three (no SECTIONs, which would start it once per section).
    const auto right = run_probe(server.port(), as_user("patroxy_monitor", "right horse"), 2000ms);
    INFO(right.error);
    CHECK(right.ok);
    CHECK_FALSE(right.in_recovery);

    const auto wrong = run_probe(server.port(), as_user("patroxy_monitor", "battery staple"), 2000ms);
    CHECK_FALSE(wrong.ok);
    CHECK_THAT(wrong.error, Catch::Contains("password authentication failed"));

    const auto none = run_probe(server.port(), as_user("patroxy_monitor"), 2000ms);
    CHECK_FALSE(none.ok);
    CHECK_FALSE(none.error.empty());
}

TEST_CASE("sql_check: the poller confirms the leader by SQL, and withholds writes when it cannot",
          "[sql_check][poller]")
{
    poller_rig rig(true);
    rig.make_leader(1);
    rig.start();
    CHECK(rig.run_until([](const auto& s) { return primary_is(s, 0); }));
    CHECK_FALSE(rig.logged("SQL check failed"));

    // Patroni moves the lock to node2, whose PostgreSQL is unreachable: Patroni's word is not enough.
    rig.make_leader(2);
    const std::string incident_text = "DCS leader node2 reports itself primary but its SQL check failed: ";
    const bool withheld = rig.run_until([&](const auto& s) {
        return !s.primary && std::any_of(s.incidents.begin(), s.incidents.end(), [&](const auto& i) {
                   return i.kind == patroxy::health::incident_kind::sql_check_disagrees &&
                          i.text.starts_with(incident_text);
               });
    });
    INFO(Catch::Detail::stringify(rig.events));
    CHECK(withheld);
    CHECK(rig.logged("warning: member=node2 SQL check failed: "));
    CHECK(rig.poller->current()->eligible.at(0).empty());
}

TEST_CASE("sql_check: without it the poller follows Patroni alone", "[sql_check][poller]")
{
    poller_rig rig(false);
    rig.make_leader(2); // node2's PostgreSQL is unreachable, but nobody asks it
    rig.start();
    CHECK(rig.run_until([](const auto& s) { return primary_is(s, 1); }));
    CHECK_FALSE(rig.logged("SQL check"));
}
