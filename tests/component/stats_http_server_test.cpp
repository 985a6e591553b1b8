// The stats listener's HTTP server over loopback, plain HTTP: a real http_server on 127.0.0.1:0
// with its io_context on a thread, and plain blocking POSIX sockets as clients, so every byte on
// the wire is the test's own (keep-alive, pipelining, HTTP/1.0, HEAD, auth, gzip, each limit's
// status and close, slowloris, max connections, a throwing handler, stop()).
#include "proxy/stats/gzip.hpp"
#include "proxy/stats/http_server.hpp"
#include "tests/component/stats_test_client.hpp"

#include <asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using patroxy::proxy::stats::basic_credentials;
using patroxy::proxy::stats::http_reply;
using patroxy::proxy::stats::http_request;
using patroxy::proxy::stats::http_server;
using patroxy::proxy::stats::http_server_limits;
using patroxy::test::clock_type;
using patroxy::test::connect_loopback;
using patroxy::test::get_root;
using patroxy::test::raw_client;
using patroxy::test::response;
using patroxy::test::running_server;
using patroxy::test::since;

namespace {

/// The body of GET /big: well over the gzip threshold, and compressible.
std::string big_body()
{
    std::string out;
    for (int row = 0; out.size() < 20000; ++row)
        out += "<tr><td>node" + std::to_string(row % 3 + 1) + "</td><td>" + std::to_string(row) + "</td></tr>\n";
    return out;
}

/// The routes the tests use; the real routes are proxy/app's business.
http_reply test_handler(const http_request& request)
{
    http_reply reply;
    if (request.path == "/" || request.path == "/health") {
        reply.body = request.path == "/" ? "hello\n" : "ok\n";
    } else if (request.path == "/big") {
        reply.content_type = "text/html; charset=utf-8";
        reply.body = big_body();
    } else if (request.path == "/echo") {
        reply.body = request.method + " " + request.query + " " + request.body;
        reply.headers.emplace_back("X-Echo", "yes");
        reply.headers.emplace_back("Content-Length", "999"); // the server's field wins
    } else if (request.path == "/throw") {
        throw std::runtime_error("handler bug");
    } else {
        reply.status = 404;
        reply.body = "no such page\n";
    }
    return reply;
}

/// A plain server with the test routes.
struct server_fixture : running_server {
    explicit server_fixture(http_server_limits limits = {}, std::optional<basic_credentials> auth = std::nullopt)
        : running_server(test_handler, limits, std::move(auth))
    {
    }
};

/// The fields every reply carries.
void check_common_fields(const response& r)
{
    CHECK(r.header("server") == "patroxy");
    CHECK(r.header("cache-control") == "no-store");
    REQUIRE(r.header("content-length").has_value());
    const auto timing = r.header("server-timing");
    REQUIRE(timing.has_value());
    CHECK(std::regex_match(*timing, std::regex("render;dur=\\d+\\.\\d{3}")));
}

/// Sends `request` on a new connection and expects `status`, then the close.
void expect_refused(std::uint16_t port, const std::string& request, unsigned status)
{
    CAPTURE(request.substr(0, 80), status);
    raw_client client(port);
    const auto r = client.ask(request);
    CHECK(r.status == status);
    CHECK(r.header("connection") == "close");
    check_common_fields(r);
    CHECK(client.closed_by_server());
}

} // namespace

TEST_CASE("stats server: two requests on one keep-alive connection", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    for (int i = 0; i < 2; ++i) {
        const auto r = client.ask(get_root);
        CHECK(r.status == 200);
        CHECK(r.body == "hello\n");
        CHECK(r.header("content-type") == "text/plain; charset=utf-8");
        CHECK_FALSE(r.header("connection").has_value());
        check_common_fields(r);
    }
    CHECK(client.ask("GET /nowhere HTTP/1.1\r\n\r\n").status == 404); // the handler's answer, passed through
}

TEST_CASE("stats server: three pipelined requests are answered in order", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    REQUIRE(client.send("GET /echo?1 HTTP/1.1\r\n\r\n"
                        "POST /echo?2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
                        "GET /echo?3 HTTP/1.1\r\n\r\n"));
    for (const auto* expected : {"GET 1 ", "POST 2 body", "GET 3 "}) {
        const auto r = client.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->body == expected);
        CHECK(r->header("x-echo") == "yes");
        CHECK(r->header("content-length") == std::to_string(r->body.size()));
    }
}

TEST_CASE("stats server: Connection: close is honoured", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    const auto r = client.ask("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    CHECK(r.status == 200);
    CHECK(r.header("connection") == "close");
    CHECK(client.closed_by_server());
}

TEST_CASE("stats server: HTTP/1.0 closes unless it asks for keep-alive", "[stats][http_server]")
{
    server_fixture f;
    {
        raw_client client(f.port);
        CHECK(client.ask("GET / HTTP/1.0\r\n\r\n").body == "hello\n");
        CHECK(client.closed_by_server());
    }
    raw_client client(f.port);
    for (int i = 0; i < 2; ++i) {
        const auto r = client.ask("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        CHECK(r.body == "hello\n");
        CHECK(r.header("connection") == "keep-alive");
    }
}

TEST_CASE("stats server: HEAD has GET's fields and no body", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    // The GET right behind it must parse as a response of its own: no body bytes after HEAD's.
    REQUIRE(client.send("HEAD /big HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
    const auto head = client.read_response(true);
    REQUIRE(head.has_value());
    CHECK(head->status == 200);
    CHECK(head->header("content-length") == std::to_string(big_body().size()));
    CHECK(head->header("content-type") == "text/html; charset=utf-8");
    const auto next = client.read_response();
    REQUIRE(next.has_value());
    CHECK(next->body == "hello\n");
}

TEST_CASE("stats server: Basic auth", "[stats][http_server]")
{
    server_fixture f({}, basic_credentials{"admin", "secret"});
    raw_client client(f.port);

    const auto ask = [&](const std::string& path, const std::string& authorization) {
        std::string request = "GET " + path + " HTTP/1.1\r\n";
        if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
        auto r = client.ask(request + "\r\n");
        check_common_fields(r);
        return r;
    };

    auto r = ask("/", "");
    CHECK(r.status == 401);
    CHECK(r.header("www-authenticate") == "Basic realm=\"patroxy stats\"");
    CHECK(ask("/", "Basic YWRtaW46d3Jvbmc=").status == 401); // admin:wrong
    CHECK(ask("/", "Basic cm9vdDpzZWNyZXQ=").status == 401); // root:secret
    CHECK(ask("/", "Basic !!!").status == 401);
    CHECK(ask("/", "Bearer YWRtaW46c2VjcmV0").status == 401);
    CHECK(ask("/%68ealth", "").status == 401); // only the exact path is exempt

    r = ask("/", "Basic YWRtaW46c2VjcmV0"); // admin:secret, on the same connection after the 401s
    CHECK(r.status == 200);
    CHECK(r.body == "hello\n");
    r = ask("/health", "");
    CHECK(r.status == 200);
    CHECK(r.body == "ok\n");
}

TEST_CASE("stats server: gzip when the client accepts it and the body is big", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    const auto expected = big_body();

    const auto packed = client.ask("GET /big HTTP/1.1\r\nAccept-Encoding: gzip, deflate\r\n\r\n");
    CHECK(packed.header("content-encoding") == "gzip");
    CHECK(packed.header("vary") == "Accept-Encoding");
    CHECK(packed.body.size() < expected.size() / 4);
    CHECK(patroxy::proxy::stats::gzip_decompress(packed.body, 1 << 20) == expected);

    const auto head = client.ask("HEAD /big HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n", true);
    CHECK(head.header("content-length") == std::to_string(packed.body.size()));

    const auto plain = client.ask("GET /big HTTP/1.1\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
    CHECK_FALSE(plain.header("content-encoding").has_value());
    CHECK(plain.header("vary") == "Accept-Encoding");
    CHECK(plain.body == expected);

    const auto small = client.ask("GET / HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n");
    CHECK_FALSE(small.header("content-encoding").has_value());
    CHECK_FALSE(small.header("vary").has_value());
    CHECK(small.body == "hello\n");
}

TEST_CASE("stats server: each limit answers its status and closes", "[stats][http_server]")
{
    http_server_limits limits;
    limits.request.max_start_line = 256;
    limits.request.max_field_bytes = 512;
    limits.request.max_fields = 8;
    limits.request.max_body_bytes = 1024;
    server_fixture f(limits);

    expect_refused(f.port, "GET / HTTP/1.1\r\nbroken header\r\n\r\n", 400);
    expect_refused(f.port, "BLAH\r\n\r\n", 400);
    expect_refused(f.port, std::string("\x16\x03\x01\x00\xa5\x01\x00\x00", 8), 400); // a TLS ClientHello
    expect_refused(f.port, "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n", 414);
    std::string many = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 9; ++i) many += "F" + std::to_string(i) + ": v\r\n";
    expect_refused(f.port, many + "\r\n", 431);
    expect_refused(f.port, "GET / HTTP/1.1\r\nX: " + std::string(600, 'v') + "\r\n\r\n", 431);
    expect_refused(f.port, "POST / HTTP/1.1\r\nContent-Length: 1025\r\n\r\n", 413);
    // With the body on its way: the reply must survive the unread bytes (lingering close).
    expect_refused(f.port, "POST / HTTP/1.1\r\nContent-Length: 60000\r\n\r\n" + std::string(60000, 'b'), 413);
    // A chunked body over the cap is refused at the chunk that crosses it.
    expect_refused(f.port, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + std::string(1024, 'c') +
                               "\r\n1\r\n",
                   413);
    expect_refused(f.port, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501);
    expect_refused(f.port, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400);
    expect_refused(f.port, "GET / HTTP/2.0\r\n\r\n", 505);

    // A refused request on a connection that served one before: the earlier answer stands.
    raw_client client(f.port);
    CHECK(client.ask(get_root + "GET / HTTP/1.1\r\nbad\r\n\r\n").status == 200);
    const auto bad = client.read_response();
    REQUIRE(bad.has_value());
    CHECK(bad->status == 400);
    CHECK(client.closed_by_server());
}

TEST_CASE("stats server: a chunked request body is decoded, and the connection goes on", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    const auto echoed = client.ask("POST /echo?c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "6;ext=1\r\nhello \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n");
    CHECK(echoed.status == 200);
    CHECK(echoed.body == "POST c hello world");
    CHECK(client.ask(get_root).status == 200);
}

TEST_CASE("stats server: Expect: 100-continue", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    const auto interim = client.ask("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    CHECK(interim.status == 100);
    CHECK(client.ask("hello").body == "POST  hello");
}

TEST_CASE("stats server: a slowloris client gets 408 while another is served promptly", "[stats][http_server]")
{
    http_server_limits limits;
    limits.read_timeout = 400ms;
    server_fixture f(limits);

    raw_client slow(f.port);
    raw_client silent(f.port); // connects and never says a word
    raw_client busy(f.port);
    const auto start = clock_type::now();
    REQUIRE(slow.send("GET / HTTP/1.1\r\nHost: t\r\n"));

    std::optional<response> answer;
    std::chrono::milliseconds answered_after{0};
    std::chrono::milliseconds slowest{0};
    int served = 0;
    while (!answer && since(start) < 3s) {
        (void)slow.send("X-Drip: 1\r\n"); // a byte now and then never resets the request's clock
        const auto asked = clock_type::now();
        CHECK(busy.ask(get_root).status == 200);
        slowest = std::max(slowest, since(asked));
        ++served;
        if (slow.readable()) {
            answer = slow.read_response(false, 1s);
            answered_after = since(start);
        }
        std::this_thread::sleep_for(40ms);
    }
    REQUIRE(answer.has_value());
    CHECK(answer->status == 408);
    CHECK(answer->header("connection") == "close");
    CHECK(answered_after >= 350ms);
    CHECK(answered_after < 1500ms);
    CHECK(slow.closed_by_server());
    CHECK(served >= 5);
    CHECK(slowest < 250ms);

    const auto quiet = silent.read_response(false, 2s);
    REQUIRE(quiet.has_value());
    CHECK(quiet->status == 408);
    CHECK(silent.closed_by_server());
}

TEST_CASE("stats server: an idle keep-alive connection is closed after the idle timeout", "[stats][http_server]")
{
    http_server_limits limits;
    limits.idle_timeout = 300ms;
    limits.read_timeout = 5s;
    server_fixture f(limits);
    raw_client client(f.port);
    CHECK(client.ask(get_root).status == 200);
    const auto start = clock_type::now();
    CHECK(client.closed_by_server(3s)); // silently: no 408 for a connection with nothing under way
    CHECK(since(start) >= 250ms);
}

TEST_CASE("stats server: over max connections a client gets 503 and the close at once", "[stats][http_server]")
{
    http_server_limits limits;
    limits.max_connections = 2;
    server_fixture f(limits);

    std::vector<std::unique_ptr<raw_client>> held;
    for (int i = 0; i < 2; ++i) {
        held.push_back(std::make_unique<raw_client>(f.port));
        CHECK(held.back()->ask(get_root).status == 200); // accepted and counted
    }
    {
        raw_client extra(f.port);
        const auto r = extra.read_response(false, 2s); // refused before it says anything
        REQUIRE(r.has_value());
        CHECK(r->status == 503);
        CHECK(r->header("connection") == "close");
        check_common_fields(*r);
        CHECK(extra.closed_by_server(2s));
    }
    // The held ones still work, and a freed slot serves a newcomer.
    CHECK(held[0]->ask(get_root).status == 200);
    held[1].reset();
    unsigned status = 0;
    const auto start = clock_type::now();
    while (status != 200 && since(start) < 3s) {
        raw_client next(f.port);
        status = next.ask(get_root).status;
        if (status != 200) std::this_thread::sleep_for(20ms); // the server has not seen the close yet
    }
    CHECK(status == 200);
}

TEST_CASE("stats server: a handler that throws gives 500 and the connection lives on", "[stats][http_server]")
{
    server_fixture f;
    raw_client client(f.port);
    const auto failed = client.ask("GET /throw HTTP/1.1\r\n\r\n");
    CHECK(failed.status == 500);
    CHECK(failed.body.find("handler bug") == std::string::npos); // nothing of the exception leaks
    CHECK_FALSE(failed.header("connection").has_value());
    check_common_fields(failed);

    const auto next = client.ask(get_root);
    CHECK(next.status == 200);
    CHECK(next.body == "hello\n");
}

TEST_CASE("stats server: stop() closes the listener and every connection", "[stats][http_server]")
{
    auto f = std::make_unique<server_fixture>();
    const auto port = f->port;
    raw_client idle(port);
    raw_client midway(port);
    CHECK(idle.ask(get_root).status == 200);
    REQUIRE(midway.send("GET / HTTP/1.1\r\n")); // a request under way

    f->server.stop();
    CHECK(idle.closed_by_server(2s));
    CHECK(midway.closed_by_server(2s));
    f.reset(); // joins the io thread: nothing of the server is left running

    const int fd = connect_loopback(port);
    CHECK(fd < 0); // nobody listens any more
    if (fd >= 0) ::close(fd);
}

TEST_CASE("stats server: listen reports a port in use", "[stats][http_server]")
{
    server_fixture f;
    asio::io_context io;
    http_server second(io.get_executor(), {}, std::nullopt, test_handler);
    const auto ec = second.listen({asio::ip::make_address("127.0.0.1"), f.port});
    CHECK(ec == asio::error::address_in_use);
    CHECK(second.local_endpoint().port() == 0);
}
