// Peer name checks for client-side TLS: OpenSSL verifies the name during the handshake once it
// is told what to expect; without this, any certificate from a trusted CA would be accepted.
#include "health/http/peer_name.hpp"

#include <openssl/x509v3.h>

#include <arpa/inet.h>

namespace patroxy::health {

bool expect_peer_name(SSL* ssl, const std::string& host)
{
    unsigned char address[16];
    const bool is_address = inet_pton(AF_INET, host.c_str(), address) == 1 || inet_pton(AF_INET6, host.c_str(), address) == 1;
    if (is_address) {
        // X509_VERIFY_PARAM_set1_ip_asc matches the certificate's IP address SANs.
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) == 1;
    }
    // SNI as libpq sends it (sslsni=1), and the name checked against the certificate's SANs/CN.
    // SSL_ctrl, not the SSL_set_tlsext_host_name macro, whose old-style cast -Werror rejects.
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(host.c_str()));
    return SSL_set1_host(ssl, host.c_str()) == 1;
}

} // namespace patroxy::health
