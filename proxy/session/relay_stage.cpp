// The relay: one pump per direction, each reading a chunk, scanning message headers as the bytes
// pass (never buffering a whole message), and writing the chunk on before reading again, so
// neither side is read faster than the other drains (backpressure). The watchdog enforces the
// deadline of whichever stage the session is in.
#include "proxy/session/client_session.hpp"

#include "proxy/net/listener.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/cancel_registry.hpp"
#include "proxy/support/log.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/write.hpp>

namespace patroxy::proxy {

asio::awaitable<void> client_session::relay(bool protocol_aware, std::size_t pending_server_bytes)
{
    using namespace asio::experimental::awaitable_operators;
    stage_ = stage::relaying;
    relay_aware_ = protocol_aware;
    last_client_rx_ = clock::now();
    if (pending_server_bytes == 0) last_server_rx_ = last_client_rx_;
    watchdog_timer_.cancel(); // re-arm for the idle deadlines
    // Reads are tried at once and only wait for readiness when nothing is there (read_pooled),
    // which needs non-blocking sockets. Asio's asynchronous operations are unaffected.
    std::error_code ignored;
    client_.non_blocking(true, ignored);
    server_.non_blocking(true, ignored);
    co_await (pump_client_to_server(protocol_aware) && pump_server_to_client(protocol_aware, pending_server_bytes));
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> client_session::read_pooled(asio::ip::tcp::socket& socket,
                                                                                      pooled_buffer& buffer)
{
    // The same syscalls as Asio's own speculative read (try, then wait for readiness, then
    // read), except that the buffer goes back to the worker's pool while the peer is silent.
    for (;;) {
        if (!buffer) buffer = owner_.buffers().acquire();
        std::error_code ec;
        const std::size_t n = socket.read_some(asio::buffer(buffer.get(), buffer_size_), ec);
        if (ec != asio::error::would_block && ec != asio::error::try_again) co_return std::tuple{ec, n};
        buffer.reset();
        const auto [wait_ec] = co_await socket.async_wait(asio::ip::tcp::socket::wait_read, nothrow_awaitable);
        if (wait_ec) co_return std::tuple{wait_ec, std::size_t{0}};
    }
}

asio::awaitable<void> client_session::pump_client_to_server(bool protocol_aware)
{
    for (;;) {
        auto [ec, n] = co_await read_pooled(client_, client_buf_);
        if (ec) {
            on_read_end(true, ec);
            co_return;
        }
        last_client_rx_ = clock::now();
        if (protocol_aware) {
            if (const auto error = scan_client_bytes(n)) {
                co_await refuse_client_stream(error);
                co_return;
            }
        }
        std::tie(ec, n) = co_await asio::async_write(server_, asio::buffer(client_buf_.get(), n), nothrow_awaitable);
        if (ec) {
            finish(close_cause::server_error, "writing to the server: " + ec.message());
            close_sockets();
            co_return;
        }
        bytes_in_ += n;
    }
}

asio::awaitable<void> client_session::pump_server_to_client(bool protocol_aware, std::size_t pending)
{
    std::size_t n = pending;
    for (;;) {
        if (n == 0) {
            auto [ec, got] = co_await read_pooled(server_, server_buf_);
            if (ec) {
                on_read_end(false, ec);
                co_return;
            }
            n = got;
            last_server_rx_ = clock::now();
        }
        if (killed_) co_return; // read completed just as the session was killed: drop it
        // Scanned before it is written: a BackendKeyData is registered before the client can
        // know the key and send a cancel with it.
        if (protocol_aware && !scan_server_bytes(n)) {
            close_sockets();
            co_return;
        }
        writing_to_client_ = true;
        auto [ec, written] = co_await asio::async_write(client_, asio::buffer(server_buf_.get(), n), nothrow_awaitable);
        writing_to_client_ = false;
        if (ec) {
            finish(close_cause::client_error, "writing to the client: " + ec.message());
            close_sockets();
            co_return;
        }
        bytes_out_ += written;
        n = 0;
    }
}

std::error_code client_session::scan_client_bytes(std::size_t n)
{
    protocol::bytes_view rest(client_buf_.get(), n);
    while (!rest.empty()) {
        const auto r = client_scanner_.scan(rest);
        if (r.error) return r.error;
        if (r.consumed == 0) break; // nothing more to learn from this chunk
        rest = rest.subspan(r.consumed);
    }
    return {};
}

asio::awaitable<void> client_session::refuse_client_stream(std::error_code error)
{
    // The bytes were not forwarded, and the server's stream is of no use once the client's is
    // broken: stop reading it, then tell the client why, if that cannot cut a server message
    // in two on the client's side.
    std::error_code ignored;
    server_.close(ignored);
    prepare_error(close_cause::client_protocol_error, "08P01",
                  "invalid message from the client on listener \"" + listener_.cfg.name + "\": " + error.message());
    if (!writing_to_client_ && server_scanner_.at_message_boundary()) co_await send_prepared_error();
    close_sockets();
}

bool client_session::scan_server_bytes(std::size_t n)
{
    protocol::bytes_view rest(server_buf_.get(), n);
    while (!rest.empty()) {
        const auto r = server_scanner_.scan(rest);
        if (r.error) {
            finish(close_cause::server_protocol_error, r.error.message());
            return false;
        }
        if (r.has_message) on_server_message(r.message);
        if (r.consumed == 0) break;
        rest = rest.subspan(r.consumed);
    }
    return true;
}

void client_session::on_server_message(const protocol::scanned_message& message)
{
    switch (message.type) {
    case protocol::backend_type::backend_key_data: {
        protocol::backend_key_data key;
        if (message.truncated || protocol::decode_backend_key_data(message.body, key)) {
            log_line(log_level::warning) << prefix() << " malformed BackendKeyData ignored; cancel will not work";
            return;
        }
        if (cancel_key_) env_.cancels.remove(cancel_key_->process_id, cancel_key_->secret_key, id_);
        env_.cancels.add(key.process_id, key.secret_key, cancel_target{member_->endpoint, member_->name, id_});
        cancel_key_ = std::move(key);
        return;
    }
    case protocol::backend_type::ready_for_query: {
        protocol::transaction_status status{};
        if (!message.truncated && !protocol::decode_ready_for_query(message.body, status)) transaction_ = status;
        return;
    }
    default:
        return;
    }
}

void client_session::on_read_end(bool from_client, const std::error_code& ec)
{
    if (ec == asio::error::operation_aborted) return; // the other pump or the watchdog closed us
    std::error_code ignored;
    if (ec == asio::error::eof) {
        if (from_client) {
            // Half-close: pass the client's FIN on and let the server finish and close.
            finish(close_cause::client_closed);
            server_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        } else {
            // The server is gone; nothing the client sends can be delivered any more.
            finish(close_cause::server_closed);
            client_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
            client_.close(ignored);
        }
        return;
    }
    finish(from_client ? close_cause::client_error : close_cause::server_error,
           std::string(from_client ? "reading from the client: " : "reading from the server: ") + ec.message());
    close_sockets();
}

asio::awaitable<void> client_session::watchdog()
{
    for (;;) {
        if (killed_) co_return; // kill() has recorded the cause; ending here ends serve()
        auto deadline = clock::time_point::max();
        auto cause = close_cause::none;
        switch (stage_) {
        case stage::startup:
            deadline = startup_deadline_;
            cause = close_cause::startup_timeout;
            break;
        case stage::connecting:
            break; // each attempt has its own connect timer
        case stage::relaying: {
            const auto client_deadline = last_client_rx_ + env_.timeouts.client_idle;
            const auto server_deadline = last_server_rx_ + env_.timeouts.server_idle;
            deadline = std::min(client_deadline, server_deadline);
            cause = client_deadline <= server_deadline ? close_cause::client_idle_timeout
                                                       : close_cause::server_idle_timeout;
            break;
        }
        }
        if (clock::now() >= deadline) {
            if (cause == close_cause::startup_timeout)
                listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
            finish(cause);
            co_return; // ends serve() through the || in run()
        }
        watchdog_timer_.expires_at(deadline);
        co_await watchdog_timer_.async_wait(nothrow_awaitable);
    }
}

} // namespace patroxy::proxy
