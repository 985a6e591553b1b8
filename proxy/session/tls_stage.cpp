// TLS on either leg of a session. On a terminating listener patroxy is the client's TLS server
// (after an SSLRequest, or at once for a direct-TLS client); under server_tls it is the server's
// TLS client, before the startup packet goes out. Either way every message stays visible to the
// relay: cancel keys, ReadyForQuery, a 57P01 at a message boundary, byte counts.
#include "proxy/session/client_session.hpp"

#include "proxy/session/listener_runtime.hpp"
#include "proxy/support/log.hpp"

#include "protocol/sasl.hpp"

#include <asio/ssl/error.hpp>

#include <cstring>

namespace patroxy::proxy {
namespace {

constexpr std::string_view alpn_postgresql = "postgresql";

/// The protocol ALPN settled on, "" when none.
std::string_view selected_alpn(const SSL* ssl)
{
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl, &data, &length);
    return {reinterpret_cast<const char*>(data), length};
}

} // namespace

const listener_tls& client_session::tls_contexts()
{
    // Read once per session: a reload swaps the listener's contexts, never this session's.
    if (!tls_contexts_) tls_contexts_ = listener_.tls.load();
    if (!tls_contexts_) tls_contexts_ = std::make_shared<const listener_tls>();
    return *tls_contexts_;
}

tls::tls_stream* client_session::tls_of(const tcp_socket& socket) const noexcept
{
    return &socket == &client_ ? client_tls_.get() : server_tls_.get();
}

void client_session::count_handshake(tls_leg leg, std::optional<tls::handshake_failure> failure) noexcept
{
    const auto l = static_cast<std::size_t>(leg);
    if (!failure)
        listener_.counters.tls_handshakes[l].fetch_add(1, std::memory_order_relaxed);
    else
        listener_.counters.tls_failures[l][static_cast<std::size_t>(*failure)].fetch_add(1, std::memory_order_relaxed);
}

void client_session::track_server_tls(bool on, bool opaque) noexcept
{
    if (member_index_ >= listener_.servers.size()) return;
    auto& server = listener_.servers[member_index_];
    if (on != server_leg_tracked_) {
        server_leg_tracked_ = on;
        if (on) server.tls_live.fetch_add(1, std::memory_order_relaxed);
        else server.tls_live.fetch_sub(1, std::memory_order_relaxed);
    }
    const bool now_opaque = on && opaque;
    if (now_opaque != opaque_tracked_) {
        opaque_tracked_ = now_opaque;
        if (now_opaque) server.opaque_live.fetch_add(1, std::memory_order_relaxed);
        else server.opaque_live.fetch_sub(1, std::memory_order_relaxed);
    }
}

task<bool> client_session::accept_client_tls(std::string replay, bool direct)
{
    const auto& contexts = tls_contexts();
    if (!contexts.client_leg) { // the listener's certificate could not be loaded: logged at start
        finish(close_cause::client_tls_failed, "the listener has no usable certificate");
        co_return false;
    }
    client_tls_ = std::make_unique<tls::tls_stream>(tls::replay_socket(client_, std::move(replay)), *contexts.client_leg);
    auto [ec] = co_await client_tls_->async_handshake(asio::ssl::stream_base::server, nothrow_awaitable);
    // The startup deadline rules the handshake too: the setup sweep cancels the socket.
    if (setup_->timed_out) ec = asio::error::timed_out;
    const SSL* ssl = client_tls_->native_handle();
    std::optional<tls::handshake_failure> failure;
    std::string why;
    if (ec) {
        failure = tls::classify(ec, ssl);
        why = tls::describe(ec, ssl);
    } else if (direct && selected_alpn(ssl) != alpn_postgresql) {
        // PostgreSQL 17 requires ALPN on direct TLS, so that a TLS connection meant for another
        // protocol is never taken for PostgreSQL; a client that offers another one is refused
        // during the handshake already (tls_context.cpp), one that offers none here.
        failure = tls::handshake_failure::no_alpn;
        why = "direct TLS without ALPN \"postgresql\"";
    }
    count_handshake(tls_leg::client, failure);
    if (!failure) co_return true;
    if (failure == tls::handshake_failure::timeout) listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
    finish(close_cause::client_tls_failed, std::string(tls::to_string(*failure)) + ": " + why);
    co_return false;
}

task<bool> client_session::serve_direct_tls()
{
    if (listener_.cfg.tls != config::tls_mode::terminate) {
        // The servers behind a passthrough listener may predate direct TLS (PostgreSQL 17), and
        // patroxy cannot tell before relaying; a client that cannot fall back is better refused
        // at once, with the reason in the log, than left to a server that does not understand it.
        listener_.counters.rejected_direct_tls.fetch_add(1, std::memory_order_relaxed);
        finish(close_cause::direct_tls_refused,
               "the client opened with a TLS handshake (sslnegotiation=direct); listener \"" + listener_.cfg.name +
                   "\" has tls: " + std::string(config::to_string(listener_.cfg.tls)) +
                   ", only a terminating listener can take it (use sslnegotiation=postgres)");
        co_return false;
    }
    // The ClientHello is in client_buf_ already: the handshake reads it first.
    std::string hello(reinterpret_cast<const char*>(client_buf_.get()), setup_->client_bytes);
    setup_->client_bytes = 0;
    co_return co_await accept_client_tls(std::move(hello), true);
}

task<bool> client_session::terminate_ssl_request()
{
    // Bytes behind the SSLRequest were sent before encryption began: PostgreSQL refuses them
    // (CVE-2021-23214), and so does patroxy rather than take them as part of the handshake.
    if (setup_->client_bytes > setup_->first_packet_length) {
        listener_.counters.rejected_startup.fetch_add(1, std::memory_order_relaxed);
        prepare_error(close_cause::bad_startup, "08P01", "received unencrypted data after SSL request");
        co_await send_prepared_error();
        co_return false;
    }
    consume_first_packet();
    const auto ec = co_await write_all(client_, asio::buffer(&protocol::encryption_accepted, 1));
    if (ec) {
        finish(close_cause::client_error, ec.message());
        co_return false;
    }
    co_return co_await accept_client_tls({}, false);
}

task<bool> client_session::allow_plaintext_startup()
{
    if (client_tls_ || listener_.cfg.tls != config::tls_mode::terminate ||
        listener_.cfg.client_tls != config::client_tls_mode::require)
        co_return true;
    listener_.counters.rejected_plaintext.fetch_add(1, std::memory_order_relaxed);
    // PostgreSQL's hostssl answers a plaintext client with 28000 (invalid_authorization_specification).
    prepare_error(close_cause::plaintext_refused, "28000",
                  "listener \"" + listener_.cfg.name + "\" requires TLS: connect with sslmode=require or stronger",
                  "The listener has client_tls: require; this connection did not ask for TLS.");
    co_await send_prepared_error();
    co_return false;
}

task<std::string> client_session::start_server_tls(const health::member_view& member)
{
    server_tls_.reset();
    const auto mode = listener_.cfg.server_tls;
    if (mode == config::server_tls_mode::disable || setup_->client_negotiates_tls || setup_->plaintext_server_leg)
        co_return std::string{};
    const auto& contexts = tls_contexts();
    if (!contexts.server_leg) co_return std::string("no usable TLS context for server_tls (logged at start)");

    arm_step_deadline();
    static constexpr std::byte ssl_request[] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{8},
                                                std::byte{0x04}, std::byte{0xd2}, std::byte{0x16}, std::byte{0x2f}};
    auto ec = co_await write_all(server_, asio::buffer(ssl_request));
    std::size_t n = 0;
    if (!ec) std::tie(ec, n) = co_await read_some(server_, server_buf_, 0);
    if (step_timed_out()) co_return std::string("did not answer the SSLRequest within the connect timeout");
    if (ec) co_return "closed during the SSLRequest: " + ec.message();
    const std::byte answer = server_buf_.get()[0];
    if (answer == protocol::encryption_refused && n == 1) {
        if (mode == config::server_tls_mode::prefer) co_return std::string{}; // plaintext, as libpq's prefer
        co_return "does not accept TLS, and the listener has server_tls: " + std::string(config::to_string(mode));
    }
    // Bytes after the 'S' would have been sent before any encryption (CVE-2021-23222).
    if (answer != protocol::encryption_accepted || n != 1)
        co_return std::string("answered the SSLRequest with neither 'S' nor 'N'");

    server_tls_ = std::make_unique<tls::tls_stream>(tls::replay_socket(server_, {}), *contexts.server_leg);
    if (mode == config::server_tls_mode::verify_full) {
        const auto& expected = listener_.cfg.tls_options.server_name.empty() ? member.host : listener_.cfg.tls_options.server_name;
        if (!tls::expect_peer_name(server_tls_->native_handle(), expected))
            co_return "cannot check the certificate against the name \"" + expected + "\"";
    }
    arm_step_deadline();
    std::tie(ec) = co_await server_tls_->async_handshake(asio::ssl::stream_base::client, nothrow_awaitable);
    if (step_timed_out() && ec) ec = asio::error::timed_out;
    count_handshake(tls_leg::server, ec ? std::optional(tls::classify(ec, server_tls_->native_handle())) : std::nullopt);
    if (ec) {
        const auto text = "TLS handshake failed: " + tls::describe(ec, server_tls_->native_handle());
        server_tls_.reset();
        co_return text;
    }
    co_return std::string{};
}

task<std::size_t> client_session::drop_channel_binding(std::size_t answer_bytes)
{
    if (!server_tls_) co_return answer_bytes; // a server offers SCRAM-SHA-256-PLUS only over TLS
    // AuthenticationSASL is small and comes whole in practice; a server that splits it is read
    // on until it is whole (bounded by the buffer and the connect deadline).
    while (protocol::starts_incomplete_auth_sasl(protocol::bytes_view(server_buf_.get(), answer_bytes)) &&
           answer_bytes < buffer_size_) {
        arm_step_deadline();
        auto [ec, n] = co_await read_some(server_, server_buf_, answer_bytes);
        if (step_timed_out() || ec) break; // the relay will see the same end of the stream
        answer_bytes += n;
    }
    co_return protocol::drop_channel_binding(std::span<std::byte>(server_buf_.get(), answer_bytes));
}

} // namespace patroxy::proxy

namespace patroxy::proxy {

task<std::optional<std::size_t>> client_session::settle_channel_binding(std::size_t answer_bytes)
{
    // A TLS client with channel_binding=prefer (libpq's default) that is offered no PLUS
    // mechanism says 'y' ("I could bind, I think you cannot"), and a server whose own leg is TLS
    // takes that for a downgrade attack and refuses. The binding cannot span patroxy either way,
    // so under server_tls: prefer such a client is authenticated over a plaintext leg to the same
    // server instead. Only the first SASL message decides, so it is read here, before the relay.
    auto& setup = *setup_;
    const auto at = setup.client_bytes;
    if (!server_tls_ || !client_tls_ || at != setup.first_packet_length ||
        !protocol::starts_with_auth_sasl(protocol::bytes_view(server_buf_.get(), answer_bytes)))
        co_return answer_bytes;
    auto ec = co_await write_all(client_, asio::buffer(server_buf_.get(), answer_bytes));
    if (ec) {
        finish(close_cause::client_error, "writing to the client: " + ec.message());
        co_return std::nullopt;
    }
    bytes_out_ += answer_bytes;
    enter_stage(stage::startup); // the client's answer is due within timeouts.startup of its accept
    bool read = co_await buffer_client_bytes(at + 5);
    if (!read) co_return std::nullopt;
    const std::uint32_t length = protocol::read_u32(protocol::bytes_view(client_buf_.get() + at + 1, 4));
    if (length >= 4 && length < buffer_size_ - at) {
        read = co_await buffer_client_bytes(at + 1 + length);
        if (!read) co_return std::nullopt;
    }
    enter_stage(stage::connecting);
    const auto flag = protocol::scram_binding_flag(protocol::bytes_view(client_buf_.get() + at, setup.client_bytes - at));
    if (flag != 'y') co_return 0; // the client's answer waits in client_buf_ for the relay
    if (listener_.cfg.server_tls != config::server_tls_mode::prefer) {
        prepare_error(close_cause::client_protocol_error, "28000",
                      "SCRAM channel binding cannot pass through listener \"" + listener_.cfg.name + "\"",
                      "The server leg is TLS (server_tls: " + std::string(config::to_string(listener_.cfg.server_tls)) +
                          "), so the server expects a binding, and a binding to patroxy's certificate cannot reach it.",
                      "Connect with channel_binding=disable, or use server_tls: prefer on this listener, or tls: "
                      "passthrough to keep channel binding end to end.");
        co_await send_prepared_error();
        co_return std::nullopt;
    }
    log_line(log_level::debug) << prefix() << " SCRAM with channel_binding=prefer: authenticating over a plaintext server leg";
    setup.plaintext_server_leg = true;
    std::string failure;
    if (auto connect_error = co_await connect_with_timeout(member_->endpoint)) {
        failure = connect_error.message();
    } else {
        track_server_tls(false, false);
        server_tls_.reset();
        std::size_t n = 0;
        std::tie(ec, n) = co_await send_first_packet_and_read_answer();
        if (ec) failure = ec.message();
        else if (!protocol::starts_with_auth_sasl(protocol::bytes_view(server_buf_.get(), n)))
            failure = "the server did not ask for SASL again";
    }
    if (!failure.empty()) {
        note_failure(*member_, member_index_, "reconnecting in plaintext for SCRAM: " + failure);
        prepare_error(close_cause::server_error, "08006",
                      "listener \"" + listener_.cfg.name + "\" lost server " + member_->name + " during authentication",
                      failure);
        co_await send_prepared_error();
        co_return std::nullopt;
    }
    // The server's new AuthenticationSASL offers what the client saw already: it is dropped.
    co_return 0;
}

} // namespace patroxy::proxy
