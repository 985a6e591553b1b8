// A session's life cycle: accounting on the way in and out, the overall stage sequence, and the
// ErrorResponses patroxy sends itself.
#include "proxy/session/client_session.hpp"

#include "proxy/net/eager_write.hpp"
#include "proxy/session/listener_runtime.hpp"
#include "proxy/net/worker_pool.hpp"
#include "proxy/routing/cancel_registry.hpp"
#include "proxy/session/deadline_sweeps.hpp"
#include "proxy/session/session_log.hpp"
#include "proxy/support/log.hpp"

#include "protocol/sasl.hpp"

#include <asio/co_spawn.hpp>
#include <asio/ssl/error.hpp>
#include <asio/write.hpp>

#include <sstream>
#include <tuple>
#include <utility>
#include <variant>

namespace patroxy::proxy {
namespace {

/// Message types the relay acts on, per direction.
protocol::message_type_set server_reported_types()
{
    protocol::message_type_set s;
    s.set(static_cast<unsigned char>(protocol::backend_type::backend_key_data));
    s.set(static_cast<unsigned char>(protocol::backend_type::ready_for_query));
    s.set(static_cast<unsigned char>(protocol::backend_type::error_response));
    return s;
}

protocol::message_type_set client_reported_types()
{
    protocol::message_type_set s;
    s.set(static_cast<unsigned char>(protocol::frontend_type::terminate));
    return s;
}

} // namespace

void start_session(tcp_socket client, const asio::ip::tcp::endpoint& peer, listener_runtime& listener,
                   worker& owner, session_env& env)
{
    const auto id = env.next_session_id.fetch_add(1, std::memory_order_relaxed);
    // Counted here, on the accepting thread, so the next accept already sees this worker's load.
    owner.sessions.fetch_add(1, std::memory_order_relaxed);
    // Built on the worker's thread, inside the coroutine: the constructor borrows from the
    // worker's buffer pool and joins its live-session set, which only that thread may touch.
    // The coroutine owns the session through startup and connect; from there the relay's
    // handlers do (client_session.hpp).
    auto serve_client = [](tcp_socket s, asio::ip::tcp::endpoint from, listener_runtime& l, worker& w,
                           session_env& e, std::uint64_t session_id) -> task<void> {
        auto session = std::make_shared<client_session>(std::move(s), from, l, w, e, session_id);
        co_await session->run();
    };
    asio::co_spawn(owner.context(), serve_client(std::move(client), peer, listener, owner, env, id), [id](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log_line(log_level::error) << "session=" << id << " BUG: unhandled exception: " << ex.what();
        }
    });
}

client_session::client_session(tcp_socket client, const asio::ip::tcp::endpoint& peer,
                               listener_runtime& listener, worker& owner, session_env& env, std::uint64_t id)
    : client_(std::move(client)),
      server_(client_.get_executor()),
      setup_(std::make_unique<setup_state>(client_.get_executor())),
      listener_(listener),
      owner_(owner),
      env_(env),
      id_(id),
      peer_(peer),
      client_buf_(owner.buffers().acquire()),
      server_buf_(owner.buffers().acquire()),
      buffer_size_(owner.buffers().buffer_size()),
      client_scanner_(client_reported_types(), env.max_message),
      server_scanner_(server_reported_types(), env.max_message),
      started_(clock::now())
{
    setup_->startup_deadline = started_ + env_.timeouts.startup;
    const auto active = listener_.counters.active.fetch_add(1, std::memory_order_relaxed) + 1;
    raise_to(listener_.counters.active_max, active);
    const auto everywhere = env_.active_sessions.fetch_add(1, std::memory_order_relaxed) + 1;
    const auto global_limit = env_.max_connections.load(std::memory_order_relaxed);
    if (active > listener_.cfg.max_connections)
        over_limit_ = limit_hit::listener;
    else if (global_limit != 0 && everywhere > global_limit)
        over_limit_ = limit_hit::global;
    // The client socket is non-blocking from its accept (nonblocking_sockets.hpp), as the eager
    // writes need (eager_write.hpp); TCP_NODELAY and TCP_INQ come from the listener.
    owner_.live_sessions().push_back(*this);
    owner_.setup_sessions().push_back(*this);
    watch_setup_deadlines(owner_, env_.timeouts);
}

client_session::~client_session()
{
    owner_.live_sessions().erase(*this);
    owner_.setup_sessions().erase(*this);
    publish_bytes(); // before set_member() forgets which server's counters they go to
    account_server();
    set_member(nullptr, 0);
    if (cancel_key_) env_.cancels.remove(cancel_key_->process_id, cancel_key_->secret_key, id_);
    listener_.counters.active.fetch_sub(1, std::memory_order_relaxed);
    env_.active_sessions.fetch_sub(1, std::memory_order_relaxed);
    if (queued_for_.count() > 0) listener_.counters.queue_wait.observe(queued_for_);
    owner_.sessions.fetch_sub(1, std::memory_order_relaxed);
}

void client_session::count_cancel() noexcept
{
    switch (cause_) {
    case close_cause::cancel_forwarded: env_.cancels_forwarded.fetch_add(1, std::memory_order_relaxed); break;
    case close_cause::cancel_unknown_key: env_.cancels_unknown_key.fetch_add(1, std::memory_order_relaxed); break;
    case close_cause::cancel_failed: env_.cancels_failed.fetch_add(1, std::memory_order_relaxed); break;
    case close_cause::cancel_broadcast: env_.cancels_broadcast.fetch_add(1, std::memory_order_relaxed); break;
    default: break;
    }
}

void client_session::publish_bytes() noexcept
{
    const auto in = bytes_in_ - published_in_;
    const auto out = bytes_out_ - published_out_;
    if (in == 0 && out == 0) return;
    published_in_ = bytes_in_;
    published_out_ = bytes_out_;
    listener_.counters.bytes_in.fetch_add(in, std::memory_order_relaxed);
    listener_.counters.bytes_out.fetch_add(out, std::memory_order_relaxed);
    if (!member_ || member_index_ >= listener_.servers.size()) return;
    auto& server = listener_.servers[member_index_];
    server.bytes_in.fetch_add(in, std::memory_order_relaxed);
    server.bytes_out.fetch_add(out, std::memory_order_relaxed);
}

void client_session::account_server() noexcept
{
    if (!member_ || member_index_ >= listener_.servers.size()) return;
    auto& server = listener_.servers[member_index_];
    if (cause_ == close_cause::server_error || cause_ == close_cause::server_protocol_error)
        server.errors_resp.fetch_add(1, std::memory_order_relaxed);
}

task<void> client_session::run()
{
    // Guarded: prefix() builds strings, and a connect-per-transaction load pays them per session.
    if (log_enabled(log_level::debug))
        log_line(log_level::debug) << prefix() << " served by worker=" << owner_.id();
    co_await serve();
    if (stage_ == stage::relaying) // serve() prepared the relay
        start_relay();
    else
        close_and_report();
}

void client_session::close_and_report()
{
    close_sockets();
    count_cancel();
    // Each line costs a few allocations: built only when it will be written.
    if (!cancel_result(cause_).empty())
        log_cancel_line();
    else if (env_.log_sessions.load(std::memory_order_relaxed) && log_enabled(log_level::info))
        log_session_line();
    else if (log_enabled(log_level::debug))
        log_close_detail();
}

void client_session::enter_stage(stage next)
{
    stage_ = next;
    if (!setup_) return; // the relay has started; the worker's idle sweep keeps its deadlines
    // From accept, over every first packet: a client that trickles bytes cannot hold a session.
    setup_->deadline = next == stage::startup ? setup_->startup_deadline : clock::time_point::max();
    setup_->timed_out = false;
}

void client_session::arm_step_deadline()
{
    setup_->deadline = clock::now() + env_.timeouts.connect;
    setup_->timed_out = false;
}

bool client_session::step_timed_out() noexcept
{
    setup_->deadline = clock::time_point::max();
    return std::exchange(setup_->timed_out, false);
}

void client_session::check_setup_deadline(clock::time_point now)
{
    if (!setup_ || now < setup_->deadline) return;
    setup_->timed_out = true;
    // The coroutine waits on the client in startup and on the server while connecting. When
    // its wait has already completed (the completion is queued), the cancel finds nothing and
    // the coroutine goes on: the step was done in time after all. The deadline stays armed
    // until the coroutine has seen it (step_timed_out()), so a wait begun after it passed is
    // cancelled by the next sweep.
    std::error_code ignored;
    (stage_ == stage::startup ? client_ : server_).cancel(ignored);
}

task<void> client_session::serve()
{
    enter_stage(stage::startup);
    // A direct-TLS client (sslnegotiation=direct) opens with a TLS record instead of a packet.
    const bool first_byte_read = co_await buffer_client_bytes(1);
    if (!first_byte_read) co_return;
    if (client_buf_.get()[0] == protocol::tls_handshake_record) {
        const bool over_tls = co_await serve_direct_tls();
        if (!over_tls) co_return;
    }
    // GSSENCRequest, then SSLRequest, then the StartupMessage is the longest legal sequence.
    constexpr int max_first_packets = 3;
    for (int round = 0; round < max_first_packets; ++round) {
        auto packet = co_await read_first_packet();
        if (!packet) co_return;

        if (std::holds_alternative<protocol::cancel_request>(*packet)) {
            // Served even over max_connections, as PostgreSQL does: a cancel frees resources.
            co_await forward_cancel(std::get<protocol::cancel_request>(*packet));
            co_return;
        }
        if (std::holds_alternative<protocol::gssenc_request>(*packet)) {
            co_await write_all(client_, asio::buffer(&protocol::encryption_refused, 1));
            continue;
        }
        if (std::holds_alternative<protocol::ssl_request>(*packet)) {
            if (over_limit_ == limit_hit::none && listener_.cfg.tls == config::tls_mode::passthrough) {
                co_await serve_ssl_passthrough();
                co_return;
            }
            if (listener_.cfg.tls == config::tls_mode::terminate && !client_tls_) {
                // Served over the limit too: the 53300 then goes out inside TLS, as PostgreSQL's.
                const bool handshaken = co_await terminate_ssl_request();
                if (!handshaken) co_return;
                continue;
            }
            co_await write_all(client_, asio::buffer(&protocol::encryption_refused, 1));
            continue;
        }

        remember_startup(std::get<protocol::startup_message>(*packet));
        const bool allowed = co_await allow_plaintext_startup();
        if (!allowed) co_return;
        if (over_limit_ != limit_hit::none) {
            prepare_over_limit_error();
            co_await send_prepared_error();
            co_return;
        }
        const bool connected = co_await connect_server();
        if (!connected) co_return;
        const std::size_t answer = co_await forward_startup_and_peek();
        if (cause_ != close_cause::none) co_return;
        const auto pending = co_await settle_channel_binding(answer);
        if (!pending) co_return;
        prepare_relay(true, *pending);
        co_return;
    }
    listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
    prepare_error(close_cause::bad_startup, "08P01",
                  "invalid startup sequence on listener \"" + listener_.cfg.name +
                      "\": expected a StartupMessage after at most one GSSENCRequest and one SSLRequest");
    co_await send_prepared_error();
}

void client_session::prepare_over_limit_error()
{
    if (over_limit_ == limit_hit::listener) {
        listener_.counters.rejected_limit.fetch_add(1, std::memory_order_relaxed);
        prepare_error(close_cause::too_many_clients, "53300",
                      "sorry, too many clients already: listener \"" + listener_.cfg.name +
                          "\" is at its max_connections (" + std::to_string(listener_.cfg.max_connections) + ")");
        return;
    }
    listener_.counters.rejected_global_limit.fetch_add(1, std::memory_order_relaxed);
    prepare_error(close_cause::too_many_clients, "53300",
                  "sorry, too many clients already: patroxy is at its global max_connections (" +
                      std::to_string(env_.max_connections.load(std::memory_order_relaxed)) +
                      ") across all listeners; refused on listener \"" + listener_.cfg.name + "\"");
}

void client_session::kill(const kill_decision& decision)
{
    if (killed_ || cause_ != close_cause::none) return;
    if (stage_ == stage::startup || stage_ == stage::connecting) {
        // Nothing of this server has reached the client yet: drop the server and let the
        // connect stage try again under the new snapshot instead of failing the client.
        std::error_code ignored;
        server_.close(ignored);
        return;
    }
    killed_ = true;
    killed_by_ = decision.kind;
    // Decided now, while nothing is being written to the client: a 57P01 injected in the middle
    // of a server message would corrupt the client's stream.
    send_error_at_end_ = relay_aware_ && !writing_to_client_ && server_scanner_.at_message_boundary();
    prepare_error(close_cause::killed, "57P01", "terminating connection: " + decision.reason);
    listener_.counters.killed[static_cast<std::size_t>(decision.kind)].fetch_add(1, std::memory_order_relaxed);
    if (member_index_ < listener_.servers.size())
        listener_.servers[member_index_].killed.fetch_add(1, std::memory_order_relaxed);
    // Both pumps stop; the relay ends once they have (or at once, when it has not started yet).
    stop_relay();
}

void client_session::finish(close_cause cause, std::string detail)
{
    if (cause_ != close_cause::none) return; // the first cause is the real one
    cause_ = cause;
    cause_detail_ = std::move(detail);
    close_stage_ = current_close_stage();
}

void client_session::prepare_error(close_cause cause, std::string_view sqlstate, std::string message,
                                   std::string detail, std::string hint)
{
    sqlstate_ = sqlstate;
    error_out_ = protocol::build_error_response(
        protocol::error_fields{"FATAL", std::string(sqlstate), message, std::move(detail), std::move(hint)});
    finish(cause, std::move(message));
}

task<std::error_code> client_session::write_all(tcp_socket& socket, asio::const_buffer buffer)
{
    if (auto* tls = tls_of(socket)) {
        auto [ec, n] = co_await asio::async_write(*tls, buffer, nothrow_awaitable);
        co_return ec;
    }
    std::error_code ec;
    const std::size_t sent = send_now(socket, buffer, ec);
    if (ec || sent == buffer.size()) co_return ec;
    std::size_t n = 0;
    std::tie(ec, n) = co_await asio::async_write(socket, buffer + sent, nothrow_awaitable);
    co_return ec;
}

task<std::tuple<std::error_code, std::size_t>> client_session::read_some(tcp_socket& socket, pooled_buffer& buffer,
                                                                         std::size_t offset)
{
    if (auto* tls = tls_of(socket)) {
        if (!buffer) buffer = owner_.buffers().acquire();
        auto [ec, n] = co_await tls->async_read_some(asio::buffer(buffer.get() + offset, buffer_size_ - offset),
                                                     nothrow_awaitable);
        if (ec == asio::ssl::error::stream_truncated) ec = asio::error::eof; // closed without close_notify
        co_return std::tuple{ec, n};
    }
    co_return co_await owner_.reads().async_read_pooled(socket, owner_.buffers(), buffer, offset, nothrow_awaitable);
}

task<void> client_session::send_prepared_error()
{
    error_sent_ = true;
    co_await write_all(client_, asio::buffer(error_out_));
    // FIN after the error, so the client reads the whole message before seeing the close.
    std::error_code ignored;
    client_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

std::string client_session::prefix() const
{
    std::ostringstream address;
    address << peer_;
    std::string p = "session=" + std::to_string(id_) + " client=" + address.str() + " listener=" + listener_.cfg.name;
    if (member_) p += " backend=" + member_->name;
    if (!user_.empty()) p += " user=" + user_ + " database=" + database_;
    return p;
}

void client_session::close_sockets() noexcept
{
    std::error_code ignored;
    client_.close(ignored);
    server_.close(ignored);
    if (setup_) setup_->queue_timer.cancel();
}

} // namespace patroxy::proxy
