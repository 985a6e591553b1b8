// The blocking TLS test client (tls_client.hpp): OpenSSL on the socket itself, with poll()
// bounding each wait.
#include "tests/support/tls_client.hpp"

#include "tests/support/pg_bytes.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <poll.h>

namespace patroxy::test {
namespace {

using clock = std::chrono::steady_clock;

std::string openssl_error()
{
    char buf[256] = "unknown error";
    if (const unsigned long code = ERR_get_error()) ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

bool wait_fd(int fd, short events, clock::time_point deadline)
{
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    pollfd p{.fd = fd, .events = events, .revents = 0};
    return ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 0))) > 0;
}

/// ALPN wire format: each protocol prefixed by its length.
std::vector<unsigned char> alpn_list(const std::vector<std::string>& protocols)
{
    std::vector<unsigned char> out;
    for (const auto& p : protocols) {
        out.push_back(static_cast<unsigned char>(p.size()));
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

} // namespace

std::unique_ptr<tls_client> tls_client::connect(std::uint16_t port, const tls_client_options& options,
                                                std::string& error)
{
    raw_connection connection(port);
    if (!options.direct) {
        if (!connection.send(pg_bytes::ssl_request())) {
            error = "SSLRequest not sent";
            return nullptr;
        }
        const auto answer = connection.read_exact(1, std::chrono::seconds(5));
        if (!answer || static_cast<char>((*answer)[0]) != 'S') {
            error = answer ? std::string("SSLRequest answered '") + static_cast<char>((*answer)[0]) + "'" : "no answer to SSLRequest";
            return nullptr;
        }
    }
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!options.ca_file.empty()) {
        SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
    if (!options.cert_file.empty()) {
        SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str());
        SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM);
    }
    const auto alpn = alpn_list(options.alpn);
    if (!alpn.empty()) SSL_CTX_set_alpn_protos(ctx, alpn.data(), static_cast<unsigned int>(alpn.size()));
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, connection.fd());
    if (options.resume) SSL_set_session(ssl, options.resume);
    std::unique_ptr<tls_client> client(new tls_client(std::move(connection), ctx, ssl));
    const auto deadline = clock::now() + std::chrono::seconds(5);
    for (;;) {
        const int r = SSL_connect(ssl);
        if (r == 1) break;
        const int e = SSL_get_error(ssl, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
            wait_fd(client->connection_.fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
            continue;
        error = e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN ? "connection closed during the handshake" : openssl_error();
        return nullptr;
    }
    // TLS 1.3 sends its session tickets after the handshake: read them in, so that
    // take_session() has something to resume (SSL_peek returns at once when nothing came).
    return client;
}

tls_client::~tls_client()
{
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
}

bool tls_client::send(std::span<const std::byte> bytes)
{
    while (!bytes.empty()) {
        const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
        if (n <= 0) return false;
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return true;
}

bool tls_client::read_exact(std::span<std::byte> out, clock::time_point deadline)
{
    std::size_t got = 0;
    while (got < out.size()) {
        if (SSL_pending(ssl_) == 0 && !wait_fd(connection_.fd(), POLLIN, deadline)) return false;
        const int n = SSL_read(ssl_, out.data() + got, static_cast<int>(out.size() - got));
        if (n > 0) {
            got += static_cast<std::size_t>(n);
            continue;
        }
        const int e = SSL_get_error(ssl_, n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return false;
    }
    return true;
}

std::optional<backend_message> tls_client::read_message(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::byte header[5];
    if (!read_exact(header, deadline)) return std::nullopt;
    std::uint32_t length = 0;
    for (std::size_t i = 1; i < 5; ++i) length = (length << 8) | std::to_integer<std::uint32_t>(header[i]);
    if (length < 4 || length > (64u << 20)) return std::nullopt;
    backend_message m{static_cast<char>(header[0]), std::vector<std::byte>(length - 4)};
    if (!read_exact(m.body, deadline)) return std::nullopt;
    return m;
}

std::vector<backend_message> tls_client::startup(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::vector<backend_message> messages;
    if (!send(pg_bytes::startup({{"user", "postgres"}, {"database", "postgres"}}))) return messages;
    for (;;) {
        auto m = read_message(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()));
        if (!m) return {};
        const char type = m->type;
        messages.push_back(std::move(*m));
        if (type == 'Z' || type == 'E') return messages;
    }
}

bool tls_client::closed_within(std::chrono::milliseconds timeout)
{
    const auto deadline = clock::now() + timeout;
    std::byte sink[256];
    for (;;) {
        if (SSL_pending(ssl_) == 0 && !wait_fd(connection_.fd(), POLLIN, deadline)) return false;
        const int n = SSL_read(ssl_, sink, sizeof sink);
        if (n > 0) continue;
        const int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) continue;
        return true;
    }
}

std::string tls_client::alpn() const
{
    const unsigned char* data = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_, &data, &length);
    return {reinterpret_cast<const char*>(data), length};
}

std::string tls_client::peer_subject() const
{
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return {};
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    X509_free(cert);
    return buf;
}

} // namespace patroxy::test
