// The TLS stream of one side of a session: Asio's SSL stream over the session's own socket.
// The socket stays the session's (deadlines cancel it, a kill closes it, as for plaintext); the
// stream only borrows it. A direct-TLS client's ClientHello has already been read off the socket
// with the first packet, so the transport replays those bytes before it reads the socket again.
#pragma once

#include "proxy/net/io_types.hpp"

#include <asio/async_result.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/ssl/stream.hpp>

#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

namespace patroxy::proxy::tls {

/// A borrowed socket as an Asio stream, serving `replay` before the socket's own bytes.
class replay_socket {
public:
    using executor_type = io_executor;
    using lowest_layer_type = tcp_socket::lowest_layer_type;

    replay_socket(tcp_socket& socket, std::string replay) : socket_(socket), replay_(std::move(replay)) {}

    [[nodiscard]] executor_type get_executor() noexcept { return socket_.get_executor(); }
    lowest_layer_type& lowest_layer() noexcept { return socket_.lowest_layer(); }
    const lowest_layer_type& lowest_layer() const noexcept { return socket_.lowest_layer(); }

    /// From now on reads end at once, as at the end of the stream: a TLS close (async_shutdown)
    /// then sends its close_notify without waiting for the peer's.
    void stop_reading() noexcept { stopped_ = true; }

    template <typename MutableBuffers, typename Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token)
    {
        if (replay_.empty() && !stopped_) return socket_.async_read_some(buffers, std::forward<Token>(token));
        return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
            [this](auto handler, const MutableBuffers& b) {
                std::error_code ec = asio::error::eof;
                std::size_t n = 0;
                if (!stopped_) {
                    ec.clear();
                    n = asio::buffer_copy(b, asio::buffer(replay_));
                    replay_.erase(0, n);
                    if (replay_.empty()) replay_.shrink_to_fit();
                }
                asio::post(socket_.get_executor(), [h = std::move(handler), ec, n]() mutable { h(ec, n); });
            },
            token, buffers);
    }

    template <typename ConstBuffers, typename Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token)
    {
        return socket_.async_write_some(buffers, std::forward<Token>(token));
    }

private:
    tcp_socket& socket_;
    std::string replay_; ///< read off the socket before the TLS layer existed; served first
    bool stopped_ = false; ///< stop_reading()
};

using tls_stream = asio::ssl::stream<replay_socket>;

} // namespace patroxy::proxy::tls
