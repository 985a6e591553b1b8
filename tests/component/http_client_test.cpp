// http_client over loopback: against fake_patroni (Patroni 3.0.2's HTTP/1.0 answers and every
// fault mode) and against small scripted servers in the test's own io_context (keep-alive,
// chunked, stale connections, slow drips, the exact request bytes).
#include "health/http/http_client.hpp"
#include "tests/component/http_client_runs.hpp"
#include "tests/support/fake_patroni.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <functional>
#include <optional>

using namespace std::chrono_literals;
using patroxy::health::http_client;
using patroxy::health::http_errc;
using patroxy::health::http_limits;
using patroxy::health::http_response;
using patroxy::test::fake_patroni;
using patroxy::test::get;
using patroxy::test::patroni_fault;
using patroxy::test::run;
using patroxy::test::short_limits;
using patroxy::test::wait_until;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

/// A loopback server on the test's io_context; `script` plays each accepted connection.
class scripted_server {
public:
    using script = std::function<asio::awaitable<void>(tcp::socket, scripted_server&)>;

    scripted_server(asio::io_context& io, script play) : acceptor_(io, {asio::ip::address_v4::loopback(), 0}), play_(std::move(play))
    {
        asio::co_spawn(io, accept_loop(), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    }

    [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

    std::size_t accepted = 0;
    std::vector<std::string> requests; ///< request heads, in arrival order
    std::size_t closed = 0;            ///< connections the script has closed

    /// Reads one request head ("...\r\n\r\n"), recording it; nullopt when the peer closed.
    asio::awaitable<std::optional<std::string>> read_request(tcp::socket& socket)
    {
        std::string head;
        auto buffer = asio::dynamic_buffer(head, 64 * 1024);
        const std::string_view end = "\r\n\r\n";
        const auto [ec, n] = co_await asio::async_read_until(socket, buffer, end, nothrow_awaitable);
        if (ec) co_return std::nullopt;
        requests.push_back(head);
        co_return head;
    }

    static asio::awaitable<void> send(tcp::socket& socket, std::string bytes)
    {
        (void)co_await asio::async_write(socket, asio::buffer(bytes), nothrow_awaitable);
    }

    static asio::awaitable<void> pause(tcp::socket& socket, std::chrono::milliseconds d)
    {
        asio::steady_timer timer(socket.get_executor(), d);
        (void)co_await timer.async_wait(nothrow_awaitable);
    }

    void close(tcp::socket& socket)
    {
        asio::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        ++closed;
    }

private:
    asio::awaitable<void> accept_loop()
    {
        for (;;) {
            auto [ec, socket] = co_await acceptor_.async_accept(nothrow_awaitable);
            if (ec) co_return;
            ++accepted;
            asio::co_spawn(acceptor_.get_executor(), play_(std::move(socket), *this), [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
        }
    }

    tcp::acceptor acceptor_;
    script play_;
};

const std::string ok_keep_alive = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

/// Answers every request on the connection with ok_keep_alive.
asio::awaitable<void> keep_alive_script(tcp::socket socket, scripted_server& server)
{
    for (;;) {
        const auto request = co_await server.read_request(socket);
        if (!request) co_return;
        co_await scripted_server::send(socket, ok_keep_alive);
    }
}

/// Answers one request as if keeping the connection, then closes it (a server's idle timeout).
asio::awaitable<void> close_after_one_script(tcp::socket socket, scripted_server& server)
{
    const auto request = co_await server.read_request(socket);
    if (request) co_await scripted_server::send(socket, ok_keep_alive);
    server.close(socket);
}

} // namespace

TEST_CASE("Patroni 3.0.2's HTTP/1.0 answer is read and the connection closed", "[component][http]")
{
    asio::io_context io;
    fake_patroni patroni;
    patroxy::test::patroni_member leader;
    leader.role = "master";
    const std::string body = patroxy::test::patroni_json(leader).dump();
    patroni.set_patroni_body(body);
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits());

    const auto first = get(io, client);
    REQUIRE_FALSE(first.error);
    CHECK(first.response.status == 200);
    CHECK(first.response.version_minor == 0);
    CHECK(first.response.body == body);
    CHECK(first.response.header("content-type") == "application/json");
    CHECK_FALSE(first.response.keep_alive);
    CHECK_FALSE(client.connected());

    const auto second = get(io, client);
    REQUIRE_FALSE(second.error);
    CHECK(second.response.body == body);
    CHECK(client.connections_opened() == 2); // one connection per request, as Patroni closes
    CHECK(patroni.connections_accepted() == 2);
    CHECK(patroni.request_count("/patroni") == 2);
    CHECK(patroni.wait_for_requests("/patroni", 2, 1s));
    CHECK_FALSE(patroni.wait_for_requests("/patroni", 3, 50ms));
}

TEST_CASE("the JSON builders give the bodies of PATRONI-NOTES.md", "[component][http]")
{
    using patroxy::test::patroni_member;
    using patroxy::test::patroni_replication;
    asio::io_context io;
    fake_patroni patroni;
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits());

    SECTION("leader with two streaming replicas")
    {
        patroni_member leader;
        leader.role = "master";
        leader.timeline = 3;
        leader.xlog_location = 67309440;
        leader.replication = {patroni_replication{.application_name = "node2"},
                              patroni_replication{.application_name = "node3", .sync_state = "sync"}};
        patroni.set_patroni_body(patroxy::test::patroni_json(leader).dump());
        const auto r = get(io, client);
        REQUIRE_FALSE(r.error);
        const auto body = nlohmann::json::parse(r.response.body);
        CHECK(body["role"] == "master");
        CHECK(body["state"] == "running");
        CHECK(body["timeline"] == 3);
        CHECK(body["xlog"]["location"] == 67309440);
        CHECK_FALSE(body["xlog"].contains("replayed_location"));
        REQUIRE(body["replication"].size() == 2);
        CHECK(body["replication"][1]["application_name"] == "node3");
        CHECK(body["replication"][1]["sync_state"] == "sync");
        CHECK(body["replication"][0]["state"] == "streaming");
        CHECK(body["patroni"]["version"] == "3.0.2");
        CHECK(body["patroni"]["scope"] == "demo");
    }
    SECTION("replica with tags, lagging")
    {
        patroni_member replica;
        replica.received_location = 2000;
        replica.replayed_location = 1000;
        replica.tags = {{"nofailover", true}};
        patroni.set_patroni_body(patroxy::test::patroni_json(replica).dump());
        const auto body = nlohmann::json::parse(get(io, client).response.body);
        CHECK(body["role"] == "replica");
        CHECK(body["xlog"]["received_location"] == 2000);
        CHECK(body["xlog"]["replayed_location"] == 1000);
        CHECK(body["xlog"]["paused"] == false);
        CHECK(body["tags"]["nofailover"] == true);
        CHECK_FALSE(body.contains("replication"));
    }
    SECTION("PostgreSQL down and no leader key: the shrunken body")
    {
        patroni_member down;
        down.state = "stopped";
        down.postgres_running = false;
        down.cluster_unlocked = true;
        patroni.set_patroni_body(patroxy::test::patroni_json(down).dump());
        const auto body = nlohmann::json::parse(get(io, client).response.body);
        CHECK(body["state"] == "stopped");
        CHECK(body["cluster_unlocked"] == true);
        CHECK_FALSE(body.contains("xlog"));
        CHECK_FALSE(body.contains("timeline"));
        CHECK(body.contains("dcs_last_seen"));
        CHECK(body.contains("database_system_identifier"));
    }
    SECTION("cluster with a lagging replica and pause")
    {
        patroxy::test::cluster_member leader;
        leader.name = "node1";
        leader.role = "leader";
        patroxy::test::cluster_member replica;
        replica.name = "node2";
        replica.port = 5442;
        replica.lag = "unknown";
        patroni.set_cluster_body(patroxy::test::cluster_json({leader, replica}, true).dump());
        const auto body = nlohmann::json::parse(get(io, client, "/cluster").response.body);
        REQUIRE(body["members"].size() == 2);
        CHECK(body["members"][0]["role"] == "leader");
        CHECK_FALSE(body["members"][0].contains("lag"));
        CHECK(body["members"][1]["port"] == 5442);
        CHECK(body["members"][1]["lag"] == "unknown");
        CHECK(body["pause"] == true);
    }
}

TEST_CASE("the fake serves /cluster, routes, Patroni's 503 for unknown paths, and counts per path", "[component][http]")
{
    asio::io_context io;
    fake_patroni patroni;
    patroxy::test::cluster_member node1;
    node1.name = "node1";
    node1.role = "leader";
    node1.api_url = patroni.api_url() + "/patroni";
    const auto cluster = patroxy::test::cluster_json({node1});
    patroni.set_cluster_body(cluster.dump());
    patroni.set_route("/primary", 200, "{}");
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits());

    const auto c = get(io, client, "/cluster");
    REQUIRE_FALSE(c.error);
    CHECK(c.response.status == 200);
    CHECK(nlohmann::json::parse(c.response.body) == cluster);

    CHECK(get(io, client, "/primary?x=1").response.status == 200);
    const auto unknown = get(io, client, "/nonexistent");
    REQUIRE_FALSE(unknown.error);
    CHECK(unknown.response.status == 503);
    CHECK(nlohmann::json::parse(unknown.response.body)["role"] == "replica"); // the /patroni body

    patroni.set_status(503);
    CHECK(get(io, client, "/patroni").response.status == 503);

    CHECK(patroni.request_count("/cluster") == 1);
    CHECK(patroni.request_count("/primary") == 1);
    CHECK(patroni.request_count("/nonexistent") == 1);
    CHECK(patroni.request_count("/patroni") == 1);
    CHECK(patroni.total_requests() == 4);
    patroni.reset_counts();
    CHECK(patroni.total_requests() == 0);
}

TEST_CASE("a body without Content-Length ends at the close", "[component][http]")
{
    asio::io_context io;
    fake_patroni patroni;
    patroni.set_content_length(false);
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits());

    const auto r = get(io, client);
    REQUIRE_FALSE(r.error);
    CHECK_FALSE(r.response.header("content-length"));
    CHECK(nlohmann::json::parse(r.response.body)["state"] == "running");
}

TEST_CASE("keep-alive: three requests travel over one TCP connection", "[component][http]")
{
    asio::io_context io;

    SECTION("fake Patroni speaking HTTP/1.1")
    {
        fake_patroni patroni;
        patroni.set_keep_alive(true);
        http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits());
        for (int i = 0; i < 3; ++i) {
            const auto r = get(io, client);
            REQUIRE_FALSE(r.error);
            CHECK(r.response.keep_alive);
            CHECK(client.connected());
        }
        CHECK(patroni.request_count("/patroni") == 3);
        CHECK(patroni.connections_accepted() == 1);
        CHECK(client.connections_opened() == 1);
    }
    SECTION("scripted HTTP/1.1 server")
    {
        scripted_server server(io, keep_alive_script);
        http_client client(io.get_executor(), "127.0.0.1", server.port(), short_limits());
        for (int i = 0; i < 3; ++i) {
            const auto r = get(io, client);
            REQUIRE_FALSE(r.error);
            CHECK(r.response.body == "{}");
        }
        CHECK(server.requests.size() == 3);
        CHECK(server.accepted == 1);
        CHECK(client.connections_opened() == 1);
    }
}

TEST_CASE("the request is exactly the documented GET", "[component][http]")
{
    asio::io_context io;
    scripted_server server(io, keep_alive_script);
    http_client client(io.get_executor(), "127.0.0.1", server.port(), short_limits());
    REQUIRE_FALSE(get(io, client, "/patroni").error);
    REQUIRE(server.requests.size() == 1);
    CHECK(server.requests[0] == "GET /patroni HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
                                    "\r\nUser-Agent: patroxy\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n");

    SECTION("an IPv6 literal is bracketed in Host")
    {
        asio::error_code ec;
        tcp::acceptor probe(io);
        probe.open(tcp::v6(), ec);
        if (!ec) probe.bind({asio::ip::address_v6::loopback(), 0}, ec);
        if (ec) {
            WARN("no IPv6 loopback here; the bracketed Host header is not checked");
            return;
        }
        probe.listen();
        const auto port = probe.local_endpoint().port();
        http_client v6(io.get_executor(), "::1", port, short_limits());
        auto accepted = std::make_shared<std::string>();
        asio::co_spawn(io, [](tcp::acceptor& a, std::shared_ptr<std::string> out) -> asio::awaitable<void> {
            auto [aec, socket] = co_await a.async_accept(nothrow_awaitable);
            if (aec) co_return;
            auto buffer = asio::dynamic_buffer(*out, 4096);
            const std::string_view end = "\r\n\r\n";
            (void)co_await asio::async_read_until(socket, buffer, end, nothrow_awaitable);
            const std::string answer = "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
            (void)co_await asio::async_write(socket, asio::buffer(answer), nothrow_awaitable);
        }(probe, accepted), asio::detached);
        REQUIRE_FALSE(get(io, v6).error);
        CHECK(accepted->find("\r\nHost: [::1]:" + std::to_string(port) + "\r\n") != std::string::npos);
    }
}

TEST_CASE("chunked answers are decoded and the connection kept", "[component][http]")
{
    asio::io_context io;
    // The chunks arrive in separate writes with pauses, so the client parses across reads.
    scripted_server server(io, [](tcp::socket socket, scripted_server& s) -> asio::awaitable<void> {
        const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        const std::string part1 = "7\r\n{\"role\"";
        const std::string part2 = "\r\nA\r\n: \"master\"\r\n1\r\n}\r\n0\r\n\r\n";
        for (;;) {
            const auto request = co_await s.read_request(socket);
            if (!request) co_return;
            co_await scripted_server::send(socket, head);
            co_await scripted_server::pause(socket, 20ms);
            co_await scripted_server::send(socket, part1);
            co_await scripted_server::pause(socket, 20ms);
            co_await scripted_server::send(socket, part2);
        }
    });
    http_client client(io.get_executor(), "127.0.0.1", server.port(), short_limits());

    for (int i = 0; i < 2; ++i) {
        const auto r = get(io, client);
        REQUIRE_FALSE(r.error);
        CHECK(r.response.body == R"({"role": "master"})");
        CHECK(r.response.keep_alive);
    }
    CHECK(server.accepted == 1);
    CHECK(client.connections_opened() == 1);
}

TEST_CASE("a kept connection closed by the server is replaced once, transparently", "[component][http]")
{
    asio::io_context io;
    scripted_server server(io, close_after_one_script);
    http_client client(io.get_executor(), "127.0.0.1", server.port(), short_limits());

    const auto first = get(io, client);
    REQUIRE_FALSE(first.error);
    REQUIRE(client.connected()); // the answer said keep-alive
    REQUIRE(wait_until(io, [&] { return server.closed == 1; }));

    const auto second = get(io, client);
    REQUIRE_FALSE(second.error);
    CHECK(second.response.body == "{}");
    CHECK(server.accepted == 2);
    CHECK(client.connections_opened() == 2);
    CHECK(second.elapsed < 300ms);
}

TEST_CASE("the reconnect happens once: a second close in a row is reported", "[component][http]")
{
    asio::io_context io;
    // The first connection answers then closes; every later one closes without answering.
    scripted_server server(io, [](tcp::socket socket, scripted_server& s) -> asio::awaitable<void> {
        if (s.accepted == 1) {
            const auto request = co_await s.read_request(socket);
            if (request) co_await scripted_server::send(socket, ok_keep_alive);
        }
        s.close(socket);
    });
    http_client client(io.get_executor(), "127.0.0.1", server.port(), short_limits());

    REQUIRE_FALSE(get(io, client).error);
    REQUIRE(wait_until(io, [&] { return server.closed == 1; }));
    const auto second = get(io, client);
    CHECK(second.error == http_errc::closed_early);
    CHECK(server.accepted == 2);
    CHECK_FALSE(client.connected());
}

TEST_CASE("a fresh connection closed without an answer is closed_early, not retried", "[component][http]")
{
    asio::io_context io;
    scripted_server server(io, [](tcp::socket socket, scripted_server& s) -> asio::awaitable<void> {
        const auto request = co_await s.read_request(socket);
        (void)request;
        s.close(socket);
    });
    http_client client(io.get_executor(), "127.0.0.1", server.port(), short_limits());
    const auto r = get(io, client);
    CHECK(r.error == http_errc::closed_early);
    CHECK(server.accepted == 1);
    CHECK(r.elapsed < 300ms);
}

TEST_CASE("fault modes of the fake give the right error within the timeout", "[component][http]")
{
    asio::io_context io;
    fake_patroni patroni;
    const auto limits = short_limits(); // connect 500 ms, response 300 ms
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), limits);
    constexpr auto slack = 700ms; // scheduling noise on a loaded 2-core machine

    SECTION("a delay shorter than the timeout is only slow")
    {
        patroni.set_fault(patroni_fault::delay, 100ms);
        const auto r = get(io, client);
        REQUIRE_FALSE(r.error);
        CHECK(r.response.status == 200);
        CHECK(r.elapsed >= 100ms);
    }
    SECTION("a delay longer than the timeout is response_timeout")
    {
        patroni.set_fault(patroni_fault::delay, 2000ms);
        const auto r = get(io, client);
        CHECK(r.error == http_errc::response_timeout);
        CHECK(r.elapsed >= limits.response_timeout);
        CHECK(r.elapsed < limits.response_timeout + slack);
        CHECK_FALSE(client.connected());
    }
    SECTION("hang is response_timeout")
    {
        patroni.set_fault(patroni_fault::hang);
        const auto r = get(io, client);
        CHECK(r.error == http_errc::response_timeout);
        CHECK(r.elapsed >= limits.response_timeout);
        CHECK(r.elapsed < limits.response_timeout + slack);
        CHECK(patroni.request_count("/patroni") == 1); // the request did arrive
        CHECK_FALSE(client.connected());
    }
    SECTION("http 500 is a complete answer with status 500")
    {
        patroni.set_fault(patroni_fault::http_500);
        const auto r = get(io, client);
        REQUIRE_FALSE(r.error);
        CHECK(r.response.status == 500);
    }
    SECTION("garbage is malformed_response, at once")
    {
        patroni.set_fault(patroni_fault::garbage);
        const auto r = get(io, client);
        CHECK(r.error == http_errc::malformed_response);
        CHECK(r.elapsed < limits.response_timeout);
        // The log line and the stats page say what the codec refused.
        CHECK(client.describe(r.error) == "malformed HTTP response: malformed HTTP start line");
    }
    SECTION("a close mid-body is closed_early, at once")
    {
        patroni.set_fault(patroni_fault::close_mid_body);
        const auto r = get(io, client);
        CHECK(r.error == http_errc::closed_early);
        CHECK(client.last_transport_error() == asio::error::eof);
        CHECK(r.elapsed < limits.response_timeout);
    }
    SECTION("refuse is connect_failed; clearing it listens again on the same port")
    {
        patroni.set_fault(patroni_fault::refuse);
        const auto r = get(io, client);
        CHECK(r.error == http_errc::connect_failed);
        CHECK(client.last_transport_error() == asio::error::connection_refused);
        CHECK(r.elapsed < limits.connect_timeout);
        CHECK(patroni.connections_accepted() == 0);

        patroni.set_fault(patroni_fault::none);
        const auto again = get(io, client);
        REQUIRE_FALSE(again.error);
        CHECK(again.response.status == 200);
        CHECK(patroni.connections_accepted() == 1);
    }
    SECTION("refuse also drops kept connections")
    {
        patroni.set_keep_alive(true);
        REQUIRE_FALSE(get(io, client).error);
        REQUIRE(client.connected());
        patroni.set_fault(patroni_fault::refuse);
        const auto r = get(io, client); // stale connection, then the reconnect is refused
        CHECK(r.error == http_errc::connect_failed);
        CHECK(client.last_transport_error() == asio::error::connection_refused);
    }
    SECTION("after a fault clears, the same client works again")
    {
        patroni.set_fault(patroni_fault::garbage);
        CHECK(get(io, client).error == http_errc::malformed_response);
        patroni.set_fault(patroni_fault::none);
        const auto r = get(io, client);
        REQUIRE_FALSE(r.error);
        CHECK(r.response.status == 200);
    }
}

TEST_CASE("the response deadline covers the whole response, not each read", "[component][http]")
{
    asio::io_context io;
    // One byte every 40 ms: each read is quick, the whole answer would take over a second.
    scripted_server server(io, [](tcp::socket socket, scripted_server& s) -> asio::awaitable<void> {
        const auto request = co_await s.read_request(socket);
        if (!request) co_return;
        const std::string answer = "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
        for (const char c : answer) {
            const std::string one(1, c);
            co_await scripted_server::send(socket, one);
            co_await scripted_server::pause(socket, 40ms);
        }
    });
    http_client client(io.get_executor(), "127.0.0.1", server.port(), short_limits());
    const auto r = get(io, client);
    CHECK(r.error == http_errc::response_timeout);
    CHECK(r.elapsed >= 300ms);
    CHECK(r.elapsed < 1000ms);
}

TEST_CASE("size caps reach the client", "[component][http]")
{
    asio::io_context io;
    scripted_server server(io, [](tcp::socket socket, scripted_server& s) -> asio::awaitable<void> {
        const auto request = co_await s.read_request(socket);
        if (!request) co_return;
        const std::string path = request->substr(4, request->find(' ', 4) - 4);
        const std::string answer = path == "/big-header"
                                       ? "HTTP/1.0 200 OK\r\nX-Pad: " + std::string(2000, 'p') + "\r\n\r\n"
                                       : "HTTP/1.0 200 OK\r\n\r\n" + std::string(5000, 'b');
        co_await scripted_server::send(socket, answer);
        s.close(socket);
    });
    http_limits limits = short_limits();
    limits.max_header_bytes = 1024;
    limits.max_body_bytes = 4096;
    http_client client(io.get_executor(), "127.0.0.1", server.port(), limits);
    CHECK(get(io, client, "/big-header").error == http_errc::header_too_large);
    CHECK(get(io, client, "/big-body").error == http_errc::body_too_large);
}

TEST_CASE("connect_timeout when the server never completes the handshake", "[component][http]")
{
    asio::io_context io;
    // A listener whose accept queue is full drops further SYNs, so connect() neither succeeds
    // nor fails: the client must give up on its own deadline.
    tcp::acceptor full(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    full.listen(0);
    const tcp::endpoint target = full.local_endpoint();
    std::vector<std::unique_ptr<tcp::socket>> fillers;
    for (int i = 0; i < 4; ++i) {
        fillers.push_back(std::make_unique<tcp::socket>(io));
        fillers.back()->async_connect(target, [](const asio::error_code&) {});
    }
    wait_until(io, [] { return false; }, 100ms);

    const auto limits = short_limits();
    http_client client(io.get_executor(), "127.0.0.1", target.port(), limits);
    const auto r = get(io, client);
    CHECK(r.error == http_errc::connect_timeout);
    CHECK(r.elapsed >= limits.connect_timeout);
    CHECK(r.elapsed < limits.connect_timeout + 700ms);
    CHECK(client.connections_opened() == 0);
}

TEST_CASE("host names are resolved, and a failed resolve stays within connect_timeout", "[component][http]")
{
    asio::io_context io;
    fake_patroni patroni;
    SECTION("localhost")
    {
        http_client client(io.get_executor(), "localhost", patroni.port(), short_limits());
        const auto r = get(io, client);
        // localhost may resolve to ::1 first; the client falls back to 127.0.0.1 where the fake listens.
        REQUIRE_FALSE(r.error);
        CHECK(r.response.status == 200);
    }
    SECTION("a name that does not exist")
    {
        http_client client(io.get_executor(), "no-such-member.invalid", patroni.port(), short_limits());
        const auto r = get(io, client);
        CHECK((r.error == http_errc::connect_failed || r.error == http_errc::connect_timeout));
        CHECK(r.elapsed < short_limits().connect_timeout + 700ms);
        CHECK(patroni.total_requests() == 0);
    }
}

TEST_CASE("close() interrupts a waiting get()", "[component][http]")
{
    asio::io_context io;
    fake_patroni patroni;
    patroni.set_fault(patroni_fault::hang);
    http_limits limits;
    limits.response_timeout = 5s;
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), limits);

    asio::steady_timer closer(io, 100ms);
    closer.async_wait([&](const asio::error_code&) { client.close(); });
    const auto r = get(io, client);
    CHECK(r.error == asio::error::operation_aborted);
    CHECK(r.elapsed < 2s);
    CHECK_FALSE(client.connected());
}

TEST_CASE("get() refuses overlapping calls and bad targets", "[component][http]")
{
    asio::io_context io;
    fake_patroni patroni;
    patroni.set_fault(patroni_fault::delay, 100ms);
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits());

    auto both = [](http_client& c) -> asio::awaitable<std::pair<std::error_code, std::error_code>> {
        using namespace asio::experimental::awaitable_operators;
        const std::string patroni_path = "/patroni";
        const std::string cluster_path = "/cluster";
        auto [first, second] = co_await (c.get(patroni_path) && c.get(cluster_path));
        std::pair<std::error_code, std::error_code> out{first.first, second.first};
        co_return out;
    };
    const auto [first, second] = run(io, both(client));
    CHECK_FALSE(first);
    CHECK(second == std::errc::operation_in_progress);
    CHECK(patroni.request_count("/cluster") == 0);

    CHECK(get(io, client, "patroni").error == std::errc::invalid_argument);
    CHECK(get(io, client, "/a b").error == std::errc::invalid_argument);
    CHECK(get(io, client, "/a\r\nX: 1").error == std::errc::invalid_argument);
}
