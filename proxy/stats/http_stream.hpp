// The byte stream under one stats connection: the accepted TCP socket, or TLS over it on an
// HTTPS listener. The connection code (http_server.cpp) is written once against this class; only
// this class knows which of the two it holds.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>

#include <cstddef>
#include <system_error>
#include <tuple>
#include <variant>

namespace patroxy::proxy::stats {

class http_stream {
public:
    /// An operation's outcome: the error, and for reads and writes the byte count.
    using status = std::tuple<std::error_code>;
    using transfer = std::tuple<std::error_code, std::size_t>;

    explicit http_stream(asio::ip::tcp::socket socket) : stream_(std::move(socket)) {}

    /// The TCP socket, under TLS or not: for the peer's address, shutting down, the lingering
    /// drain and closing.
    [[nodiscard]] asio::ip::tcp::socket& socket() noexcept;
    /// The connection's OpenSSL object; null before start_tls().
    [[nodiscard]] SSL* native_handle() noexcept;

    /// Puts TLS (server side, `context`) over the socket, before any byte of it was read.
    void start_tls(asio::ssl::context& context);
    /// Back to the bare socket after a failed handshake, to answer in plain text a client that
    /// spoke plain HTTP.
    void drop_tls();
    /// The server's side of the handshake; after start_tls().
    [[nodiscard]] asio::awaitable<status> handshake();
    /// Sends TLS's close_notify, then waits for the client's (Asio's shutdown does both); after
    /// a completed handshake only.
    [[nodiscard]] asio::awaitable<status> shutdown();

    /// Some bytes, decrypted when TLS is on.
    [[nodiscard]] asio::awaitable<transfer> read_some(asio::mutable_buffer into);
    /// All of `from`, encrypted when TLS is on.
    [[nodiscard]] asio::awaitable<transfer> write(asio::const_buffer from);

private:
    using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;

    std::variant<asio::ip::tcp::socket, tls_stream> stream_;
};

} // namespace patroxy::proxy::stats
