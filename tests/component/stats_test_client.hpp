// The stats server's component tests' side of the wire: a real http_server on 127.0.0.1:0 with its
// io_context on a thread, and a blocking loopback client that parses just enough HTTP/1.1 to check
// it, over plain TCP or over TLS (OpenSSL on a non-blocking socket, so every wait has a deadline).
// Every byte on the wire is the test's own.
#pragma once

#include "proxy/stats/http_server.hpp"

#include <asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace patroxy::test {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

inline std::chrono::milliseconds since(clock_type::time_point start)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - start);
}

/// A real server on 127.0.0.1:<ephemeral>, its io_context running on its own thread. `configure`
/// runs after listen() and before start() (for use_tls()).
struct running_server {
    running_server(proxy::stats::http_server::handler handle, proxy::stats::http_server_limits limits,
                   std::optional<proxy::stats::basic_credentials> auth,
                   const std::function<void(proxy::stats::http_server&)>& configure = {})
        : server(io.get_executor(), limits, std::move(auth), std::move(handle))
    {
        const auto ec = server.listen({asio::ip::make_address("127.0.0.1"), 0});
        REQUIRE_FALSE(ec);
        port = server.local_endpoint().port();
        REQUIRE(port != 0);
        if (configure) configure(server);
        server.start();
        thread = std::thread([this] { io.run(); });
    }
    running_server(const running_server&) = delete;
    running_server& operator=(const running_server&) = delete;
    ~running_server()
    {
        server.stop();
        thread.join(); // returns only if stop() ended every coroutine of the server
    }

    asio::io_context io;
    proxy::stats::http_server server;
    std::uint16_t port = 0;
    std::thread thread;
};

struct response {
    unsigned status = 0;
    std::vector<std::pair<std::string, std::string>> headers; ///< names lower-cased
    std::string body;

    [[nodiscard]] std::optional<std::string> header(const std::string& name) const
    {
        for (const auto& [n, v] : headers)
            if (n == name) return v;
        return std::nullopt;
    }
};

/// A blocking TCP socket connected to 127.0.0.1:`port`; -1 when the connect fails.
inline int connect_loopback(std::uint16_t port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) return fd;
    ::close(fd);
    return -1;
}

/// A TLS client context: trusts `ca`, verifies the server, and presents `cert`/`key` when given.
inline std::shared_ptr<SSL_CTX> client_tls_context(const std::string& ca, const std::string& cert = {},
                                                   const std::string& key = {})
{
    std::shared_ptr<SSL_CTX> context(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    REQUIRE(context);
    REQUIRE(SSL_CTX_load_verify_locations(context.get(), ca.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    if (!cert.empty()) {
        REQUIRE(SSL_CTX_use_certificate_chain_file(context.get(), cert.c_str()) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey_file(context.get(), key.c_str(), SSL_FILETYPE_PEM) == 1);
    }
    return context;
}

/// A loopback client of the stats server that parses just enough HTTP/1.1 to check it.
class raw_client {
public:
    /// Plain TCP, connected.
    explicit raw_client(std::uint16_t port) : fd_(connect_loopback(port))
    {
        REQUIRE(fd_ >= 0);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    /// TLS with `context`, the server's certificate to name `server_name` (an IP address or a DNS
    /// name); connected, the handshake left to handshake() so that a test can watch it fail.
    raw_client(std::uint16_t port, const std::shared_ptr<SSL_CTX>& context, const std::string& server_name)
        : raw_client(port)
    {
        REQUIRE(::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK) == 0);
        ssl_ = SSL_new(context.get());
        REQUIRE(ssl_);
        REQUIRE(SSL_set_fd(ssl_, fd_) == 1);
        unsigned char address[16];
        if (::inet_pton(AF_INET, server_name.c_str(), address) == 1)
            REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_name.c_str()) == 1);
        else
            REQUIRE(SSL_set1_host(ssl_, server_name.c_str()) == 1);
    }
    raw_client(const raw_client&) = delete;
    raw_client& operator=(const raw_client&) = delete;
    ~raw_client() { close(); }

    void close()
    {
        if (ssl_) SSL_free(ssl_);
        ssl_ = nullptr;
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    /// TLS: the client's side of the handshake, the server's certificate verified; false (and
    /// tls_error() says why) when it fails or takes longer than `timeout`.
    bool handshake(std::chrono::milliseconds timeout = 5s)
    {
        const auto deadline = clock_type::now() + timeout;
        for (;;) {
            ERR_clear_error();
            const int result = SSL_connect(ssl_);
            if (result == 1) return true;
            const int error = SSL_get_error(ssl_, result);
            if (wait_for_tls(error, deadline)) continue;
            char reason[256] = "the server closed the connection";
            if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
                tls_error_ = "timed out";
            else if (const auto code = ERR_get_error())
                ERR_error_string_n(code, reason, sizeof reason);
            if (tls_error_.empty()) tls_error_ = reason;
            return false;
        }
    }
    [[nodiscard]] const std::string& tls_error() const noexcept { return tls_error_; }
    /// TLS: the server ended the session with close_notify (rather than only closing the socket).
    [[nodiscard]] bool received_close_notify() const
    {
        return ssl_ && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
    }

    /// Sends all of `bytes`; false when the server is gone.
    bool send(std::string_view bytes)
    {
        const auto deadline = clock_type::now() + 5s;
        while (!bytes.empty()) {
            if (ssl_) {
                const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
                if (n > 0)
                    bytes.remove_prefix(static_cast<std::size_t>(n));
                else if (!wait_for_tls(SSL_get_error(ssl_, n), deadline))
                    return false;
                continue;
            }
            const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// The next response; nullopt on timeout or when the server closes first. With `head`, a
    /// Content-Length announces no body bytes.
    std::optional<response> read_response(bool head = false, std::chrono::milliseconds timeout = 5s)
    {
        const auto deadline = clock_type::now() + timeout;
        std::size_t end = 0;
        while ((end = in_.find("\r\n\r\n")) == std::string::npos)
            if (fill(deadline) != outcome::data) return std::nullopt;

        response r;
        const std::string head_text = in_.substr(0, end + 2);
        std::smatch m;
        const std::regex status_line("^HTTP/1\\.1 (\\d{3}) [^\r\n]*\r\n");
        if (!std::regex_search(head_text, m, status_line)) return std::nullopt;
        r.status = static_cast<unsigned>(std::stoi(m[1].str()));
        const std::regex field("([^:\r\n]+): ([^\r\n]*)\r\n");
        for (auto it = std::sregex_iterator(head_text.begin() + m.length(0), head_text.end(), field);
             it != std::sregex_iterator(); ++it) {
            std::string name = (*it)[1].str();
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            r.headers.emplace_back(name, (*it)[2].str());
        }
        in_.erase(0, end + 4);

        const auto length = r.header("content-length");
        const std::size_t body = head || !length ? 0 : std::stoul(*length);
        while (in_.size() < body)
            if (fill(deadline) != outcome::data) return std::nullopt;
        r.body = in_.substr(0, body);
        in_.erase(0, body);
        return r;
    }

    /// Sends `request` and returns the response, which must come.
    response ask(std::string_view request, bool head = false)
    {
        REQUIRE(send(request));
        auto r = read_response(head);
        REQUIRE(r.has_value());
        return *r;
    }

    /// The server closed the connection (EOF or reset) within `timeout`, with no byte before it.
    bool closed_by_server(std::chrono::milliseconds timeout = 5s)
    {
        const auto deadline = clock_type::now() + timeout;
        for (;;) {
            const auto o = fill(deadline);
            if (o == outcome::closed) return in_.empty();
            if (o == outcome::timeout) return false;
        }
    }

    /// Bytes have arrived (or the close has), without waiting.
    bool readable()
    {
        pollfd p{fd_, POLLIN, 0};
        return !in_.empty() || (ssl_ && SSL_pending(ssl_) > 0) || ::poll(&p, 1, 0) > 0;
    }

private:
    enum class outcome { data, closed, timeout };

    /// Waits until the socket can do what OpenSSL asked for (`error` of the last call); false
    /// on any other error, or at the deadline.
    bool wait_for_tls(int error, clock_type::time_point deadline)
    {
        if (error == SSL_ERROR_WANT_READ) return wait(POLLIN, deadline);
        if (error == SSL_ERROR_WANT_WRITE) return wait(POLLOUT, deadline);
        return false;
    }

    bool wait(short events, clock_type::time_point deadline)
    {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
        pollfd p{fd_, events, 0};
        return ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0))) > 0;
    }

    outcome fill(clock_type::time_point deadline)
    {
        char buffer[16384];
        if (ssl_) {
            for (;;) {
                ERR_clear_error();
                const int n = SSL_read(ssl_, buffer, sizeof buffer);
                if (n > 0) {
                    in_.append(buffer, static_cast<std::size_t>(n));
                    return outcome::data;
                }
                const int error = SSL_get_error(ssl_, n);
                if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) return outcome::closed;
                if (!wait_for_tls(error, deadline)) return outcome::timeout;
            }
        }
        if (!wait(POLLIN, deadline)) return outcome::timeout;
        const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n <= 0) return outcome::closed; // EOF, or a reset
        in_.append(buffer, static_cast<std::size_t>(n));
        return outcome::data;
    }

    int fd_ = -1;
    SSL* ssl_ = nullptr;
    std::string in_; ///< received, not yet consumed
    std::string tls_error_;
};

inline const std::string get_root = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

} // namespace patroxy::test
