// Bad input against a running patroxy: garbage, bad startup lengths, truncated startups, protocol
// 2.0, SSLRequest plus garbage, a flood of empty connections. Each case checks patroxy's answer on
// the raw socket, and that a healthy libpq session opened before still works after.
#include <catch2/catch.hpp>

#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"

#include <algorithm>
#include <random>
#include <set>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pg_bytes = patroxy::test::pg_bytes;
using steady = std::chrono::steady_clock;
using patroxy::protocol::byte_buffer;

constexpr auto startup_timeout = 1s;
/// How long a connection may take to be closed after the startup timeout has run out.
constexpr auto close_bound = 3s;

/// patroxy with a passthrough and a tls=disable listener, startup timeout 1 s, and a healthy libpq
/// session that must survive whatever a test throws at the listeners.
struct bad_input_setup {
    std::uint16_t port = free_port();
    std::uint16_t plain_port = free_port();
    patroxy_process proxy{PATROXY_BINARY, [this] {
                              auto config = shared_cluster_config({listener_spec("bad_in", port, {"pg1", "pg2"}),
                                                                   listener_spec("bad_plain", plain_port, {"pg1"})});
                              config.listeners[0].max_connections = 10000;
                              config.listeners[1].tls = "disable";
                              config.startup_timeout = "1s";
                              return config;
                          }()};
    pq_conn healthy = pq_connect(conninfo_for(port, "sslmode=disable"));

    bad_input_setup()
    {
        if (PQstatus(healthy.get()) != CONNECTION_OK)
            throw std::runtime_error(std::string("healthy session failed: ") + PQerrorMessage(healthy.get()));
    }

    /// The session opened before still answers, patroxy still runs and takes new sessions.
    void check_still_healthy()
    {
        CHECK(proxy.running());
        CHECK(query_value(healthy.get(), "SELECT 'healthy'") == "healthy");
        auto fresh = pq_connect(conninfo_for(port, "sslmode=disable"));
        INFO(PQerrorMessage(fresh.get()));
        REQUIRE(PQstatus(fresh.get()) == CONNECTION_OK);
        CHECK(query_value(fresh.get(), "SELECT 'fresh'") == "fresh");
    }
};

/// Reads one message, which must be an ErrorResponse; returns its SQLSTATE ("" otherwise).
std::string read_error_code(raw_connection& raw)
{
    const auto m = raw.read_message(close_bound);
    if (!m)
        return "<no message>";
    if (m->type != 'E')
        return std::string("<message type ") + m->type + ">";
    return error_fields(*m)['C'];
}

byte_buffer random_bytes(std::mt19937& rng, std::size_t n)
{
    byte_buffer out(n);
    for (auto& b : out)
        b = static_cast<std::byte>(rng() & 0xffu);
    return out;
}

} // namespace

TEST_CASE("bad input: startup length outside 8..10000 gets ErrorResponse 08P01", "[proxy][bad-input]")
{
    bad_input_setup s;
    for (const std::uint32_t length : {0u, 7u, 10001u, 0x7fffffffu}) {
        INFO("declared length " << length);
        raw_connection raw(s.port);
        REQUIRE(raw.send(pg_bytes::first_packet_with_length(length, 3u << 16)));
        CHECK(read_error_code(raw) == "08P01");
        CHECK(raw.wait_closed(close_bound).has_value());
    }
    s.check_still_healthy();
}

TEST_CASE("bad input: seeded random bytes are refused and the connection closed", "[proxy][bad-input]")
{
    bad_input_setup s;
    std::mt19937 rng(20240611);
    for (int round = 0; round < 30; ++round) {
        INFO("round " << round);
        byte_buffer packet;
        switch (round % 3) {
        case 0: // anything at all
            packet = random_bytes(rng, 1 + rng() % 2048);
            break;
        case 1: { // a plausible length, then a random code and body
            const auto code = static_cast<std::uint32_t>(rng());
            packet = pg_bytes::first_packet(code, random_bytes(rng, rng() % 200));
            break;
        }
        default: // a well-framed 3.0 StartupMessage with random parameter bytes
            packet = pg_bytes::first_packet(3u << 16, random_bytes(rng, 1 + rng() % 300));
            break;
        }
        raw_connection raw(s.port);
        (void)raw.send(packet); // patroxy may close before reading it all
        // Whatever patroxy (or a server it forwarded to) answers is an ErrorResponse, then it closes.
        const auto start = steady::now();
        if (auto m = raw.read_message(startup_timeout + close_bound)) {
            CHECK(m->type == 'E');
        }
        CHECK(raw.wait_closed(close_bound).has_value());
        CHECK(steady::now() - start < startup_timeout + close_bound);
    }
    s.check_still_healthy();
}

TEST_CASE("bad input: garbage after a good startup gets ErrorResponse 08P01", "[proxy][bad-input]")
{
    bad_input_setup s;
    std::mt19937 rng(77);
    // 0xff is no frontend message type. With a sane length PostgreSQL refuses it (FATAL 08P01); with
    // a random length patroxy may refuse it first (over max_message): either way the client is told.
    SECTION("sane length")
    {
        raw_connection raw(s.port);
        const auto replies = raw.startup(5s);
        REQUIRE_FALSE(replies.empty());
        REQUIRE(replies.back().type == 'Z');
        REQUIRE(raw.send(pg_bytes::message(static_cast<char>(0xff), random_bytes(rng, 100))));
        CHECK(read_error_code(raw) == "08P01");
        CHECK(raw.wait_closed(close_bound).has_value());
    }
    SECTION("random length")
    {
        raw_connection raw(s.port);
        const auto replies = raw.startup(5s);
        REQUIRE_FALSE(replies.empty());
        REQUIRE(replies.back().type == 'Z');
        auto garbage = random_bytes(rng, 512);
        garbage[0] = std::byte{0xff};
        REQUIRE(raw.send(garbage));
        CHECK(read_error_code(raw) == "08P01");
        CHECK(raw.wait_closed(close_bound).has_value());
    }
    s.check_still_healthy();
}

TEST_CASE("bad input: a truncated startup then silence is closed after the startup timeout", "[proxy][bad-input]")
{
    bad_input_setup s;
    auto packet = pg_bytes::startup({{"user", "postgres"}, {"database", "postgres"}});
    packet.resize(packet.size() / 2);
    raw_connection raw(s.port);
    REQUIRE(raw.send(packet));
    const auto start = steady::now();
    const auto closed = raw.wait_closed(startup_timeout + close_bound);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    INFO("closed after " << waited.count() << " ms");
    CHECK(closed.has_value());
    CHECK(waited >= 500ms); // it waited for the rest of the packet, not closed at once
    s.check_still_healthy();
}

TEST_CASE("bad input: a protocol 2.0 startup gets an ErrorResponse", "[proxy][bad-input]")
{
    bad_input_setup s;
    // Protocol 2.0 StartupPacket: fixed fields database[64] user[32] options[64] unused[64] tty[64].
    byte_buffer body(288, std::byte{0});
    const std::string_view database = "postgres", user = "postgres";
    std::transform(database.begin(), database.end(), body.begin(), [](char c) { return static_cast<std::byte>(c); });
    std::transform(user.begin(), user.end(), body.begin() + 64, [](char c) { return static_cast<std::byte>(c); });
    raw_connection raw(s.port);
    REQUIRE(raw.send(pg_bytes::first_packet(2u << 16, body)));
    const auto code = read_error_code(raw);
    CHECK((code == "0A000" || code == "08P01"));
    CHECK(raw.wait_closed(close_bound).has_value());
    s.check_still_healthy();
}

TEST_CASE("bad input: an SSLRequest followed by garbage", "[proxy][bad-input]")
{
    bad_input_setup s;
    const auto garbage = pg_bytes::bytes("\xff\xff\xff\xff this is not a TLS ClientHello, nor a startup packet");
    SECTION("passthrough: the server says 'S', fails the handshake, patroxy closes")
    {
        raw_connection raw(s.port);
        REQUIRE(raw.send(pg_bytes::ssl_request()));
        const auto answer = raw.read_exact(1, 3s);
        REQUIRE(answer);
        CHECK(static_cast<char>((*answer)[0]) == 'S');
        REQUIRE(raw.send(garbage));
        CHECK(raw.wait_closed(close_bound).has_value());
    }
    SECTION("disable: patroxy says 'N', then refuses the garbage as a startup packet")
    {
        raw_connection raw(s.plain_port);
        REQUIRE(raw.send(pg_bytes::ssl_request()));
        const auto answer = raw.read_exact(1, 3s);
        REQUIRE(answer);
        CHECK(static_cast<char>((*answer)[0]) == 'N');
        REQUIRE(raw.send(garbage));
        CHECK(read_error_code(raw) == "08P01");
        CHECK(raw.wait_closed(close_bound).has_value());
    }
    s.check_still_healthy();
}

TEST_CASE("bad input: 5000 connections opened and dropped and then a new session works", "[proxy][bad-input]")
{
    bad_input_setup s;
    constexpr int total = 5000;
    constexpr int batch = 100;
    const auto start = steady::now();
    for (int done = 0; done < total; done += batch) {
        std::vector<raw_connection> open;
        open.reserve(batch);
        for (int i = 0; i < batch; ++i)
            open.emplace_back(s.port);
        // Half leave with a FIN, half with an RST.
        for (std::size_t i = 0; i < open.size(); ++i)
            open[i].close(i % 2 == 1);
        REQUIRE(steady::now() - start < 60s);
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start);
    INFO(total << " connections in " << elapsed.count() << " ms");
    s.check_still_healthy();
}
