// OpenSSL contexts built from the config's TLS settings, one per use: the server side of a
// terminating listener and of the stats listener, the client side towards PostgreSQL servers
// and towards the Patroni API. Built at start, on `patroxy -c` and on SIGHUP; a connection keeps
// the context it started with (OpenSSL counts the references), so a reload never disturbs it.
#pragma once

#include "config/config.hpp"
#include "health/http/peer_name.hpp"

#include <asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::proxy::tls {

using context_ptr = std::shared_ptr<asio::ssl::context>;

/// Which protocol a server context speaks, for ALPN.
enum class server_protocol {
    postgresql, ///< ALPN "postgresql" (PostgreSQL 17); a client that offers only others is refused
    http,       ///< the stats listener: no ALPN
};

/// The server side of a TLS connection: the certificate chain and key, the client CA and
/// verification, the minimum version, the ciphers, and session tickets with a key that rotates
/// every ticket_lifetime. nullptr, and `error` naming the file and OpenSSL's reason, on failure.
[[nodiscard]] context_ptr make_server_context(const config::tls_settings& settings, server_protocol protocol,
                                              std::string& error);

/// The client side towards PostgreSQL servers under `mode` (which decides what is verified; the
/// expected name is set per connection by expect_peer_name()). nullptr with `error` on failure.
[[nodiscard]] context_ptr make_server_leg_context(const config::tls_settings& settings, config::server_tls_mode mode,
                                                  std::string& error);

/// The client side towards https:// Patroni APIs: api_ca (or the system's trust store), the
/// optional client certificate, and the peer verified (its name per connection).
[[nodiscard]] context_ptr make_api_context(const config::tls_settings& settings, std::string& error);

/// For a client-side connection: the certificate must name `host` (a DNS name or an IP address),
/// and `host` goes out as SNI when it is a name. Call before the handshake. It lives in health,
/// whose Patroni client checks https:// APIs the same way.
using health::expect_peer_name;

/// Builds every context `cfg` needs, without keeping them: what `patroxy -c` and a reload check
/// before accepting a config. Each problem is one line in `errors` ("/listeners/0/tls: ...").
void check_material(const config::config& cfg, std::vector<std::string>& errors);

/// OpenSSL's queued errors as one line (and the queue emptied), for logs.
[[nodiscard]] std::string openssl_errors();

} // namespace patroxy::proxy::tls
