// Writes that try the socket first. Asio's async_write sends at once too when the socket has
// room, but it always hands the completion to the scheduler as a new handler, never to the
// caller. The scheduler then polls epoll (a zero-timeout epoll_wait) before it runs that
// handler: on a quiet worker, one useless syscall and a trip through the scheduler's queue per
// write. A relayed message almost always fits the socket's send buffer, so here the caller
// goes on at once, as HAProxy's event loop does, and only a write the socket cannot take
// whole waits for epoll.
#pragma once

#include "proxy/net/io_types.hpp"

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/write.hpp>

#include <cstddef>
#include <system_error>
#include <utility>

namespace patroxy::proxy {

/// One non-blocking send of as much of `buffer` as `socket` takes now (SIGPIPE suppressed).
/// A full send buffer is no error: it sends 0 bytes. `socket` must be in non-blocking mode
/// (tcp_socket::non_blocking(true)), or a send to a full buffer would block.
inline std::size_t send_now(tcp_socket& socket, asio::const_buffer buffer, std::error_code& ec)
{
    const std::size_t sent = socket.send(buffer, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ec.clear();
        return 0;
    }
    return sent;
}

/// Writes all of `buffer` and calls `handler(ec, bytes_written)`: before returning when the
/// socket took it all (or failed) at once, else from the scheduler once the rest is written.
/// The buffer must stay valid until the handler runs.
template <typename Handler>
void write_eagerly(tcp_socket& socket, asio::const_buffer buffer, Handler&& handler)
{
    std::error_code ec;
    const std::size_t sent = send_now(socket, buffer, ec);
    if (ec || sent == buffer.size()) {
        std::forward<Handler>(handler)(ec, sent);
        return;
    }
    asio::async_write(socket, buffer + sent,
                      [sent, h = std::forward<Handler>(handler)](std::error_code e, std::size_t n) mutable {
                          std::move(h)(e, sent + n);
                      });
}

} // namespace patroxy::proxy
