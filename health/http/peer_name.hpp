// Which server a client-side TLS connection must be talking to: the name or address the
// certificate has to carry, and the SNI that tells a shared server which certificate to show.
// Used by the Patroni client here and by proxy/tls for the PostgreSQL server leg.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace patroxy::health {

/// For a client-side connection: the certificate must name `host` (a DNS name or an IP
/// address), and `host` goes out as SNI when it is a name (RFC 6066 allows no address there).
/// Call before the handshake; false when OpenSSL refused the name.
[[nodiscard]] bool expect_peer_name(SSL* ssl, const std::string& host);

} // namespace patroxy::health
