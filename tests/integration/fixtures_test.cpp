// Checks of the integration fixtures themselves (no patroxy involved), and the listener that prints
// the logs of the patroxy processes a failed test case started.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"

#include <csignal>
#include <filesystem>
#include <iostream>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;

/// On a failed test case, prints the tail of every patroxy log that case produced: a proxy bug
/// then shows up with its own log lines in the test output.
struct patroxy_log_listener : Catch::TestEventListenerBase {
    using TestEventListenerBase::TestEventListenerBase;

    void testCaseStarting(Catch::TestCaseInfo const& info) override
    {
        (void)take_finished_logs();
        TestEventListenerBase::testCaseStarting(info);
    }

    void testCaseEnded(Catch::TestCaseStats const& stats) override
    {
        const auto logs = take_finished_logs();
        if (stats.totals.assertions.failed > 0) {
            constexpr std::size_t tail = 6000;
            for (const auto& log : logs)
                std::cerr << "---- " << stats.testInfo.name << ": "
                          << (log.size() > tail ? "..." + log.substr(log.size() - tail) : log) << "----\n";
        }
        TestEventListenerBase::testCaseEnded(stats);
    }
};

} // namespace

CATCH_REGISTER_LISTENER(patroxy_log_listener)

TEST_CASE("the shared postgres servers accept direct connections", "[fixture]")
{
    for (std::size_t i = 0; i < 2; ++i) {
        auto& server = shared_pg_server(i);
        auto conn = pq_connect(server.conninfo("sslmode=disable"));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        auto r = pq_exec(conn.get(), "SELECT inet_server_port(), current_user, version()");
        REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        CHECK(std::stoi(PQgetvalue(r.get(), 0, 0)) == server.port());
        CHECK(std::string(PQgetvalue(r.get(), 0, 1)) == "postgres");
        CHECK(std::string(PQgetvalue(r.get(), 0, 2)).starts_with("PostgreSQL 15"));
    }
    CHECK(shared_pg_server(0).port() != shared_pg_server(1).port());
}

TEST_CASE("the shared postgres servers speak TLS directly", "[fixture]")
{
    auto conn = pq_connect(shared_pg_server(0).conninfo("sslmode=require"));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    CHECK(PQsslInUse(conn.get()) == 1);
    auto r = pq_exec(conn.get(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
    CHECK(std::string(PQgetvalue(r.get(), 0, 0)) == "t");
}

TEST_CASE("a private postgres server takes extra settings and is removed afterwards", "[fixture]")
{
    std::string dir;
    {
        pg_server_options options;
        options.settings = {"application_name = 'fixture_check'", "work_mem = 3MB"};
        pg_server server(options);
        dir = server.dir();
        REQUIRE(std::filesystem::exists(dir + "/data/PG_VERSION"));
        auto conn = pq_connect(server.conninfo());
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        CHECK(PQsslInUse(conn.get()) == 0);
        auto r = pq_exec(conn.get(), "SHOW work_mem");
        REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        CHECK(std::string(PQgetvalue(r.get(), 0, 0)) == "3MB");
    }
    if (!keep_temp_dirs())
        CHECK_FALSE(std::filesystem::exists(dir));
}

TEST_CASE("free_port returns a bindable port and raw_connection sees a refused one", "[fixture]")
{
    const auto port = free_port();
    CHECK(port > 0);
    CHECK_THROWS(raw_connection(port));
}

TEST_CASE("subprocess reports exit codes and stops what it started", "[fixture]")
{
    CHECK(run_command(process_options({"sh", "-c", "exit 3"}), 5s) == 3);
    subprocess sleeper(process_options({"sleep", "30"}));
    CHECK(sleeper.running());
    const auto start = std::chrono::steady_clock::now();
    CHECK(sleeper.stop(SIGTERM, 2s) == 128 + SIGTERM);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
    CHECK_THROWS(subprocess(process_options({"/nonexistent/binary"})));
}
