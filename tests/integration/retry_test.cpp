// Retry what the client never saw: a member that closes or resets a new connection before any of
// its bytes were relayed is passed over like a refused connect; once a server byte reached the
// client (an authentication request), a failure is the client's to see, as it happened.
#include <catch2/catch.hpp>

#include "tests/support/faulty_server.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pg_bytes = patroxy::test::pg_bytes;

/// A static listener whose first server is `faulty` and second the shared pg1, balance `first`:
/// every new session meets the faulty member first.
proxy_config faulty_first(const faulty_server& faulty, std::uint16_t port)
{
    listener_spec listener("faulty_first", port, {"faulty", "pg1"});
    listener.extra_json = R"("balance": "first")";
    auto config = shared_cluster_config({listener});
    config.members.emplace_back("faulty", faulty.port());
    return config;
}

const char* describe(server_fault fault)
{
    switch (fault) {
    case server_fault::close_at_once: return "closes at once";
    case server_fault::reset_at_once: return "resets at once";
    case server_fault::close_after_startup: return "closes after reading the startup packet";
    case server_fault::reset_after_startup: return "resets after reading the startup packet";
    case server_fault::auth_then_close: return "asks for a password, then closes";
    }
    return "?";
}

} // namespace

TEST_CASE("retry: a member that closes or resets a new connection before answering is passed over",
          "[proxy][retry]")
{
    const auto fault = GENERATE(server_fault::close_at_once, server_fault::reset_at_once,
                                server_fault::close_after_startup, server_fault::reset_after_startup);
    INFO("the faulty member " << describe(fault));
    faulty_server faulty(fault);
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, faulty_first(faulty, port));

    constexpr std::size_t sessions = 5;
    for (std::size_t i = 0; i < sessions; ++i) {
        auto conn = pq_connect(conninfo_for(port, "sslmode=disable"));
        INFO(PQerrorMessage(conn.get()));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        CHECK(query_value(conn.get(), "SELECT inet_server_port()") == std::to_string(shared_pg_server(0).port()));
    }
    // Each session met the faulty member first and was moved on to pg1.
    CHECK(faulty.accepted() == sessions);
    CHECK(proxy.wait_for_log("server faulty (127.0.0.1:" + std::to_string(faulty.port()) + ")", 2s));
    CHECK(proxy.running());
}

TEST_CASE("retry: a member that fails every new connection before answering gives 57P03 naming the failure",
          "[proxy][retry]")
{
    faulty_server faulty(server_fault::close_after_startup);
    const auto port = free_port();
    proxy_config config;
    config.members = {member_spec("faulty", faulty.port())};
    config.listeners = {listener_spec("only_faulty", port, {"faulty"})};
    patroxy_process proxy(PATROXY_BINARY, config);

    raw_connection raw(port);
    const auto replies = raw.startup(5s);
    REQUIRE_FALSE(replies.empty());
    REQUIRE(replies.back().type == 'E');
    auto fields = error_fields(replies.back());
    CHECK(fields['C'] == "57P03");
    CHECK_THAT(fields['M'], Catch::Contains("only_faulty"));
    CHECK_THAT(fields['D'], Catch::Contains("faulty") && Catch::Contains("closed before answering the startup"));
    CHECK(raw.wait_closed(3s).has_value());
    CHECK(faulty.accepted() == 1); // a static listener with one member: one attempt (retries counts members)
}

TEST_CASE("retry: once an authentication request reached the client, the server's close is passed on as it is",
          "[proxy][retry]")
{
    faulty_server faulty(server_fault::auth_then_close);
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, faulty_first(faulty, port));

    for (int i = 0; i < 3; ++i) {
        raw_connection raw(port);
        REQUIRE(raw.send(pg_bytes::startup({{"user", "postgres"}, {"database", "postgres"}})));
        const auto request = raw.read_message(5s);
        REQUIRE(request.has_value());
        CHECK(request->type == 'R');
        REQUIRE(request->body.size() == 4);
        CHECK(std::to_integer<int>(request->body[3]) == 3); // cleartext password, as the server sent it
        // Then the close, with nothing from pg1: the session was not moved to another member.
        const auto before_close = raw.wait_closed(5s);
        REQUIRE(before_close.has_value());
        CHECK(*before_close == 0);
    }
    CHECK(faulty.accepted() == 3);
    CHECK_FALSE(proxy.wait_for_log("closed before answering the startup", 200ms));
    CHECK(proxy.running());
}
