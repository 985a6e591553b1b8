// start_connect over loopback: a connect the kernel finished at once is reported connected
// without a wait, a refused one fails with the kernel's reason, and one whose SYN is still
// unanswered is in progress and settles through connect_outcome() once the socket is writable.
#include "proxy/net/server_connect.hpp"

#include "tests/component/tcp_option.hpp"

#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <list>
#include <optional>
#include <string>

#include <sys/socket.h>

using namespace std::chrono_literals;
using patroxy::proxy::connect_outcome;
using patroxy::proxy::connect_progress;
using patroxy::proxy::start_connect;
using patroxy::proxy::tcp_socket;
using tcp = asio::ip::tcp;

namespace {

tcp::endpoint loopback(unsigned short port) { return {asio::ip::make_address("127.0.0.1"), port}; }

/// A port nothing listens on: bound (so no one else takes it) but never listening.
struct closed_port {
    explicit closed_port(asio::io_context& io) : socket(io, tcp::endpoint(loopback(0))) {}
    unsigned short port() const { return socket.local_endpoint().port(); }
    tcp::socket socket;
};

} // namespace

TEST_CASE("server connect: a loopback connect is complete without a wait, and the socket works")
{
    asio::io_context io{1};
    tcp::acceptor acceptor(io, loopback(0));
    tcp_socket client(io.get_executor());
    std::error_code ec;
    REQUIRE(start_connect(client, acceptor.local_endpoint(), ec) == connect_progress::connected);
    CHECK_FALSE(ec);
    CHECK(client.non_blocking());
    tcp::no_delay nodelay;
    client.get_option(nodelay);
    CHECK(nodelay.value());
    CHECK(patroxy::test::tcp_option_on(client.native_handle(), TCP_INQ));

    tcp::socket server(io);
    acceptor.accept(server);
    asio::write(server, asio::buffer("ok", 2));
    char reply[2] = {};
    client.non_blocking(false);
    asio::read(client, asio::buffer(reply));
    CHECK(std::string(reply, 2) == "ok");

    SECTION("a second connect on the same socket replaces the first")
    {
        client.non_blocking(true);
        REQUIRE(start_connect(client, acceptor.local_endpoint(), ec) == connect_progress::connected);
        tcp::socket second(io);
        acceptor.accept(second);
        CHECK(second.remote_endpoint() == client.local_endpoint());
    }
}

TEST_CASE("server connect: a refused connect fails with the kernel's reason")
{
    asio::io_context io{1};
    closed_port nobody(io);
    tcp_socket client(io.get_executor());
    std::error_code ec;
    CHECK(start_connect(client, loopback(nobody.port()), ec) == connect_progress::failed);
    CHECK(ec == asio::error::connection_refused);
    CHECK(ec.message() == "Connection refused");
}

TEST_CASE("server connect: an unanswered SYN is in progress until the socket says how it ended")
{
    asio::io_context io{1};
    // A listener whose accept queue is full drops further SYNs, as a server too busy to answer.
    tcp::acceptor acceptor(io);
    acceptor.open(tcp::v4());
    acceptor.bind(loopback(0));
    acceptor.listen(0);
    const auto target = acceptor.local_endpoint();
    // Some kernels queue one more than the backlog: connect until a SYN goes unanswered.
    std::list<tcp_socket> sockets;
    std::error_code ec;
    auto progress = connect_progress::connected;
    for (int i = 0; i < 6 && progress == connect_progress::connected; ++i)
        progress = start_connect(sockets.emplace_back(io.get_executor()), target, ec);
    auto& second = sockets.back();
    REQUIRE(progress == connect_progress::in_progress);
    CHECK_FALSE(ec);

    // Once the listener is gone, the SYN's retransmission is refused and the socket writable.
    acceptor.close();
    std::optional<std::error_code> waited;
    second.async_wait(tcp_socket::wait_write, [&](std::error_code e) { waited = e; });
    io.run_for(5s);
    REQUIRE(waited);
    CHECK_FALSE(*waited);
    CHECK(connect_outcome(second) == asio::error::connection_refused);
}
