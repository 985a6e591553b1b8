// Errors patroxy answers itself, as real ErrorResponses naming the listener: 53300 over a
// listener's max_connections, 57P03 when none of its servers can be reached.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"

#include <thread>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

} // namespace

TEST_CASE("max_connections: the connection over the limit gets 53300 naming the listener", "[proxy][limits]")
{
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("capped_lsn", port, {"pg1", "pg2"})});
    config.listeners[0].max_connections = 2;
    patroxy_process proxy(PATROXY_BINARY, config);

    auto first = pq_connect(conninfo_for(port, "sslmode=disable"));
    auto second = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(first.get()) == CONNECTION_OK);
    REQUIRE(PQstatus(second.get()) == CONNECTION_OK);

    {
        auto third = pq_connect(conninfo_for(port, "sslmode=disable"));
        CHECK(PQstatus(third.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(third.get()), Catch::Contains("capped_lsn"));
    }
    {
        raw_connection raw(port);
        const auto replies = raw.startup(3s);
        REQUIRE_FALSE(replies.empty());
        REQUIRE(replies.back().type == 'E');
        auto fields = error_fields(replies.back());
        CHECK(fields['C'] == "53300");
        CHECK_THAT(fields['M'], Catch::Contains("capped_lsn"));
        CHECK(raw.wait_closed(3s).has_value());
    }
    // The two admitted sessions are unaffected.
    CHECK(query_value(first.get(), "SELECT 1") == "1");
    CHECK(query_value(second.get(), "SELECT 2") == "2");

    // A slot frees up once a session ends (patroxy notices the close asynchronously: bounded retry).
    first.reset();
    const auto deadline = steady::now() + 3s;
    pq_conn again;
    do {
        again = pq_connect(conninfo_for(port, "sslmode=disable"));
        if (PQstatus(again.get()) == CONNECTION_OK)
            break;
        std::this_thread::sleep_for(20ms);
    } while (steady::now() < deadline);
    INFO(PQerrorMessage(again.get()));
    REQUIRE(PQstatus(again.get()) == CONNECTION_OK);
    CHECK(query_value(again.get(), "SELECT 3") == "3");
}

TEST_CASE("no reachable server: the client gets 57P03 naming the listener", "[proxy][limits]")
{
    const auto port = free_port();
    proxy_config config;
    // Nothing listens on these ports.
    config.members = {member_spec("gone1", free_port()), member_spec("gone2", free_port())};
    config.listeners = {listener_spec("lonely_lsn", port, {"gone1", "gone2"})};
    patroxy_process proxy(PATROXY_BINARY, config);

    {
        const auto start = steady::now();
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        const auto waited = steady::now() - start;
        CHECK(PQstatus(conn.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(conn.get()), Catch::Contains("lonely_lsn"));
        CHECK(waited < 3s); // refused at once, no queueing for static listeners
    }
    {
        raw_connection raw(port);
        const auto start = steady::now();
        const auto replies = raw.startup(5s);
        const auto waited = steady::now() - start;
        REQUIRE_FALSE(replies.empty());
        REQUIRE(replies.back().type == 'E');
        auto fields = error_fields(replies.back());
        CHECK(fields['C'] == "57P03");
        CHECK_THAT(fields['M'], Catch::Contains("lonely_lsn"));
        CHECK(raw.wait_closed(3s).has_value());
        CHECK(waited < 3s);
    }
    {
        // An SSLRequest first (libpq's sslmode=prefer), which a passthrough listener routes at once.
        // patroxy may answer it with the ErrorResponse or with 'N' and the error after the
        // StartupMessage; either way it is 57P03 naming the listener. (libpq 15 itself no longer
        // shows an error text received during the SSL exchange, so this is checked raw.)
        raw_connection raw(port);
        REQUIRE(raw.send(patroxy::test::pg_bytes::ssl_request()));
        const auto first = raw.read_exact(1, 3s);
        REQUIRE(first.has_value());
        const char answer = static_cast<char>((*first)[0]);
        std::optional<backend_message> error;
        if (answer == 'N') {
            auto replies = raw.startup(5s);
            if (!replies.empty() && replies.back().type == 'E')
                error = std::move(replies.back());
        } else if (answer == 'E') {
            if (auto length = raw.read_exact(4, 3s)) {
                std::uint32_t n = 0;
                for (auto b : *length)
                    n = (n << 8) | std::to_integer<std::uint32_t>(b);
                if (n >= 4 && n < 65536)
                    if (auto body = raw.read_exact(n - 4, 3s))
                        error = backend_message{'E', std::move(*body)};
            }
        }
        INFO("answer to SSLRequest: " << answer);
        REQUIRE(error.has_value());
        auto fields = error_fields(*error);
        CHECK(fields['C'] == "57P03");
        CHECK_THAT(fields['M'], Catch::Contains("lonely_lsn"));
    }
    {
        auto conn = pq_connect(conninfo_for(port, "sslmode=prefer"));
        CHECK(PQstatus(conn.get()) == CONNECTION_BAD);
    }
    CHECK(proxy.running());
}

namespace {

/// What became of a silent session and a busy one.
struct idle_outcome {
    bool cause_logged = false;  ///< patroxy logged the close with the expected cause
    bool quiet_closed = false;  ///< the silent session's next statement found it closed
    bool busy_survived = false; ///< the busy session still answers afterwards
};

/// Holds one silent session and one that queries every 200 ms through a listener whose
/// `timeouts` close a session after 1.5 s of silence on the client (or server) side.
idle_outcome hold_idle_and_busy(bool client_side, const std::string& expected_cause)
{
    const auto port = free_port();
    auto config = shared_cluster_config({listener_spec("idle_lsn", port, {"pg1"})});
    (client_side ? config.client_idle_timeout : config.server_idle_timeout) = "1500ms";
    patroxy_process proxy(PATROXY_BINARY, config);

    auto quiet = pq_connect(conninfo_for(port, "sslmode=disable"));
    auto busy = pq_connect(conninfo_for(port, "sslmode=disable"));
    REQUIRE(PQstatus(quiet.get()) == CONNECTION_OK);
    REQUIRE(PQstatus(busy.get()) == CONNECTION_OK);

    const auto until = steady::now() + 2500ms;
    while (steady::now() < until) {
        REQUIRE(query_value(busy.get(), "SELECT 1") == "1");
        std::this_thread::sleep_for(200ms);
    }
    idle_outcome out;
    // The session line: HAProxy's cD / sD, and the cause in words.
    out.cause_logged = proxy.wait_for_log(std::string(" state=") + (client_side ? "cD" : "sD"), 2s) &&
                       proxy.log().find("reason=\"" + expected_cause + "\"") != std::string::npos;
    const auto result = pq_exec(quiet.get(), "SELECT 1");
    out.quiet_closed = PQresultStatus(result.get()) != PGRES_TUPLES_OK && PQstatus(quiet.get()) == CONNECTION_BAD;
    out.busy_survived = query_value(busy.get(), "SELECT 2") == "2";
    UNSCOPED_INFO(proxy.log());
    return out;
}

} // namespace

TEST_CASE("timeouts: client_idle closes a silent session and spares a busy one", "[proxy][limits][timeouts]")
{
    const auto outcome = hold_idle_and_busy(true, "client idle timeout");
    CHECK(outcome.cause_logged);
    CHECK(outcome.quiet_closed);
    CHECK(outcome.busy_survived);
}

TEST_CASE("timeouts: server_idle closes a session the server left silent and spares a busy one",
          "[proxy][limits][timeouts]")
{
    const auto outcome = hold_idle_and_busy(false, "server idle timeout");
    CHECK(outcome.cause_logged);
    CHECK(outcome.quiet_closed);
    CHECK(outcome.busy_survived);
}
