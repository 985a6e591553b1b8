// TLS through patroxy: passthrough relays the server's TLS opaquely, disable answers 'N' to the
// SSLRequest; GSSENCRequest is always refused with 'N'. Both shared servers run with ssl = on.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pg_bytes = patroxy::test::pg_bytes;

/// Whether the server itself sees this session as TLS.
std::string server_sees_ssl(PGconn* c)
{
    return query_value(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
}

struct tls_proxy {
    std::uint16_t passthrough_port = free_port();
    std::uint16_t disable_port = free_port();
    patroxy_process proxy{PATROXY_BINARY,
                          [this] {
                              auto config = shared_cluster_config({listener_spec("tls_pass", passthrough_port, {"pg1", "pg2"}),
                                                                   listener_spec("tls_off", disable_port, {"pg1", "pg2"})});
                              config.listeners[1].tls = "disable";
                              return config;
                          }()};
};

} // namespace

TEST_CASE("tls=passthrough: sslmode=prefer and require get TLS end to end", "[proxy][tls]")
{
    tls_proxy t;
    for (const char* mode : {"sslmode=prefer", "sslmode=require"}) {
        // Two sessions per mode, so both servers (round-robin) are covered.
        for (int i = 0; i < 2; ++i) {
            INFO(mode << " session " << i);
            auto conn = pq_connect(conninfo_for(t.passthrough_port, mode));
            INFO(PQerrorMessage(conn.get()));
            REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
            CHECK(PQsslInUse(conn.get()) == 1);
            CHECK(server_sees_ssl(conn.get()) == "t");
            // Some volume inside TLS: many records, relayed opaquely.
            CHECK(query_value(conn.get(), "SELECT repeat('z', 5000000)") == std::string(5000000, 'z'));
        }
    }
}

TEST_CASE("tls=disable: sslmode=prefer falls back to plaintext and require fails", "[proxy][tls]")
{
    tls_proxy t;
    {
        auto conn = pq_connect(conninfo_for(t.disable_port, "sslmode=prefer"));
        INFO(PQerrorMessage(conn.get()));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        CHECK(PQsslInUse(conn.get()) == 0);
        CHECK(server_sees_ssl(conn.get()) == "f");
    }
    {
        auto conn = pq_connect(conninfo_for(t.disable_port, "sslmode=require"));
        CHECK(PQstatus(conn.get()) == CONNECTION_BAD);
        INFO(PQerrorMessage(conn.get()));
        CHECK_THAT(PQerrorMessage(conn.get()), Catch::Contains("does not support SSL"));
    }
    // The listener is still fine afterwards.
    auto conn = pq_connect(conninfo_for(t.disable_port, "sslmode=disable"));
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    CHECK(query_value(conn.get(), "SELECT 1") == "1");
}

TEST_CASE("an SSLRequest answered 'N' and a GSSENCRequest answered 'N' go on to a plain startup", "[proxy][tls]")
{
    tls_proxy t;
    SECTION("GSSENCRequest on the passthrough listener")
    {
        raw_connection raw(t.passthrough_port);
        REQUIRE(raw.send(pg_bytes::gssenc_request()));
        const auto answer = raw.read_exact(1, 3s);
        REQUIRE(answer);
        CHECK(static_cast<char>((*answer)[0]) == 'N');
        const auto replies = raw.startup(5s);
        REQUIRE_FALSE(replies.empty());
        CHECK(replies.front().type == 'R');
        CHECK(replies.back().type == 'Z');
        CHECK(find_backend_key(replies).has_value());
    }
    SECTION("SSLRequest on the disable listener")
    {
        raw_connection raw(t.disable_port);
        REQUIRE(raw.send(pg_bytes::ssl_request()));
        const auto answer = raw.read_exact(1, 3s);
        REQUIRE(answer);
        CHECK(static_cast<char>((*answer)[0]) == 'N');
        const auto replies = raw.startup(5s);
        REQUIRE_FALSE(replies.empty());
        CHECK(replies.front().type == 'R');
        CHECK(replies.back().type == 'Z');
    }
    SECTION("SSLRequest on the passthrough listener is answered by the server")
    {
        raw_connection raw(t.passthrough_port);
        REQUIRE(raw.send(pg_bytes::ssl_request()));
        const auto answer = raw.read_exact(1, 3s);
        REQUIRE(answer);
        CHECK(static_cast<char>((*answer)[0]) == 'S');
    }
}
