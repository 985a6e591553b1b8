// nonblocking_sockets over loopback: a batch accept takes every connection the backlog holds in
// one completion, each with its peer's address, non-blocking from the kernel's side and Asio's;
// an accept with an empty backlog waits for the next client; closing the listener cancels it; a
// socket opened by open_nonblocking() is non-blocking and connects.
#include "proxy/net/nonblocking_sockets.hpp"

#include "proxy/net/buffer_pool.hpp"
#include "proxy/net/drained_reads.hpp"

#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <list>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using patroxy::proxy::accepted_batch;
using patroxy::proxy::async_accept_batch;
using patroxy::proxy::listen_nonblocking;
using patroxy::proxy::listening_socket;
using patroxy::proxy::open_nonblocking;
using patroxy::proxy::tcp_socket;
using tcp = asio::ip::tcp;

namespace {

tcp::endpoint loopback(unsigned short port) { return {asio::ip::make_address("127.0.0.1"), port}; }

bool kernel_nonblocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

/// A listening socket on a free loopback port, as the listener makes one.
listening_socket make_listener(asio::io_context& io)
{
    listening_socket listener(io.get_executor());
    listener.open(tcp::v4());
    listener.bind(loopback(0));
    REQUIRE_FALSE(listen_nonblocking(listener));
    return listener;
}

/// Runs `io` until `done` holds or two seconds pass.
template <typename Done>
void run_until(asio::io_context& io, Done done)
{
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(10ms);
    }
}

struct accept_result {
    std::error_code ec;
    accepted_batch batch;
};

/// Starts one batch accept on `listener`; its outcome lands in `result`.
void start_accept(listening_socket& listener, std::optional<accept_result>& result)
{
    async_accept_batch(listener, [&result](std::error_code ec, accepted_batch batch) {
        result.emplace(accept_result{ec, std::move(batch)});
    });
}

} // namespace

TEST_CASE("batch accept: every queued connection comes in one batch, non-blocking, with its peer")
{
    asio::io_context io{1};
    auto listener = make_listener(io);
    std::list<tcp::socket> clients;
    for (int i = 0; i < 3; ++i) clients.emplace_back(io).connect(listener.local_endpoint());

    std::optional<accept_result> result;
    start_accept(listener, result);
    run_until(io, [&] { return result.has_value(); });
    REQUIRE(result);
    CHECK_FALSE(result->ec);
    REQUIRE(result->batch.size() == 3);

    std::vector<unsigned short> client_ports;
    for (auto& c : clients) client_ports.push_back(c.local_endpoint().port());
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(result->batch.peer(i).port() == client_ports[i]); // the backlog is first in, first out
        tcp_socket accepted(io.get_executor());
        REQUIRE_FALSE(result->batch.take(i, accepted));
        CHECK(accepted.non_blocking());
        CHECK(kernel_nonblocking(accepted.native_handle()));
        CHECK(accepted.remote_endpoint().port() == client_ports[i]);
    }
}

TEST_CASE("batch accept: an empty backlog waits for the next client, and a dropped batch closes its sockets")
{
    asio::io_context io{1};
    auto listener = make_listener(io);
    std::optional<accept_result> result;
    start_accept(listener, result);
    io.run_for(50ms);
    CHECK_FALSE(result); // nothing queued: the accept waits for epoll

    tcp::socket client(io);
    client.connect(listener.local_endpoint());
    run_until(io, [&] { return result.has_value(); });
    REQUIRE(result);
    CHECK_FALSE(result->ec);
    REQUIRE(result->batch.size() == 1);

    // Not taken: dropping the batch closes the accepted socket, and the client reads its end.
    result.reset();
    char byte = 0;
    std::error_code read_ec;
    asio::read(client, asio::buffer(&byte, 1), read_ec);
    CHECK(read_ec == asio::error::eof);
}

TEST_CASE("batch accept: a taken connection carries bytes both ways")
{
    asio::io_context io{1};
    auto listener = make_listener(io);
    tcp::socket client(io);
    client.connect(listener.local_endpoint());
    std::optional<accept_result> result;
    start_accept(listener, result);
    run_until(io, [&] { return result.has_value(); });
    REQUIRE(result);
    REQUIRE(result->batch.size() == 1);
    tcp_socket accepted(io.get_executor());
    REQUIRE_FALSE(result->batch.take(0, accepted));
    result.reset(); // the taken socket is not closed with its batch

    asio::write(client, asio::buffer("ping", 4));
    std::string got(4, '\0');
    std::size_t n = 0;
    accepted.async_read_some(asio::buffer(got), [&](std::error_code, std::size_t k) { n = k; });
    run_until(io, [&] { return n > 0; });
    CHECK(got.substr(0, n) == std::string("ping").substr(0, n));
    accepted.non_blocking(false);
    asio::write(accepted, asio::buffer("pong", 4));
    char reply[4] = {};
    asio::read(client, asio::buffer(reply));
    CHECK(std::string(reply, 4) == "pong");
}

TEST_CASE("batch accept: closing the listener cancels a waiting accept")
{
    asio::io_context io{1};
    auto listener = make_listener(io);
    std::optional<accept_result> result;
    start_accept(listener, result);
    io.run_for(20ms);
    listener.close();
    run_until(io, [&] { return result.has_value(); });
    REQUIRE(result);
    CHECK(result->ec == asio::error::operation_aborted);
    CHECK(result->batch.size() == 0);
}

TEST_CASE("open_nonblocking: the socket is non-blocking from its creation and connects")
{
    asio::io_context io{1};
    tcp::acceptor acceptor(io, loopback(0));
    tcp_socket socket(io.get_executor());
    REQUIRE_FALSE(open_nonblocking(socket, tcp::v4()));
    CHECK(socket.non_blocking());
    CHECK(kernel_nonblocking(socket.native_handle()));
    std::error_code ec;
    socket.async_connect(acceptor.local_endpoint(), [&](std::error_code e) { ec = e; });
    tcp::socket server(io);
    acceptor.accept(server);
    io.run_for(100ms);
    CHECK_FALSE(ec);
    CHECK(server.remote_endpoint() == socket.local_endpoint());
}

TEST_CASE("open_nonblocking: the first read after the connect waits for the server's first bytes and gets them")
{
    // The socket starts as 'nothing to read' for the reactor; the server's answer must still
    // complete the read, whether it comes before the read starts or while it waits.
    asio::io_context io{1};
    patroxy::proxy::drained_reads reads(io);
    patroxy::proxy::buffer_pool pool(64, 2);
    tcp::acceptor acceptor(io, loopback(0));
    for (const bool answer_first : {true, false}) {
        tcp_socket socket(io.get_executor());
        REQUIRE_FALSE(open_nonblocking(socket, tcp::v4()));
        std::error_code ec;
        socket.async_connect(acceptor.local_endpoint(), [&](std::error_code e) { ec = e; });
        tcp::socket server(io);
        acceptor.accept(server);
        run_until(io, [&] { return socket.is_open(); });
        if (answer_first) asio::write(server, asio::buffer("R", 1));
        patroxy::proxy::pooled_buffer buffer;
        std::optional<std::size_t> got;
        reads.async_read_pooled(socket, pool, buffer, 0, [&](std::error_code e, std::size_t n) { got = e ? 0 : n; });
        io.restart();
        io.poll();
        if (!answer_first) {
            CHECK_FALSE(got);
            asio::write(server, asio::buffer("R", 1));
        }
        run_until(io, [&] { return got.has_value(); });
        INFO("answer first: " << answer_first);
        REQUIRE(got);
        CHECK(*got == 1);
    }
}
