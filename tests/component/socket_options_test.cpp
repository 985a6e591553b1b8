// set_relay_options on a listening socket: the connections it accepts carry TCP_NODELAY and
// TCP_INQ without a setsockopt of their own (patroxy sets neither per client connection).
#include "proxy/net/socket_options.hpp"

#include "tests/component/tcp_option.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

using patroxy::test::tcp_option_on;
using tcp = asio::ip::tcp;

TEST_CASE("socket options: a listener's TCP_NODELAY and TCP_INQ reach the connections it accepts")
{
    asio::io_context io{1};
    tcp::acceptor acceptor(io);
    acceptor.open(tcp::v4());
    REQUIRE_FALSE(patroxy::proxy::set_relay_options(acceptor.native_handle()));
    acceptor.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
    tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    tcp::socket accepted(io);
    acceptor.accept(accepted);
    CHECK(tcp_option_on(accepted.native_handle(), TCP_NODELAY));
    CHECK(tcp_option_on(accepted.native_handle(), TCP_INQ));
    // The client side is a plain socket: the options are the listener's doing.
    CHECK_FALSE(tcp_option_on(client.native_handle(), TCP_INQ));
}
