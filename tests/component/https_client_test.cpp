// http_client over TLS against fake_patroni serving HTTPS with certificates from test_pki: the
// trust anchors and the peer name are checked, a client certificate is sent when the server
// wants one, basic auth reaches the server, the connect deadline covers the handshake, and
// keep-alive, session resumption and a reload's new context behave.
#include "health/http/http_client.hpp"
#include "proxy/tls/tls_context.hpp"
#include "tests/component/http_client_runs.hpp"
#include "tests/support/fake_patroni.hpp"
#include "tests/support/test_pki.hpp"

#include <asio/io_context.hpp>
#include <asio/write.hpp>

#include <catch2/catch.hpp>

#include <memory>

using namespace std::chrono_literals;
using patroxy::health::http_access;
using patroxy::health::http_client;
using patroxy::health::http_errc;
using patroxy::test::fake_patroni;
using patroxy::test::fake_patroni_tls;
using patroxy::test::get;
using patroxy::test::patroni_fault;
using patroxy::test::short_limits;
using patroxy::test::test_pki;
using patroxy::test::wait_until;
using tcp = asio::ip::tcp;

namespace {

/// "patroni:secret", base64 by hand (RFC 7617): the fake checks the exact header value.
constexpr const char* patroni_secret = "Basic cGF0cm9uaTpzZWNyZXQ=";

const test_pki& pki() { return patroxy::test::shared_test_pki(); }

/// The Patroni API context patroxy builds from `ca` (and the client certificate when asked for).
std::shared_ptr<asio::ssl::context> api_context(const std::string& ca, bool client_certificate = false)
{
    patroxy::config::tls_settings settings;
    settings.api_ca = ca;
    if (client_certificate) {
        settings.api_cert = pki().client_cert;
        settings.api_key = pki().client_key;
    }
    std::string error;
    auto context = patroxy::proxy::tls::make_api_context(settings, error);
    INFO(error);
    REQUIRE(context);
    return context;
}

http_access trusting(const std::string& ca) { return http_access{api_context(ca), std::nullopt}; }

fake_patroni_tls served_with(const std::string& cert, std::string client_ca = {})
{
    return fake_patroni_tls{cert, pki().server_key, std::move(client_ca)};
}

} // namespace

TEST_CASE("https: GET /patroni with the CA that signed the server's certificate", "[component][http][tls]")
{
    asio::io_context io;
    fake_patroni patroni(served_with(pki().server_cert));
    CHECK(patroni.api_url() == "https://127.0.0.1:" + std::to_string(patroni.port()));

    // By IP address, matched against the certificate's IP SAN; by name, against its DNS SAN
    // (and sent as SNI).
    const std::string host = GENERATE("127.0.0.1", "localhost");
    CAPTURE(host);
    http_client client(io.get_executor(), host, patroni.port(), short_limits(), trusting(pki().ca_cert));
    const auto r = get(io, client);
    INFO(client.describe(r.error));
    REQUIRE_FALSE(r.error);
    CHECK(r.response.status == 200);
    CHECK(nlohmann::json::parse(r.response.body)["role"] == "replica");
    CHECK(client.connections_opened() == 1);
    CHECK(patroni.request_count("/patroni") == 1);
}

TEST_CASE("https: a certificate that does not verify fails the handshake with OpenSSL's reason", "[component][http][tls]")
{
    asio::io_context io;
    SECTION("signed by a CA we do not trust")
    {
        fake_patroni patroni(served_with(pki().server_cert));
        http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits(), trusting(pki().other_ca_cert));
        const auto r = get(io, client);
        CHECK(r.error == http_errc::tls_failed);
        CHECK(client.describe(r.error) == "TLS handshake with 127.0.0.1:" + std::to_string(patroni.port()) +
                                              " failed: certificate verify failed (unable to get local issuer certificate)");
        CHECK(r.elapsed < short_limits().connect_timeout);
        CHECK(patroni.total_requests() == 0); // nothing was sent to a server we could not trust
        CHECK_FALSE(client.connected());
    }
    SECTION("signed by our CA, for another name")
    {
        fake_patroni patroni(served_with(pki().misnamed_server_cert));
        http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits(), trusting(pki().ca_cert));
        const auto r = get(io, client);
        CHECK(r.error == http_errc::tls_failed);
        CHECK_THAT(client.describe(r.error), Catch::Contains("certificate verify failed (IP address mismatch)"));
        CHECK(patroni.total_requests() == 0);
    }
    SECTION("an HTTP server on the other end answers the ClientHello in plain text")
    {
        tcp::acceptor plain(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        tcp::socket accepted(io);
        const std::string answer = "HTTP/1.0 400 Bad request version\r\nContent-Length: 0\r\n\r\n";
        plain.async_accept(accepted, [&](const asio::error_code& ec) {
            if (!ec) asio::async_write(accepted, asio::buffer(answer), [](const asio::error_code&, std::size_t) {});
        });
        http_client client(io.get_executor(), "127.0.0.1", plain.local_endpoint().port(), short_limits(),
                           trusting(pki().ca_cert));
        const auto r = get(io, client);
        CHECK(r.error == http_errc::tls_failed);
        CHECK(client.describe(r.error) == "TLS handshake with 127.0.0.1:" + std::to_string(plain.local_endpoint().port()) +
                                              " failed: wrong version number");
        CHECK(r.elapsed < short_limits().connect_timeout);
    }
}

TEST_CASE("https: a server that requires a client certificate (restapi.verify_client)", "[component][http][tls]")
{
    asio::io_context io;
    fake_patroni patroni(served_with(pki().server_cert, pki().ca_cert));

    SECTION("api_cert and api_key are presented and accepted, and the session resumed")
    {
        http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits(),
                           http_access{api_context(pki().ca_cert, true), std::nullopt});
        for (int i = 0; i < 3; ++i) {
            const auto r = get(io, client);
            INFO(client.describe(r.error));
            REQUIRE_FALSE(r.error);
            CHECK(r.response.status == 200);
        }
        CHECK(client.tls_sessions_resumed() == 2);
        CHECK(patroni.tls_handshakes_failed() == 0);
    }
    SECTION("without a client certificate the server's alert is the failure")
    {
        http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits(), trusting(pki().ca_cert));
        const auto r = get(io, client);
        CHECK(r.error == http_errc::tls_failed);
        // TLS 1.3 finishes the client's side of the handshake first; the server's refusal then
        // arrives as an alert instead of the response.
        CHECK_THAT(client.describe(r.error), Catch::Contains("127.0.0.1:" + std::to_string(patroni.port()) + " failed:") &&
                                                 Catch::Contains("alert"));
        CHECK(r.elapsed < short_limits().response_timeout);
        // The fake counts its failed handshake on its own thread, after its alert is out: the
        // client can read that alert first (seen 2 in 40 runs on a loaded machine).
        CHECK(wait_until(io, [&] { return patroni.tls_handshakes_failed() == 1; }));
        CHECK(patroni.total_requests() == 0);
    }
}

TEST_CASE("https: a server that fails every resumption costs a handshake, not a check", "[component][http][tls]")
{
    asio::io_context io;
    auto tls = served_with(pki().server_cert, pki().ca_cert);
    tls.session_id_context = false; // resumption attempts then end in an "internal error" alert
    fake_patroni patroni(tls);
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits(),
                       http_access{api_context(pki().ca_cert, true), std::nullopt});
    for (int i = 0; i < 3; ++i) {
        const auto r = get(io, client);
        INFO(client.describe(r.error));
        REQUIRE_FALSE(r.error);
    }
    CHECK(patroni.tls_handshakes_failed() == 2); // the second and third checks each tried once
    CHECK(client.tls_sessions_resumed() == 0);
    CHECK(client.connections_opened() == 3);
}

TEST_CASE("basic auth: every request carries the Authorization header", "[component][http][tls]")
{
    asio::io_context io;
    const auto plain = GENERATE(true, false);
    CAPTURE(plain);
    std::unique_ptr<fake_patroni> patroni =
        plain ? std::make_unique<fake_patroni>() : std::make_unique<fake_patroni>(served_with(pki().server_cert));
    patroni->set_required_authorization(patroni_secret);
    patroni->set_keep_alive(true);
    const auto tls = plain ? nullptr : api_context(pki().ca_cert);

    SECTION("configured credentials are accepted, on every request of a kept connection")
    {
        http_client client(io.get_executor(), "127.0.0.1", patroni->port(), short_limits(),
                           http_access{tls, patroxy::config::api_auth{"patroni", "secret"}});
        for (int i = 0; i < 2; ++i) {
            const auto r = get(io, client);
            REQUIRE_FALSE(r.error);
            CHECK(r.response.status == 200);
        }
        CHECK(client.connections_opened() == 1);
        CHECK(patroni->unauthorized_requests() == 0);
    }
    SECTION("credentials from the URL's user info, percent-decoded")
    {
        patroni->set_required_authorization("Basic cGF0cm9uaTpzM2NyM3RAOg=="); // patroni:s3cr3t@:
        const auto url = patroxy::health::parse_http_url(std::string(plain ? "http" : "https") +
                                                         "://patroni:s3cr3t%40%3a@127.0.0.1:" +
                                                         std::to_string(patroni->port()));
        REQUIRE(url);
        REQUIRE(url->credentials);
        http_client client(io.get_executor(), url->host, url->port, short_limits(), http_access{tls, url->credentials});
        const auto r = get(io, client);
        REQUIRE_FALSE(r.error);
        CHECK(r.response.status == 200);
    }
    SECTION("without credentials the answer is a complete 401")
    {
        http_client client(io.get_executor(), "127.0.0.1", patroni->port(), short_limits(), http_access{tls, std::nullopt});
        const auto r = get(io, client);
        REQUIRE_FALSE(r.error);
        CHECK(r.response.status == 401);
        CHECK(r.response.header("www-authenticate") == "Basic realm=\"Patroni\"");
        CHECK(patroni->unauthorized_requests() == 1);
    }
    SECTION("wrong credentials: 401 as well")
    {
        http_client client(io.get_executor(), "127.0.0.1", patroni->port(), short_limits(),
                           http_access{tls, patroxy::config::api_auth{"patroni", "wrong"}});
        CHECK(get(io, client).response.status == 401);
        CHECK(patroni->unauthorized_requests() == 1);
    }
}

TEST_CASE("https: the connect deadline covers a TLS handshake the server never answers", "[component][http][tls]")
{
    asio::io_context io;
    // Accepts the TCP connection and never reads: the ClientHello waits in the socket forever.
    tcp::acceptor silent(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket held(io);
    silent.async_accept(held, [](const asio::error_code&) {});

    const auto limits = short_limits();
    http_client client(io.get_executor(), "127.0.0.1", silent.local_endpoint().port(), limits, trusting(pki().ca_cert));
    const auto r = get(io, client);
    CHECK(r.error == http_errc::tls_timeout);
    CHECK(client.describe(r.error) == "TLS handshake with 127.0.0.1:" + std::to_string(silent.local_endpoint().port()) +
                                          " timed out");
    CHECK(r.elapsed >= limits.connect_timeout);
    CHECK(r.elapsed < limits.connect_timeout + 700ms);
    CHECK(held.is_open()); // the TCP connection was made: the wait was the handshake's
    CHECK_FALSE(client.connected());
}

TEST_CASE("https: response faults keep their meaning inside TLS", "[component][http][tls]")
{
    asio::io_context io;
    fake_patroni patroni(served_with(pki().server_cert));
    const auto limits = short_limits();
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), limits, trusting(pki().ca_cert));

    SECTION("hang is response_timeout")
    {
        patroni.set_fault(patroni_fault::hang);
        const auto r = get(io, client);
        CHECK(r.error == http_errc::response_timeout);
        CHECK(r.elapsed >= limits.response_timeout);
        CHECK(r.elapsed < limits.response_timeout + 700ms);
    }
    SECTION("garbage inside TLS is malformed_response")
    {
        patroni.set_fault(patroni_fault::garbage);
        CHECK(get(io, client).error == http_errc::malformed_response);
    }
    SECTION("a close mid-body without close_notify is closed_early")
    {
        patroni.set_fault(patroni_fault::close_mid_body);
        CHECK(get(io, client).error == http_errc::closed_early);
    }
    SECTION("a body ended by the close (no close_notify, as Python's ssl) is complete")
    {
        patroni.set_content_length(false);
        const auto r = get(io, client);
        INFO(client.describe(r.error));
        REQUIRE_FALSE(r.error);
        CHECK(nlohmann::json::parse(r.response.body)["state"] == "running");
    }
}

TEST_CASE("https: keep-alive, session resumption and a replaced context", "[component][http][tls]")
{
    asio::io_context io;
    fake_patroni patroni(served_with(pki().server_cert));
    http_client client(io.get_executor(), "127.0.0.1", patroni.port(), short_limits(), trusting(pki().ca_cert));

    SECTION("a server that keeps the connection: three requests, one handshake")
    {
        patroni.set_keep_alive(true);
        for (int i = 0; i < 3; ++i) {
            const auto r = get(io, client);
            REQUIRE_FALSE(r.error);
            CHECK(client.connected());
        }
        CHECK(client.connections_opened() == 1);
        CHECK(patroni.connections_accepted() == 1);
    }
    SECTION("a server that closes after each answer: later connections resume the TLS session")
    {
        for (int i = 0; i < 3; ++i) REQUIRE_FALSE(get(io, client).error);
        CHECK(client.connections_opened() == 3);
        CHECK(client.tls_sessions_resumed() == 2);
        CHECK(patroni.tls_sessions_resumed() == 2);
    }
    SECTION("a kept connection the server dropped is replaced transparently")
    {
        patroni.set_keep_alive(true);
        REQUIRE_FALSE(get(io, client).error);
        REQUIRE(client.connected());
        patroni.set_fault(patroni_fault::refuse); // closes every open connection...
        patroni.set_fault(patroni_fault::none);   // ...and listens again
        const auto r = get(io, client);
        INFO(client.describe(r.error));
        REQUIRE_FALSE(r.error);
        CHECK(client.connections_opened() == 2);
    }
    SECTION("new TLS material (a reload): the kept connection and the old session are not reused")
    {
        patroni.set_keep_alive(true);
        REQUIRE_FALSE(get(io, client).error);
        REQUIRE(client.connected());
        client.set_access(trusting(pki().ca_cert));
        REQUIRE_FALSE(get(io, client).error);
        CHECK(client.connections_opened() == 2);
        CHECK(client.tls_sessions_resumed() == 0); // a full handshake, under the new trust anchors

        client.set_access(trusting(pki().other_ca_cert));
        const auto refused = get(io, client);
        CHECK(refused.error == http_errc::tls_failed);
        CHECK_THAT(client.describe(refused.error), Catch::Contains("certificate verify failed"));
    }
}
