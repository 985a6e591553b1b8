// Each operation forwards to the socket or to the TLS stream; both complete with the same
// (error, bytes) tuple, so the callers' deadlines and error handling see no difference.
#include "proxy/stats/http_stream.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <utility>

namespace patroxy::proxy::stats {
namespace {

constexpr auto nothrow_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

} // namespace

asio::ip::tcp::socket& http_stream::socket() noexcept
{
    if (auto* plain = std::get_if<asio::ip::tcp::socket>(&stream_)) return *plain;
    return std::get<tls_stream>(stream_).next_layer();
}

SSL* http_stream::native_handle() noexcept
{
    auto* secure = std::get_if<tls_stream>(&stream_);
    return secure ? secure->native_handle() : nullptr;
}

void http_stream::start_tls(asio::ssl::context& context)
{
    // emplace() destroys the socket before it builds the TLS stream: move it out first.
    auto socket = std::move(std::get<asio::ip::tcp::socket>(stream_));
    stream_.emplace<tls_stream>(std::move(socket), context);
}

void http_stream::drop_tls()
{
    auto socket = std::move(std::get<tls_stream>(stream_).next_layer());
    stream_.emplace<asio::ip::tcp::socket>(std::move(socket));
}

asio::awaitable<http_stream::status> http_stream::handshake()
{
    return std::get<tls_stream>(stream_).async_handshake(asio::ssl::stream_base::server, nothrow_awaitable);
}

asio::awaitable<http_stream::status> http_stream::shutdown()
{
    return std::get<tls_stream>(stream_).async_shutdown(nothrow_awaitable);
}

asio::awaitable<http_stream::transfer> http_stream::read_some(asio::mutable_buffer into)
{
    return std::visit([into](auto& stream) { return stream.async_read_some(into, nothrow_awaitable); }, stream_);
}

asio::awaitable<http_stream::transfer> http_stream::write(asio::const_buffer from)
{
    return std::visit([from](auto& stream) { return asio::async_write(stream, from, nothrow_awaitable); }, stream_);
}

} // namespace patroxy::proxy::stats
