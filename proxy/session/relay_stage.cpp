// The relay: one pump per direction, each reading a chunk, scanning message headers as the bytes
// pass (never buffering a whole message), and writing the chunk on before reading again, so
// neither side is read faster than the other drains (backpressure). The watchdog enforces the
// deadline of whichever stage the session is in, and after a lull in traffic gives the relay
// buffers back to the worker's pool, so idle sessions own none.
#include "proxy/session/client_session.hpp"

#include "proxy/net/listener.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/cancel_registry.hpp"
#include "proxy/support/log.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/write.hpp>

#include <utility>

namespace patroxy::proxy {

asio::awaitable<void> client_session::relay(bool protocol_aware, std::size_t pending_server_bytes)
{
    using namespace asio::experimental::awaitable_operators;
    stage_ = stage::relaying;
    relay_aware_ = protocol_aware;
    last_client_rx_ = clock::now();
    if (pending_server_bytes == 0) last_server_rx_ = last_client_rx_;
    watchdog_timer_.cancel(); // re-arm for the idle deadlines
    co_await (pump_client_to_server(protocol_aware) && pump_server_to_client(protocol_aware, pending_server_bytes));
}

asio::awaitable<std::tuple<std::error_code, std::size_t>> client_session::read_chunk(asio::ip::tcp::socket& socket,
                                                                                     relay_side& side)
{
    for (;;) {
        if (!side.buffer) {
            // Cold: wait for bytes without holding a buffer, then stay hot until the next lull.
            const auto [wait_ec] = co_await socket.async_wait(asio::ip::tcp::socket::wait_read, nothrow_awaitable);
            if (wait_ec) co_return std::tuple{wait_ec, std::size_t{0}};
            side.buffer = owner_.buffers().acquire();
        }
        // Hot: Asio reads at once and only then waits, with the descriptor left armed in epoll,
        // so a busy session costs no epoll_ctl per message.
        side.parked = true;
        const auto [ec, n] =
            co_await socket.async_read_some(asio::buffer(side.buffer.get(), buffer_size_), nothrow_awaitable);
        side.parked = false;
        const bool cooled = std::exchange(side.cooling, false) && ec == asio::error::operation_aborted;
        if (!cooled) {
            if (cooled_ && !ec) {
                cooled_ = false;
                watchdog_timer_.cancel(); // re-arm: this burst's lull cools the session again
            }
            co_return std::tuple{ec, n};
        }
        side.buffer.reset(); // cool_idle_sides() took the read away to free the buffer
    }
}

bool client_session::cool_idle_sides() noexcept
{
    // Only a side parked in its read gives its buffer back, and only when nothing is being
    // written to that socket: cancel() would abort the write too.
    const auto cool = [](asio::ip::tcp::socket& socket, relay_side& side, bool writing_to_socket) {
        if (!side.buffer) return true;
        if (!side.parked || writing_to_socket) return false;
        side.cooling = true;
        std::error_code ignored;
        socket.cancel(ignored);
        return true;
    };
    const bool client_cooled = cool(client_, client_side_, writing_to_client_);
    const bool server_cooled = cool(server_, server_side_, writing_to_server_);
    return client_cooled && server_cooled;
}

asio::awaitable<void> client_session::pump_client_to_server(bool protocol_aware)
{
    for (;;) {
        auto [ec, n] = co_await read_chunk(client_, client_side_);
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
        writing_to_server_ = true;
        std::tie(ec, n) = co_await asio::async_write(server_, asio::buffer(client_side_.buffer.get(), n), nothrow_awaitable);
        writing_to_server_ = false;
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
            auto [ec, got] = co_await read_chunk(server_, server_side_);
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
        auto [ec, written] = co_await asio::async_write(client_, asio::buffer(server_side_.buffer.get(), n), nothrow_awaitable);
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
    protocol::bytes_view rest(client_side_.buffer.get(), n);
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
    protocol::bytes_view rest(server_side_.buffer.get(), n);
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
        const auto now = clock::now();
        auto deadline = clock::time_point::max();
        auto cause = close_cause::none;
        auto wake = clock::time_point::max(); // earliest of deadline and the end of a lull
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
            if (!cooled_) {
                const auto lull_end = std::max(last_client_rx_, last_server_rx_) + buffer_hold_after_traffic;
                if (now < lull_end) {
                    wake = lull_end;
                } else if (cool_idle_sides()) {
                    cooled_ = true;
                    continue;
                } else {
                    // A write to a slow reader still holds a buffer: try again a lull later.
                    wake = now + buffer_hold_after_traffic;
                }
            }
            break;
        }
        }
        if (now >= deadline) {
            if (cause == close_cause::startup_timeout)
                listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
            finish(cause);
            co_return; // ends serve() through the || in run()
        }
        watchdog_timer_.expires_at(std::min(deadline, wake));
        co_await watchdog_timer_.async_wait(nothrow_awaitable);
    }
}

} // namespace patroxy::proxy
