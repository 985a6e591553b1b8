// The relay: one pump per direction, each reading a chunk, scanning message headers as the bytes
// pass (never buffering a whole message), and writing the chunk on before reading again, so
// neither side is read faster than the other drains (backpressure). A read holds a buffer from
// the worker's pool only while bytes are in flight, so idle sessions own none. The idle
// deadlines are the worker's idle sweep's (deadline_sweeps.cpp): check_deadlines() below.
//
// Everything here is a completion handler, not a coroutine (client_session.hpp says why). Each
// pump's one reference to the session (session_ref) moves from each operation to the next; the
// session ends when both pumps have stopped:
//
//   read_client -> on_client_chunk -> forward_chunk(server_) -> read_client ...
//   read_server -> write_to_client -> forward_chunk(client_) -> read_server ...
//   a pump that stops -> pump_stopped(); the second -> end_relay() -> close_and_report()
#include "proxy/session/client_session.hpp"

#include "proxy/net/eager_write.hpp"
#include "proxy/session/listener_runtime.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/cancel_registry.hpp"
#include "proxy/session/deadline_sweeps.hpp"
#include "proxy/support/log.hpp"

#include <asio/ssl/error.hpp>
#include <asio/write.hpp>

#include <cstring>
#include <new>
#include <utility>

namespace patroxy::proxy {

void client_session::prepare_relay(bool protocol_aware, std::size_t pending_server_bytes)
{
    enter_stage(stage::relaying); // from here kill() ends the session instead of retrying the connect
    relay_aware_ = protocol_aware;
    pending_server_bytes_ = pending_server_bytes;
    last_client_rx_ = clock::now();
    if (pending_server_bytes == 0) last_server_rx_ = last_client_rx_;
}

void client_session::start_relay()
{
    // Bytes the client sent right after its first packet (pipelined with the StartupMessage)
    // are the relay's first client chunk. client_buf_ held the startup packet, for a retried
    // connect; without such bytes it goes back to the pool.
    const std::size_t pending_client_bytes = setup_->client_bytes - setup_->first_packet_length;
    if (pending_client_bytes > 0)
        std::memmove(client_buf_.get(), client_buf_.get() + setup_->first_packet_length, pending_client_bytes);
    else
        client_buf_.reset();
    // The connect stage's deadlines, plan and failure list are of no more use; an idle session
    // keeps nothing it does not need.
    owner_.setup_sessions().erase(*this);
    setup_.reset();
    if (killed_) { // kill() came while the coroutine wound down: nothing is in flight
        end_relay();
        return;
    }
    pumps_running_ = 2;
    watch_idle_deadlines(owner_, env_.timeouts);
    auto self = shared_from_this();
    if (pending_client_bytes > 0) {
        last_client_rx_ = clock::now();
        on_client_chunk(pending_client_bytes, self);
    } else {
        read_client(self);
    }
    if (pending_server_bytes_ > 0)
        write_to_client(std::exchange(pending_server_bytes_, 0), std::move(self));
    else
        read_server(std::move(self));
}

template <typename Handler>
void client_session::read_chunk(tcp_socket& socket, pooled_buffer& buffer, Handler&& handler)
{
    // The read takes a buffer from the pool only when bytes are there and waits without one, and
    // after a read that emptied the socket the next one waits for epoll's edge: an idle session
    // holds no buffer, and a busy one pays no epoll_ctl and no EAGAIN recv() per message.
    auto on_read = [this, &socket, handler = std::forward<Handler>(handler)](std::error_code ec, std::size_t n) mutable {
        const bool from_client = &socket == &client_;
        if (ec) {
            if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof; // a TLS peer gone without close_notify
            read_failed(from_client, ec);
            return;
        }
        (from_client ? last_client_rx_ : last_server_rx_) = clock::now();
        handler(n);
    };
    if (auto* tls = tls_of(socket)) {
        // OpenSSL decrypts into the buffer, so it is taken up front: a TLS side holds it while
        // idle (Asio's SSL stream keeps buffers of its own anyway).
        if (!buffer) buffer = owner_.buffers().acquire();
        tls->async_read_some(asio::buffer(buffer.get(), buffer_size_), std::move(on_read));
        return;
    }
    owner_.reads().async_read_pooled(socket, owner_.buffers(), buffer, 0, std::move(on_read));
}

void client_session::read_client(session_ref self)
{
    read_chunk(client_, client_buf_,
               [this, self = std::move(self)](std::size_t n) mutable { on_client_chunk(n, std::move(self)); });
}

void client_session::on_client_chunk(std::size_t n, session_ref self)
{
    if (relay_aware_) {
        if (const auto error = scan_client_bytes(n)) {
            refuse_client_stream(error);
            pump_stopped();
            return;
        }
    }
    forward_chunk(server_, n, std::move(self));
}

void client_session::read_server(session_ref self)
{
    read_chunk(server_, server_buf_,
               [this, self = std::move(self)](std::size_t n) mutable { write_to_client(n, std::move(self)); });
}

void client_session::write_to_client(std::size_t n, session_ref self)
{
    // The session is ending with an error of patroxy's own: no more server bytes go out, or the
    // error would land in the middle of a message.
    if (killed_ || send_error_at_end_) {
        pump_stopped();
        return;
    }
    // Scanned before it is written: a BackendKeyData is registered before the client can know
    // the key and send a cancel with it.
    if (relay_aware_ && !scan_server_bytes(n)) {
        close_sockets();
        pump_stopped();
        return;
    }
    forward_chunk(client_, n, std::move(self));
}

void client_session::forward_chunk(tcp_socket& to, std::size_t n, session_ref self)
{
    const bool to_client = &to == &client_;
    pooled_buffer& buffer = to_client ? server_buf_ : client_buf_;
    if (to_client) writing_to_client_ = true;
    auto on_written = [this, to_client, &buffer, self = std::move(self)](std::error_code ec, std::size_t written) mutable {
        if (to_client) writing_to_client_ = false;
        if (ec) {
            finish(to_client ? close_cause::client_error : close_cause::server_error,
                   (to_client ? "writing to the client: " : "writing to the server: ") + ec.message());
            close_sockets();
            pump_stopped();
            return;
        }
        (to_client ? bytes_out_ : bytes_in_) += written;
        // At most once a second, so a long COPY shows in the stats as it flows; the time is the
        // read's that brought these bytes, so this costs no clock call.
        const auto read_at = to_client ? last_server_rx_ : last_client_rx_;
        if (read_at - published_at_ >= std::chrono::seconds(1)) {
            published_at_ = read_at;
            publish_bytes();
        }
        // A short chunk emptied the socket: the buffer goes back until bytes come again. After a
        // full one more is likely waiting: keep it.
        if (written < buffer_size_) buffer.reset();
        if (to_client) {
            read_server(std::move(self));
        } else if (client_terminated_) {
            // After a Terminate the client sends nothing more; its close would only cost one
            // more read (and a zero-timeout epoll_wait) to learn.
            pass_client_close_on();
            pump_stopped();
        } else {
            read_client(std::move(self));
        }
    };
    if (auto* tls = tls_of(to)) {
        asio::async_write(*tls, asio::buffer(buffer.get(), n), std::move(on_written));
        return;
    }
    // Usually the socket takes the chunk at once and the pump reads again in this handler.
    write_eagerly(to, asio::buffer(buffer.get(), n), std::move(on_written));
}

void client_session::pump_stopped()
{
    if (--pumps_running_ == 0) end_relay();
}

void client_session::end_relay()
{
    const bool tls_client_open = client_tls_ && client_.is_open();
    if (!send_error_at_end_ && !tls_client_open) {
        close_and_report();
        return;
    }
    // A client that stopped reading gets as long as an idle one (check_deadlines), then the
    // socket is closed and the write ends.
    enter_stage(stage::ending);
    error_sent_ = send_error_at_end_;
    last_client_rx_ = clock::now(); // from here: when the final error's write began
    if (!client_tls_) {
        asio::async_write(client_, asio::buffer(error_out_), [this, self = shared_from_this()](std::error_code, std::size_t) {
            // FIN after the error, so the client reads all of it before the close.
            std::error_code ignored;
            client_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
            close_and_report();
        });
        return;
    }
    // A TLS client is told the end with a close_notify after the last message, as PostgreSQL
    // does: libpq then reports the server's FATAL as the session's end ("SSL connection has been
    // closed unexpectedly"), not a broken connection ("SSL SYSCALL error: EOF detected"). The
    // peer's close_notify is not waited for.
    auto close_tls = [this, self = shared_from_this()](std::error_code, std::size_t) {
        client_tls_->next_layer().stop_reading();
        client_tls_->async_shutdown([this, self](std::error_code) { close_and_report(); });
    };
    if (send_error_at_end_)
        asio::async_write(*client_tls_, asio::buffer(error_out_), std::move(close_tls));
    else
        close_tls(std::error_code{}, 0);
}

void client_session::stop_relay() noexcept
{
    std::error_code ignored;
    server_.close(ignored);
    client_.cancel(ignored);
}

std::error_code client_session::scan_client_bytes(std::size_t n)
{
    protocol::bytes_view rest(client_buf_.get(), n);
    while (!rest.empty()) {
        const auto r = client_scanner_.scan(rest);
        if (r.error) return r.error;
        if (r.has_message && r.message.type == protocol::frontend_type::terminate) client_terminated_ = true;
        if (r.consumed == 0) break; // nothing more to learn from this chunk
        rest = rest.subspan(r.consumed);
    }
    return {};
}

void client_session::refuse_client_stream(std::error_code error)
{
    // The bytes were not forwarded, and the server's stream is of no use once the client's is
    // broken: stop reading it, then tell the client why, if that cannot cut a server message
    // in two on the client's side.
    prepare_error(close_cause::client_protocol_error, "08P01",
                  "invalid message from the client on listener \"" + listener_.cfg.name + "\": " + error.message());
    if (!writing_to_client_ && server_scanner_.at_message_boundary()) {
        send_error_at_end_ = true;
        std::error_code ignored;
        server_.close(ignored); // the server pump stops; end_relay() sends the error
    } else {
        close_sockets();
    }
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
        ready_seen_ = true; // authentication is over: a close from here on is in the data stage
        return;
    }
    default:
        return;
    }
}

void client_session::read_failed(bool from_client, const std::error_code& ec)
{
    on_read_end(from_client, ec);
    pump_stopped();
}

void client_session::on_read_end(bool from_client, const std::error_code& ec)
{
    if (ec == asio::error::operation_aborted) return; // the other pump, a kill or a deadline stopped us
    std::error_code ignored;
    if (ec == asio::error::eof) {
        if (from_client) {
            pass_client_close_on();
        } else {
            // The server is gone; nothing the client sends can be delivered any more. The close
            // sends the client its FIN after whatever was written to it (a shutdown first would
            // add a syscall and change nothing: unread bytes from the client make either an RST).
            // A TLS client's read is only stopped: end_relay() sends its close_notify first.
            finish(close_cause::server_closed);
            if (client_tls_) client_.cancel(ignored);
            else client_.close(ignored);
        }
        return;
    }
    finish(from_client ? close_cause::client_error : close_cause::server_error,
           std::string(from_client ? "reading from the client: " : "reading from the server: ") + ec.message());
    close_sockets();
}

void client_session::pass_client_close_on()
{
    // Half-close: pass the client's FIN on and let the server finish and close.
    finish(close_cause::client_closed);
    std::error_code ignored;
    server_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

void client_session::check_deadlines(clock::time_point now)
{
    if (stage_ == stage::ending) {
        if (now >= last_client_rx_ + env_.timeouts.client_idle) {
            std::error_code ignored;
            client_.close(ignored); // the final error's write ends, and the session with it
        }
        return;
    }
    // Bytes of a burst that ended within the last second reach the stats here at the latest.
    publish_bytes();
    // Before the relay starts, the setup sweep keeps the deadlines (check_setup_deadline).
    if (stage_ != stage::relaying || pumps_running_ == 0 || killed_) return;
    const auto client_deadline = last_client_rx_ + env_.timeouts.client_idle;
    const auto server_deadline = last_server_rx_ + env_.timeouts.server_idle;
    if (now < std::min(client_deadline, server_deadline)) return;
    finish(client_deadline <= server_deadline ? close_cause::client_idle_timeout : close_cause::server_idle_timeout);
    close_sockets();
}

} // namespace patroxy::proxy
