// Why a session ended: exactly one cause per session (the first one recorded wins), which gives
// one log line and, later, one counter increment. Side + cause, like Odyssey's OD_ECLIENT_READ.
#pragma once

#include <string_view>

namespace patroxy::proxy {

enum class close_cause {
    none,                  ///< still open
    client_closed,         ///< the client closed (Terminate or EOF) and the server followed
    server_closed,         ///< the server closed the connection
    client_error,          ///< reading from / writing to the client failed (reset, broken pipe)
    server_error,          ///< reading from / writing to the server failed
    client_protocol_error, ///< the client sent a malformed message
    server_protocol_error, ///< the server sent a malformed message
    bad_startup,           ///< malformed first packet, answered 08P01 (or 0A000 for old protocols)
    startup_timeout,       ///< no complete startup packet within timeouts.startup
    too_many_clients,      ///< over the listener's max_connections, answered 53300
    no_server,             ///< no server could be reached, answered 57P03
    client_idle_timeout,   ///< nothing from the client for timeouts.client_idle
    server_idle_timeout,   ///< nothing from the server for timeouts.server_idle
    cancel_forwarded,      ///< a CancelRequest, forwarded to the server owning the key
    cancel_unknown_key,    ///< a CancelRequest for a key no session holds; dropped
    cancel_failed,         ///< a CancelRequest whose server could not be reached
    cancel_broadcast,      ///< a CancelRequest with a key only an opaque TLS session can hold: sent to each server holding one
    client_tls_failed,     ///< the client's TLS handshake failed (tls: terminate)
    plaintext_refused,     ///< a plaintext startup on a client_tls: require listener, answered 28000
    direct_tls_refused,    ///< a direct-TLS client on a listener that cannot take it
    shutdown,              ///< patroxy is stopping
    killed,                ///< its member left the listener's eligible set (role lost, marked down)
};

constexpr std::string_view to_string(close_cause c) noexcept
{
    switch (c) {
    case close_cause::none: return "open";
    case close_cause::client_closed: return "client closed";
    case close_cause::server_closed: return "server closed";
    case close_cause::client_error: return "client connection error";
    case close_cause::server_error: return "server connection error";
    case close_cause::client_protocol_error: return "client protocol error";
    case close_cause::server_protocol_error: return "server protocol error";
    case close_cause::bad_startup: return "bad startup packet";
    case close_cause::startup_timeout: return "startup timeout";
    case close_cause::too_many_clients: return "too many clients";
    case close_cause::no_server: return "no server available";
    case close_cause::client_idle_timeout: return "client idle timeout";
    case close_cause::server_idle_timeout: return "server idle timeout";
    case close_cause::cancel_forwarded: return "cancel request forwarded";
    case close_cause::cancel_unknown_key: return "cancel request with unknown key dropped";
    case close_cause::cancel_failed: return "cancel request could not be delivered";
    case close_cause::cancel_broadcast: return "cancel request sent to every server holding an opaque TLS session";
    case close_cause::client_tls_failed: return "client TLS handshake failed";
    case close_cause::plaintext_refused: return "plaintext refused (client_tls: require)";
    case close_cause::direct_tls_refused: return "direct TLS refused";
    case close_cause::shutdown: return "shutdown";
    case close_cause::killed: return "killed";
    }
    return "unknown";
}

} // namespace patroxy::proxy
