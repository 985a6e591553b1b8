// Connecting to a server without a trip through the event loop when the kernel has already
// finished the handshake. A non-blocking connect() answers EINPROGRESS even when the SYN-ACK came
// back before it returned, as it does on loopback and often within one host; Asio's async_connect
// then waits for epoll to report writability and asks poll() and getsockopt() again, one more
// wakeup per connection. HAProxy carries on at once; so do we, after one poll(0), and wait for
// epoll only when the handshake is really under way.
#pragma once

#include "proxy/net/io_types.hpp"

#include <system_error>

namespace patroxy::proxy {

enum class connect_progress {
    connected,   ///< ready for writing now
    in_progress, ///< wait for writability, then ask connect_outcome()
    failed,      ///< the error says why
};

/// Opens `socket` afresh (closing what it held), non-blocking with TCP_NODELAY and TCP_INQ
/// (socket_options.hpp), and connects it to `endpoint` as far as that can go without waiting.
connect_progress start_connect(tcp_socket& socket, const asio::ip::tcp::endpoint& endpoint, std::error_code& ec);

/// The outcome of a connect that was in progress once the socket is writable (SO_ERROR).
std::error_code connect_outcome(tcp_socket& socket);

} // namespace patroxy::proxy
