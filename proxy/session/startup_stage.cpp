// The first packets of a connection: reading them under the startup deadline, answering
// GSSENCRequest/SSLRequest, forwarding CancelRequests to the server that owns the key.
#include "proxy/session/client_session.hpp"

#include "protocol/errors.hpp"
#include "proxy/session/listener_runtime.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/cancel_registry.hpp"
#include "proxy/support/log.hpp"

#include <asio/write.hpp>

#include <cstring>

namespace patroxy::proxy {

task<bool> client_session::buffer_client_bytes(std::size_t wanted)
{
    // Each read takes what the socket has, up to the buffer's end: a whole StartupMessage
    // usually comes in one. A read that empties the socket lets the relay's first read wait for
    // epoll instead of trying a recv() that could only answer EAGAIN (drained_reads.hpp).
    //
    // The first read is tried here, outside the event loop: the packet is usually there by the
    // time the connection is accepted, and a read that completes at once inside Asio goes
    // through the scheduler's queue, which polls epoll (a zero-timeout epoll_wait) before the
    // coroutine resumes.
    auto& setup = *setup_;
    while (setup.client_bytes < wanted) {
        std::error_code ec;
        std::size_t n = 0;
        if (client_tls_) {
            if (!setup.timed_out) std::tie(ec, n) = co_await read_some(client_, client_buf_, setup.client_bytes);
        } else if (!setup.timed_out) {
            n = owner_.reads().read_now(
                client_, asio::buffer(client_buf_.get() + setup.client_bytes, buffer_size_ - setup.client_bytes), ec);
            if (ec == asio::error::would_block)
                std::tie(ec, n) = co_await owner_.reads().async_read_pooled(client_, owner_.buffers(), client_buf_,
                                                                             setup.client_bytes, nothrow_awaitable);
        }
        if (setup.timed_out) { // the setup sweep cancelled the read, or the deadline passed anyway
            listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
            finish(close_cause::startup_timeout);
            co_return false;
        }
        if (ec) {
            // A client that connects and leaves (port scanner, health check) is not an error.
            finish(ec == asio::error::eof && setup.client_bytes < 4 ? close_cause::client_closed
                                                                     : close_cause::client_error,
                   (setup.client_bytes < 4 ? "before a complete startup packet: " : "in the middle of the startup packet: ") +
                       ec.message());
            co_return false;
        }
        setup.client_bytes += n;
    }
    co_return true;
}

void client_session::consume_first_packet()
{
    auto& setup = *setup_;
    const auto rest = setup.client_bytes - setup.first_packet_length;
    if (rest > 0) std::memmove(client_buf_.get(), client_buf_.get() + setup.first_packet_length, rest);
    setup.client_bytes = rest;
    setup.first_packet_length = 0;
}

task<std::optional<protocol::first_packet>> client_session::read_first_packet()
{
    using protocol::bytes_view;
    consume_first_packet(); // the one before, if any
    // Awaited into a named local before the test, as everywhere here (connect_stage.cpp says why).
    const bool header_read = co_await buffer_client_bytes(4);
    if (!header_read) co_return std::nullopt;
    const std::uint32_t length = protocol::read_u32(bytes_view(client_buf_.get(), 4));
    if (auto error = protocol::check_startup_length(length)) {
        listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
        prepare_error(close_cause::bad_startup, "08P01",
                      "invalid startup packet on listener \"" + listener_.cfg.name + "\": length " +
                          std::to_string(length) + " is outside " + std::to_string(protocol::startup_min_length) +
                          ".." + std::to_string(protocol::startup_max_length));
        co_await send_prepared_error();
        co_return std::nullopt;
    }
    const bool packet_read = co_await buffer_client_bytes(length);
    if (!packet_read) co_return std::nullopt;
    auto decoded = protocol::decode_first_packet(bytes_view(client_buf_.get(), length));
    if (decoded.error) {
        listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
        // PostgreSQL answers an unsupported protocol version with feature_not_supported.
        const bool unsupported = decoded.error == protocol::protocol_errc::unsupported_protocol_version;
        const std::uint32_t version = protocol::read_u32(bytes_view(client_buf_.get() + 4, 4));
        std::string message = "invalid startup packet on listener \"" + listener_.cfg.name + "\": " +
                              decoded.error.message();
        if (unsupported)
            message = "unsupported frontend protocol " + std::to_string(version >> 16) + "." +
                      std::to_string(version & 0xffff) + " on listener \"" + listener_.cfg.name +
                      "\": patroxy and PostgreSQL support protocol 3";
        prepare_error(close_cause::bad_startup, unsupported ? "0A000" : "08P01", std::move(message));
        co_await send_prepared_error();
        co_return std::nullopt;
    }
    setup_->first_packet_length = length;
    co_return std::move(decoded.packet);
}

void client_session::remember_startup(const protocol::startup_message& startup)
{
    user_ = startup.user();
    database_ = startup.database();
    application_name_ = startup.application_name();
}

task<void> client_session::forward_cancel(const protocol::cancel_request& request)
{
    const auto target = env_.cancels.find(request.process_id, request.secret_key);
    if (!target) {
        if (listener_.cfg.tls == config::tls_mode::passthrough) {
            co_await broadcast_cancel(request);
            co_return;
        }
        // PostgreSQL ignores unknown keys silently, so a guesser learns nothing; so do we.
        finish(close_cause::cancel_unknown_key, "pid " + std::to_string(request.process_id));
        co_return;
    }
    enter_stage(stage::connecting);
    const auto failure = co_await deliver_cancel(target->endpoint);
    if (!failure.empty()) {
        finish(close_cause::cancel_failed, target->member + ": " + failure);
        co_return;
    }
    finish(close_cause::cancel_forwarded,
           "pid " + std::to_string(request.process_id) + " on " + target->member + " (session " +
               std::to_string(target->session_id) + ")");
}

task<void> client_session::broadcast_cancel(const protocol::cancel_request& request)
{
    // An opaque session's BackendKeyData went by encrypted, so its key is unknown; the cancel
    // goes to every server of this listener that holds such a session now. PostgreSQL acts only
    // on the backend whose pid and secret both match, so the others ignore it.
    const auto snapshot = owner_.snapshot();
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> targets;
    if (snapshot)
        for (std::size_t i = 0; i < snapshot->members.size() && i < listener_.servers.size(); ++i)
            if (listener_.servers[i].opaque_live.load(std::memory_order_relaxed) > 0)
                targets.emplace_back(snapshot->members[i].name, snapshot->members[i].endpoint);
    if (targets.empty()) {
        finish(close_cause::cancel_unknown_key, "pid " + std::to_string(request.process_id));
        co_return;
    }
    enter_stage(stage::connecting);
    std::string delivered;
    std::string failed;
    for (const auto& [name, endpoint] : targets) {
        const auto failure = co_await deliver_cancel(endpoint);
        auto& list = failure.empty() ? delivered : failed;
        list += (list.empty() ? "" : ", ") + name + (failure.empty() ? "" : " (" + failure + ")");
    }
    if (delivered.empty()) {
        finish(close_cause::cancel_failed, failed);
        co_return;
    }
    finish(close_cause::cancel_broadcast, "pid " + std::to_string(request.process_id) + " to " + delivered +
                                              (failed.empty() ? "" : "; not delivered to " + failed));
}

task<std::string> client_session::deliver_cancel(const asio::ip::tcp::endpoint& endpoint)
{
    // A cancel goes in plaintext even where the session's server leg is TLS, as libpq sends
    // it: it carries only the key, and PostgreSQL reads it before any authentication.
    std::error_code ignored;
    if (auto ec = co_await connect_with_timeout(endpoint)) co_return ec == asio::error::timed_out ? "timed out" : ec.message();
    arm_step_deadline(); // the write, and the wait for the server's close below
    auto ec = co_await write_all(server_, asio::buffer(client_buf_.get(), setup_->first_packet_length));
    if (ec) co_return setup_->timed_out ? std::string("timed out") : ec.message();
    // Half-close and let the server end it, as a client's own cancel connection does.
    server_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    if (!server_buf_) server_buf_ = owner_.buffers().acquire();
    std::size_t n = 0;
    std::tie(ec, n) = co_await server_.async_read_some(asio::buffer(server_buf_.get(), buffer_size_), nothrow_awaitable);
    (void)step_timed_out(); // a server slow to close costs no more than the connect timeout
    server_.close(ignored);
    co_return std::string{};
}

task<void> client_session::serve_ssl_passthrough()
{
    // The backend is chosen now: the TLS session, if any, is between the client and that server.
    // Until it answers, nothing of it has reached the client, so a failure moves on to another
    // member (or waits for one) exactly as a failed connect does.
    setup_->client_negotiates_tls = true;
    bool connected = co_await connect_server();
    std::error_code ec;
    std::size_t n = 0;
    while (connected) {
        std::tie(ec, n) = co_await send_first_packet_and_read_answer();
        if (!ec) break;
        note_failure(*member_, member_index_, "failed during SSL negotiation: " + ec.message());
        set_member(nullptr, 0);
        connected = co_await find_server();
    }
    if (!connected) co_return; // find_server() has answered 57P03
    // One byte, 'S' or 'N'; an old server may send a whole ErrorResponse instead.
    ec = co_await write_all(client_, asio::buffer(server_buf_.get(), n));
    if (ec) {
        finish(close_cause::client_error, ec.message());
        co_return;
    }
    if (server_buf_.get()[0] == protocol::encryption_accepted) {
        // From here on the bytes are TLS records: relay them without looking inside.
        track_server_tls(true, true);
        prepare_relay(false, 0);
        co_return;
    }
    if (server_buf_.get()[0] != protocol::encryption_refused) {
        // Not S or N: an old server's ErrorResponse, say. Pass it on and stay out of the way.
        prepare_relay(false, 0);
        co_return;
    }
    // The server declined: the client goes on in plaintext with its StartupMessage.
    enter_stage(stage::startup);
    auto packet = co_await read_first_packet();
    if (!packet) co_return;
    if (!std::holds_alternative<protocol::startup_message>(*packet)) {
        listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
        prepare_error(close_cause::bad_startup, "08P01",
                      "invalid startup sequence on listener \"" + listener_.cfg.name +
                          "\": expected a StartupMessage after the SSL answer");
        co_await send_prepared_error();
        co_return;
    }
    remember_startup(std::get<protocol::startup_message>(*packet));
    enter_stage(stage::connecting); // the startup deadline is met; the queue deadline rules now
    const std::size_t pending = co_await forward_startup_and_peek();
    if (cause_ != close_cause::none) co_return;
    prepare_relay(true, pending);
}

} // namespace patroxy::proxy
