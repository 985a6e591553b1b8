// The stats listener's HTTP server over TLS, with the context patroxy builds for it
// (tls::make_server_context) and certificates from test_pki: the pages with the server's
// certificate verified, keep-alive and pipelining over TLS, /health without auth, client
// certificates required, a client that never finishes its handshake, plain HTTP on the HTTPS
// port, the connection limit, and curl as a client nobody here wrote.
#include "proxy/app/stats_routes.hpp"
#include "proxy/stats/http_server.hpp"
#include "proxy/tls/tls_context.hpp"
#include "tests/component/stats_test_client.hpp"
#include "tests/support/test_pki.hpp"

#include <asio/error.hpp>
#include <asio/ssl/error.hpp>

#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using patroxy::config::client_verify_mode;
using patroxy::proxy::stats::basic_credentials;
using patroxy::proxy::stats::http_server;
using patroxy::proxy::stats::http_server_limits;
using patroxy::proxy::stats::tls_handshake_failure;
using patroxy::test::clock_type;
using patroxy::test::client_tls_context;
using patroxy::test::get_root;
using patroxy::test::raw_client;
using patroxy::test::running_server;
using patroxy::test::since;
using patroxy::test::test_pki;

namespace {

/// The one PKI of this file, made once: key generation is the slow part.
const test_pki& pki()
{
    static const test_pki instance;
    return instance;
}

/// What the server reported of one failed handshake, copied on the server's thread (the SSL
/// object lives only during the report).
struct reported_failure {
    std::error_code error;
    long verify_result = X509_V_OK;
};

/// The reports, written by the server's thread and read by the test's.
class failure_log {
public:
    void add(const tls_handshake_failure& f)
    {
        const std::lock_guard lock(mutex_);
        CHECK(f.client.address().is_loopback()); // the server names the client
        failures_.push_back({f.error, f.ssl ? SSL_get_verify_result(f.ssl) : X509_V_OK});
    }

    /// The reports once there are `count` of them, waiting up to `timeout` for the server to see
    /// what the client already has.
    std::vector<reported_failure> wait_for(std::size_t count, std::chrono::milliseconds timeout = 3s)
    {
        const auto deadline = clock_type::now() + timeout;
        for (;;) {
            {
                const std::lock_guard lock(mutex_);
                if (failures_.size() >= count || clock_type::now() >= deadline) return failures_;
            }
            std::this_thread::sleep_for(10ms);
        }
    }

private:
    std::mutex mutex_;
    std::vector<reported_failure> failures_;
};

/// OpenSSL's reason in a handshake error as Asio reports it (SSL_R_...); 0 for other errors.
int openssl_reason(const std::error_code& ec)
{
    if (ec.category() != asio::error::get_ssl_category()) return 0;
    return ERR_GET_REASON(static_cast<unsigned long>(static_cast<unsigned int>(ec.value())));
}

/// The view the routes render: nothing of a cluster, the HTTPS stats listener itself.
patroxy::proxy::stats_backend sample_backend(bool admin_allowed)
{
    return {
        .view =
            [] {
                patroxy::proxy::stats::stats_view v;
                v.version = "0.1.0";
                v.stats_listener.tls = true;
                v.stats_listener.tls_handshake_failures = {{"no_client_certificate", 2}};
                return v;
            },
        .set_admin = [](std::string_view, std::string_view, patroxy::proxy::stats::admin_state) { return std::string(); },
        .ready = [] { return true; },
        .admin_allowed = admin_allowed,
    };
}

struct https_options {
    client_verify_mode client_verify = client_verify_mode::none;
    std::string client_ca{};
    http_server_limits limits{};
    std::optional<basic_credentials> auth{};
};

/// An HTTPS stats server with the real routes, its TLS context built as patroxy builds it.
struct https_fixture {
    explicit https_fixture(https_options options = {})
        : server(
              [backend = sample_backend(options.auth.has_value())](const patroxy::proxy::stats::http_request& r) {
                  return patroxy::proxy::serve_stats_request(r, backend);
              },
              options.limits, options.auth, [this, &options](http_server& s) {
                  patroxy::config::tls_settings settings;
                  settings.cert = pki().server_cert;
                  settings.key = pki().server_key;
                  settings.client_ca = options.client_ca;
                  settings.client_verify = options.client_verify;
                  std::string error;
                  auto context =
                      patroxy::proxy::tls::make_server_context(settings, patroxy::proxy::tls::server_protocol::http, error);
                  INFO(error);
                  REQUIRE(context);
                  s.use_tls(std::move(context), [this](const tls_handshake_failure& f) { failures.add(f); });
              })
    {
    }

    /// A TLS client that trusts the test CA, verifying the server as `name`; handshake done.
    std::unique_ptr<raw_client> connect(const std::shared_ptr<SSL_CTX>& context, const std::string& name = "127.0.0.1")
    {
        auto client = std::make_unique<raw_client>(server.port, context, name);
        INFO(client->tls_error());
        REQUIRE(client->handshake());
        return client;
    }

    failure_log failures; // before server: the server's thread writes to it until the server is gone
    running_server server;
};

/// Whether a client presenting `context`'s certificate (or none) gets an answer to GET /.
bool answered(https_fixture& f, const std::shared_ptr<SSL_CTX>& context)
{
    raw_client client(f.server.port, context, "127.0.0.1");
    // TLS 1.3: the client's handshake is over before the server has looked at its certificate;
    // the refusal arrives as an alert instead of the response.
    if (!client.handshake()) return false;
    if (!client.send(get_root)) return false;
    const auto r = client.read_response(false, 3s);
    return r && r->status == 200;
}

struct run_result {
    int exit_code = -1;
    std::string output;
};

/// Runs `command` through the shell, its stdout collected.
run_result run(const std::string& command)
{
    run_result result;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        std::array<char, 4096> buffer{};
        while (const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) result.output.append(buffer.data(), n);
        const int status = ::pclose(pipe);
        if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

bool on_path(const char* program)
{
    return run(std::string("command -v ") + program + " >/dev/null 2>&1").exit_code == 0;
}

} // namespace

TEST_CASE("stats over HTTPS: GET / and /metrics on one kept-alive connection, the certificate verified",
          "[stats][http_server][tls]")
{
    https_fixture f;
    const auto trusting = client_tls_context(pki().ca_cert);
    for (const char* name : {"127.0.0.1", "localhost"}) {
        INFO("the server verified as " << name);
        auto client = f.connect(trusting, name);
        const auto page = client->ask(get_root);
        CHECK(page.status == 200);
        CHECK(page.header("content-type") == "text/html; charset=utf-8");
        CHECK(page.body.find("<h1>patroxy 0.1.0</h1>") != std::string::npos);
        CHECK(page.body.find("failed TLS handshakes (stats listener) <b>2</b>") != std::string::npos);
        CHECK_FALSE(page.header("connection").has_value()); // kept alive

        const auto metrics = client->ask("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"); // the same connection
        CHECK(metrics.status == 200);
        CHECK(metrics.body.find("patroxy_build_info{version=\"0.1.0\"} 1") != std::string::npos);
        CHECK(metrics.body.find(R"(patroxy_stats_tls_handshake_failures_total{reason="no_client_certificate"} 2)") !=
              std::string::npos);
    }
    CHECK(f.failures.wait_for(0).empty());

    // A client that trusts another CA refuses the server: its alert is the server's failure.
    raw_client doubter(f.server.port, client_tls_context(pki().other_ca_cert), "127.0.0.1");
    CHECK_FALSE(doubter.handshake());
    CHECK_THAT(doubter.tls_error(), Catch::Contains("certificate verify failed"));
    const auto reported = f.failures.wait_for(1);
    REQUIRE(reported.size() == 1);
    CHECK(openssl_reason(reported[0].error) == SSL_R_TLSV1_ALERT_UNKNOWN_CA);
}

TEST_CASE("stats over HTTPS: pipelined requests, and Connection: close ends with close_notify",
          "[stats][http_server][tls]")
{
    https_fixture f;
    auto client = f.connect(client_tls_context(pki().ca_cert));
    REQUIRE(client->send("GET /health HTTP/1.1\r\n\r\nGET /stats.json HTTP/1.1\r\n\r\n"
                         "GET /stats.csv HTTP/1.1\r\nConnection: close\r\n\r\n"));
    const auto health = client->read_response();
    REQUIRE(health.has_value());
    CHECK(health->status == 200);
    const auto json = client->read_response();
    REQUIRE(json.has_value());
    CHECK(json->body.find(R"("stats_listener":{"tls":true)") != std::string::npos);
    const auto csv = client->read_response();
    REQUIRE(csv.has_value());
    CHECK(csv->status == 200);
    CHECK(csv->header("connection") == "close");
    CHECK(client->closed_by_server());
    CHECK(client->received_close_notify()); // the end of the reply is TLS's, not a cut connection
}

TEST_CASE("stats over HTTPS: /health needs no credentials, the page does", "[stats][http_server][tls]")
{
    https_fixture f({.auth = basic_credentials{"admin", "secret"}});
    auto client = f.connect(client_tls_context(pki().ca_cert));
    const auto health = client->ask("GET /health HTTP/1.1\r\n\r\n");
    CHECK(health.status == 200);
    CHECK(health.body == "ready\n");
    const auto page = client->ask(get_root);
    CHECK(page.status == 401);
    CHECK(page.header("www-authenticate") == "Basic realm=\"patroxy stats\"");
    CHECK(client->ask("GET / HTTP/1.1\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n\r\n").status == 200);
}

TEST_CASE("stats over HTTPS with client_verify required: refused without a trusted client certificate",
          "[stats][http_server][tls]")
{
    SECTION("a client certificate from client_ca is served, none is refused")
    {
        https_fixture f({.client_verify = client_verify_mode::required, .client_ca = pki().ca_cert});
        CHECK_FALSE(answered(f, client_tls_context(pki().ca_cert)));
        const auto reported = f.failures.wait_for(1);
        REQUIRE(reported.size() == 1);
        CHECK(openssl_reason(reported[0].error) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);

        CHECK(answered(f, client_tls_context(pki().ca_cert, pki().client_cert, pki().client_key)));
        CHECK(f.failures.wait_for(2, 200ms).size() == 1);
    }
    SECTION("a client certificate from another CA is refused, and the server says why")
    {
        https_fixture f({.client_verify = client_verify_mode::required, .client_ca = pki().other_ca_cert});
        CHECK_FALSE(answered(f, client_tls_context(pki().ca_cert, pki().client_cert, pki().client_key)));
        const auto reported = f.failures.wait_for(1);
        REQUIRE(reported.size() == 1);
        CHECK(openssl_reason(reported[0].error) == SSL_R_CERTIFICATE_VERIFY_FAILED);
        // The client sends its CA along (OpenSSL builds the chain from its trust store): a root
        // the server does not trust.
        CHECK(reported[0].verify_result == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
    }
}

TEST_CASE("stats over HTTPS: a client that never finishes its handshake is closed in time, others are served",
          "[stats][http_server][tls]")
{
    http_server_limits limits;
    limits.read_timeout = 400ms;
    https_fixture f({.limits = limits});
    const auto trusting = client_tls_context(pki().ca_cert);

    raw_client silent(f.server.port); // connects and never says a word
    raw_client stalled(f.server.port);
    // The first bytes of a ClientHello (record header, then handshake type and length), and no more.
    REQUIRE(stalled.send(std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11)));
    const auto start = clock_type::now();
    auto busy = f.connect(trusting);

    std::chrono::milliseconds slowest{0};
    int served = 0;
    while (since(start) < 600ms) {
        const auto asked = clock_type::now();
        CHECK(busy->ask(get_root).status == 200);          // a kept-alive connection
        auto fresh = f.connect(trusting);                   // and a new handshake
        CHECK(fresh->ask("GET /health HTTP/1.1\r\n\r\n").status == 200);
        slowest = std::max(slowest, since(asked));
        ++served;
        std::this_thread::sleep_for(40ms);
    }
    CHECK(served >= 5);
    CHECK(slowest < 250ms);

    for (raw_client* client : {&silent, &stalled}) {
        CHECK(client->closed_by_server(2s)); // and no byte: a 408 in plain text means nothing to TLS
        CHECK(since(start) >= 350ms);
        CHECK(since(start) < 1500ms);
    }
    const auto reported = f.failures.wait_for(2);
    REQUIRE(reported.size() == 2);
    for (const auto& r : reported) CHECK(r.error == asio::error::timed_out);
}

TEST_CASE("stats over HTTPS: a plain HTTP request is answered 400 in plain text and closed",
          "[stats][http_server][tls]")
{
    https_fixture f;
    raw_client plain(f.server.port);
    const auto r = plain.ask(get_root);
    CHECK(r.status == 400);
    CHECK(r.header("connection") == "close");
    CHECK(r.body.find("use https://") != std::string::npos);
    CHECK(plain.closed_by_server());
    const auto reported = f.failures.wait_for(1);
    REQUIRE(reported.size() == 1);
    CHECK(openssl_reason(reported[0].error) == SSL_R_HTTP_REQUEST);

    // The listener is none the worse for it.
    CHECK(f.connect(client_tls_context(pki().ca_cert))->ask(get_root).status == 200);
}

TEST_CASE("stats over HTTPS: over max connections a client is closed without a plain-text 503",
          "[stats][http_server][tls]")
{
    http_server_limits limits;
    limits.max_connections = 1;
    https_fixture f({.limits = limits});
    auto held = f.connect(client_tls_context(pki().ca_cert));
    CHECK(held->ask(get_root).status == 200);

    raw_client extra(f.server.port);
    CHECK(extra.closed_by_server(2s)); // no byte: a TLS client could not read a plain-text 503
    CHECK(held->ask(get_root).status == 200);
    CHECK(f.failures.wait_for(1, 200ms).empty()); // a refusal, not a failed handshake
}

TEST_CASE("stats over HTTPS: curl with --cacert, and curl speaking plain HTTP to the HTTPS port",
          "[stats][http_server][tls]")
{
    if (!on_path("curl")) {
        WARN("curl is not on PATH: check skipped");
        return;
    }
    https_fixture f;
    const std::string port = std::to_string(f.server.port);
    const std::string curl = "curl --silent --show-error --max-time 5 --cacert '" + pki().ca_cert + "' ";

    const auto metrics = run(curl + "https://127.0.0.1:" + port + "/metrics 2>&1");
    INFO(metrics.output);
    CHECK(metrics.exit_code == 0);
    CHECK(metrics.output.find("patroxy_build_info") != std::string::npos);

    const auto health = run(curl + "--resolve localhost:" + port + ":127.0.0.1 https://localhost:" + port +
                            "/health 2>&1");
    INFO(health.output);
    CHECK(health.exit_code == 0);
    CHECK(health.output == "ready\n");

    const auto plain = run("curl --silent --max-time 5 --write-out ' %{http_code}' http://127.0.0.1:" + port + "/");
    INFO(plain.output);
    CHECK(plain.output.find("use https://") != std::string::npos);
    CHECK(plain.output.find(" 400") != std::string::npos);
}
