// TLS ended at patroxy (tls: terminate) and begun again towards PostgreSQL (server_tls): libpq
// with sslmode=verify-full on the client leg, PostgreSQL 15 with ssl = on and a certificate of
// the test's own CA on the server leg. Every protocol feature keeps working inside TLS (cancels,
// the 57P01 of a kill), and every failure is one client's clear error while a healthy TLS
// session goes on.
#include <catch2/catch.hpp>

#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/support/tls_client.hpp"

#include <csignal>
#include <fstream>
#include <stdexcept>
#include <filesystem>
#include <thread>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
namespace pg_bytes = patroxy::test::pg_bytes;

constexpr const char* scram_user = "scram_user";

std::string json_quoted(const std::string& s) { return "\"" + s + "\""; }

/// One PostgreSQL with ssl = on under the test CA's certificate (CN and SANs 127.0.0.1), a
/// SCRAM user beside the fixture's trust ones, and patroxy in front with a listener per case.
struct tls_setup {
    test_pki pki;
    std::unique_ptr<pg_server> pg = [this] {
        pg_server_options o;
        o.ssl = true;
        o.ssl_cert_file = pki.server_cert;
        o.ssl_key_file = pki.server_key;
        o.hba = {"host all " + std::string(scram_user) + " 127.0.0.1/32 scram-sha-256"};
        auto server = std::make_unique<pg_server>(o);
        auto admin = pq_connect(server->conninfo("sslmode=disable"));
        const auto created = pq_exec(admin.get(), "CREATE ROLE " + std::string(scram_user) + " LOGIN PASSWORD 'pw'");
        if (PQresultStatus(created.get()) != PGRES_COMMAND_OK)
            throw std::runtime_error(std::string("CREATE ROLE failed: ") + PQerrorMessage(admin.get()));
        return server;
    }();
    std::string expired_cert = pki.dir() + "/expired.crt";
    std::string renewable_cert = pki.dir() + "/renewable.crt"; ///< renewed in place before a SIGHUP
    std::string renewable_key = pki.dir() + "/renewable.key";
    std::uint16_t full = free_port();      ///< verify-full on both legs
    std::uint16_t prefer = free_port();    ///< server_tls prefer (the default), client_tls prefer
    std::uint16_t require = free_port();   ///< client_tls require, client certificates required
    std::uint16_t misnamed = free_port();  ///< server_tls verify-full expecting another name
    std::uint16_t expired = free_port();   ///< presents an expired certificate
    std::uint16_t no_tickets = free_port(); ///< session_tickets off
    std::uint16_t passthrough = free_port();
    std::uint16_t stats = free_port();
    std::unique_ptr<patroxy_process> proxy = [this] {
        make_expired_certificate();
        std::filesystem::copy_file(pki.server_cert, renewable_cert);
        std::filesystem::copy_file(pki.server_key, renewable_key);
        proxy_config c;
        c.members = {member_spec{"pg1", pg->port()}};
        auto listener = [](std::string name, std::uint16_t port, std::string tls, std::string extra) {
            listener_spec l(std::move(name), port, {"pg1"});
            l.tls = std::move(tls);
            l.extra_json = std::move(extra);
            return l;
        };
        c.listeners = {
            listener("full", full, "terminate", R"("server_tls": "verify-full")"),
            listener("prefer", prefer, "terminate", ""),
            listener("require", require, "terminate",
                     R"("client_tls": "require", "tls_options": { "client_verify": "required" })"),
            listener("misnamed", misnamed, "terminate",
                     R"("server_tls": "verify-full", "tls_options": { "server_name": "node9.example" })"),
            listener("expired", expired, "terminate",
                     R"("tls_options": { "cert": )" + json_quoted(expired_cert) + R"(, "key": )" +
                         json_quoted(pki.server_key) + " }"),
            listener("no_tickets", no_tickets, "terminate", R"("tls_options": { "session_tickets": false })"),
            listener("passthrough", passthrough, "passthrough", ""),
        };
        c.extra_json = R"("tls": { "cert": )" + json_quoted(renewable_cert) + R"(, "key": )" + json_quoted(renewable_key) +
                       R"(, "client_ca": )" + json_quoted(pki.ca_cert) + R"(, "server_ca": )" + json_quoted(pki.ca_cert) +
                       " },\n  " + R"("stats": { "bind": "127.0.0.1:)" + std::to_string(stats) +
                       R"(", "auth": { "user": "admin", "password": "pw" } })";
        return std::make_unique<patroxy_process>(PATROXY_BINARY, c);
    }();

    /// libpq conninfo through `port` with TLS verified against the test CA.
    [[nodiscard]] std::string verified(std::uint16_t port, const std::string& extra = {}) const
    {
        return conninfo_for(port, "sslmode=verify-full sslrootcert=" + pki.ca_cert + " " + extra);
    }

    /// The server certificate's key under a certificate that expired yesterday (openssl CLI).
    void make_expired_certificate() const
    {
        const std::string csr = pki.dir() + "/expired.csr";
        REQUIRE(run_command(process_options({"openssl", "req", "-new", "-key", pki.server_key, "-subj", "/CN=127.0.0.1",
                                             "-out", csr}),
                            10s) == 0);
        REQUIRE(run_command(process_options({"openssl", "x509", "-req", "-in", csr, "-CA", pki.ca_cert, "-CAkey",
                                             pki.ca_key, "-CAcreateserial", "-days", "-1", "-out", expired_cert}),
                            10s) == 0);
    }
};

/// A TLS client that verifies patroxy against the test CA.
tls_client_options trusting(const tls_setup& t)
{
    tls_client_options o;
    o.ca_file = t.pki.ca_cert;
    return o;
}

/// Direct TLS (no SSLRequest first) offering `alpn`.
tls_client_options direct(const tls_setup& t, std::vector<std::string> alpn)
{
    auto o = trusting(t);
    o.direct = true;
    o.alpn = std::move(alpn);
    return o;
}

/// Starts `sql` on `c` and cancels it with libpq's PQcancel (a new connection to the same
/// listener, as every driver does); the SQLSTATE the query ended with.
std::string cancel_running(PGconn* c, const std::string& sql)
{
    REQUIRE(PQsendQuery(c, sql.c_str()) == 1);
    std::this_thread::sleep_for(200ms); // the query is running on the server
    PGcancel* cancel = PQgetCancel(c);
    char error[256] = {};
    const int sent = PQcancel(cancel, error, sizeof error);
    PQfreeCancel(cancel);
    INFO(error);
    REQUIRE(sent == 1);
    std::string code;
    while (PGresult* r = PQgetResult(c)) {
        if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) code = s;
        PQclear(r);
    }
    return code;
}

std::string metrics(const tls_setup& t)
{
    return http_get(t.stats, "/metrics", {{"Authorization", basic_authorization("admin", "pw")}}).body;
}

} // namespace

TEST_CASE("terminate: verify-full to patroxy and from patroxy to PostgreSQL, every message visible", "[proxy][tls]")
{
    tls_setup t;
    auto c = pq_connect(t.verified(t.full));
    INFO(PQerrorMessage(c.get()));
    REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
    CHECK(PQsslInUse(c.get()) == 1);
    // The server sees TLS too: patroxy's own leg, verified against the test CA and 127.0.0.1.
    CHECK(query_value(c.get(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "t");
    CHECK(query_value(c.get(), "SELECT repeat('z', 3000000)") == std::string(3000000, 'z'));
    // The key went by in plaintext inside patroxy: the cancel (libpq sends it unencrypted, on a
    // new connection to the listener) reaches the right backend.
    CHECK(cancel_running(c.get(), "SELECT pg_sleep(30)") == "57014");
    CHECK(query_value(c.get(), "SELECT 1") == "1");

    const auto m = metrics(t);
    // libpq 15 sends its cancel unencrypted: one client handshake. The cancel itself went to the
    // server in plaintext too: one server handshake, the session's.
    CHECK_THAT(m, Catch::Contains(R"(patroxy_listener_tls_handshakes_total{leg="client",listener="full"} 1)"));
    CHECK_THAT(m, Catch::Contains(R"(patroxy_listener_tls_handshakes_total{leg="server",listener="full"} 1)"));
    CHECK_THAT(m, Catch::Contains(R"(patroxy_server_tls_sessions{by="patroxy",listener="full",member="pg1"} 1)"));
    CHECK_THAT(m, Catch::Contains(R"(patroxy_cancel_requests_total{result="forwarded"} 1)"));
}

TEST_CASE("terminate: a CancelRequest inside TLS is routed by its key", "[proxy][tls]")
{
    tls_setup t;
    std::string error;
    auto session = tls_client::connect(t.prefer, trusting(t), error);
    INFO(error);
    REQUIRE(session);
    const auto replies = session->startup(5s);
    REQUIRE_FALSE(replies.empty());
    REQUIRE(replies.back().type == 'Z');
    const auto key = find_backend_key(replies);
    REQUIRE(key);
    REQUIRE(session->send(pg_bytes::query("SELECT pg_sleep(30)")));
    std::this_thread::sleep_for(200ms);

    // Newer drivers encrypt the cancel: SSLRequest, handshake, then the CancelRequest.
    auto canceller = tls_client::connect(t.prefer, trusting(t), error);
    REQUIRE(canceller);
    REQUIRE(canceller->send(pg_bytes::cancel_request(key->pid, key->key)));
    CHECK(canceller->closed_within(5s));

    auto answer = session->read_message(5s);
    while (answer && answer->type != 'E') answer = session->read_message(5s);
    REQUIRE(answer);
    CHECK(error_fields(*answer)['C'] == "57014");
}

TEST_CASE("terminate: each TLS failure is that client's clear error, a healthy session goes on", "[proxy][tls]")
{
    tls_setup t;
    auto healthy = pq_connect(t.verified(t.full));
    REQUIRE(PQstatus(healthy.get()) == CONNECTION_OK);

    SECTION("the client does not trust patroxy's CA")
    {
        auto c = pq_connect(conninfo_for(t.full, "sslmode=verify-full sslrootcert=" + t.pki.other_ca_cert));
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(c.get()), Catch::Contains("certificate verify failed"));
    }
    SECTION("patroxy's certificate has expired")
    {
        auto c = pq_connect(t.verified(t.expired));
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(c.get()), Catch::Contains("certificate verify failed"));
    }
    SECTION("client_verify required: no client certificate, then one")
    {
        auto without = pq_connect(t.verified(t.require, "sslcert=/nonexistent sslkey=/nonexistent"));
        CHECK(PQstatus(without.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(without.get()), Catch::Contains("certificate required"));
        auto with = pq_connect(t.verified(t.require, "sslcert=" + t.pki.client_cert + " sslkey=" + t.pki.client_key));
        INFO(PQerrorMessage(with.get()));
        CHECK(PQstatus(with.get()) == CONNECTION_OK);
    }
    SECTION("plaintext on a client_tls: require listener is refused as PostgreSQL's hostssl does")
    {
        auto c = pq_connect(conninfo_for(t.require, "sslmode=disable"));
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(c.get()), Catch::Contains("listener \"require\" requires TLS"));
        raw_connection raw(t.require);
        const auto replies = raw.startup(5s);
        REQUIRE_FALSE(replies.empty());
        CHECK(error_fields(replies.back())['C'] == "28000");
    }
    SECTION("the server's certificate does not name what server_tls verify-full expects")
    {
        auto c = pq_connect(t.verified(t.misnamed));
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
        const std::string message = PQerrorMessage(c.get());
        CHECK_THAT(message, Catch::Contains("57P03") || Catch::Contains("cannot reach any server"));
        CHECK_THAT(message, Catch::Contains("TLS handshake failed") && Catch::Contains("certificate verify failed"));
    }
    CHECK(query_value(healthy.get(), "SELECT 'still here'") == "still here");
}

TEST_CASE("terminate: SCRAM logs in without channel binding, which cannot span patroxy", "[proxy][tls]")
{
    tls_setup t;
    const std::string user = std::string("user=") + scram_user + " password=pw";
    SECTION("server_tls prefer: channel_binding=prefer (libpq's default) is authenticated over a plaintext leg")
    {
        auto c = pq_connect(t.verified(t.prefer, user + " channel_binding=prefer"));
        INFO(PQerrorMessage(c.get()));
        REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
        CHECK(PQsslInUse(c.get()) == 1);
        CHECK(query_value(c.get(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "f");
        CHECK(cancel_running(c.get(), "SELECT pg_sleep(30)") == "57014");
    }
    SECTION("channel_binding=disable keeps TLS on the server leg")
    {
        auto c = pq_connect(t.verified(t.full, user + " channel_binding=disable"));
        INFO(PQerrorMessage(c.get()));
        REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
        CHECK(query_value(c.get(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "t");
    }
    SECTION("server_tls verify-full and channel_binding=prefer: patroxy says why it cannot work")
    {
        auto c = pq_connect(t.verified(t.full, user + " channel_binding=prefer"));
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(c.get()), Catch::Contains("SCRAM channel binding cannot pass through listener \"full\""));
    }
    SECTION("channel_binding=require gets libpq's own refusal: no PLUS mechanism is offered")
    {
        auto c = pq_connect(t.verified(t.full, user + " channel_binding=require"));
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
        CHECK_THAT(PQerrorMessage(c.get()), Catch::Contains("channel binding is required"));
    }
}

TEST_CASE("terminate: a kill reaches a TLS client as 57P01 at a message boundary", "[proxy][tls]")
{
    tls_setup t;
    auto live = pq_connect(t.verified(t.full));
    REQUIRE(PQstatus(live.get()) == CONNECTION_OK);
    const auto reply = http_request(t.stats, "POST", "/admin", {{"Authorization", basic_authorization("admin", "pw")}},
                                    "listener=full&member=pg1&state=maint");
    CHECK(reply.status == 303);
    // Read until the ErrorResponse is whole: a TLS record can come in more than one piece.
    std::pair<std::string, std::string> error;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (error.first.empty() && std::chrono::steady_clock::now() < deadline && becomes_readable(live.get(), 1s))
        error = idle_error(live.get());
    const auto& [sqlstate, message] = error;
    CHECK(sqlstate == "57P01");
    CHECK_THAT(message, Catch::Contains("pg1"));
}

TEST_CASE("direct TLS (sslnegotiation=direct): ALPN postgresql required, refused on passthrough", "[proxy][tls]")
{
    tls_setup t;
    std::string error;
    {
        auto c = tls_client::connect(t.prefer, direct(t, {"postgresql"}), error);
        INFO(error);
        REQUIRE(c);
        CHECK(c->alpn() == "postgresql");
        const auto replies = c->startup(5s);
        REQUIRE_FALSE(replies.empty());
        CHECK(replies.back().type == 'Z');
    }
    {
        // No ALPN: handshaken, then closed, as PostgreSQL 17 does.
        auto c = tls_client::connect(t.prefer, direct(t, {}), error);
        REQUIRE(c);
        CHECK(c->closed_within(5s));
    }
    // Another protocol: refused in the handshake.
    CHECK_FALSE(tls_client::connect(t.prefer, direct(t, {"http/1.1"}), error));
    // A passthrough listener cannot know whether its servers take direct TLS: closed at once.
    CHECK_FALSE(tls_client::connect(t.passthrough, direct(t, {"postgresql"}), error));
    // Logged as the session closes, which the client may see first.
    CHECK(t.proxy->wait_for_log("sslnegotiation=direct", 5s));
    const auto m = metrics(t);
    CHECK_THAT(m, Catch::Contains(R"(patroxy_listener_tls_handshake_failures_total{leg="client",listener="prefer",reason="no_alpn"} 2)"));
    CHECK_THAT(m, Catch::Contains(R"(patroxy_listener_rejected_total{listener="passthrough",reason="direct_tls"} 1)"));
}

TEST_CASE("terminate: clients resume their TLS session from a ticket", "[proxy][tls]")
{
    tls_setup t;
    std::string error;
    for (const auto port : {t.prefer, t.no_tickets}) {
        INFO("listener port " << port << (port == t.prefer ? " (tickets)" : " (no tickets)"));
        auto first = tls_client::connect(port, trusting(t), error);
        REQUIRE(first);
        REQUIRE(first->startup(5s).back().type == 'Z'); // TLS 1.3 tickets come after the handshake
        SSL_SESSION* session = first->take_session();
        auto resume = trusting(t);
        resume.resume = session;
        auto second = tls_client::connect(port, resume, error);
        SSL_SESSION_free(session);
        REQUIRE(second);
        CHECK(second->session_reused() == (port == t.prefer));
        CHECK(second->startup(5s).back().type == 'Z');
    }
}

TEST_CASE("terminate: SIGHUP re-reads the certificate, live sessions keep theirs", "[proxy][tls]")
{
    tls_setup t;
    std::string error;
    auto before = tls_client::connect(t.prefer, tls_client_options{}, error);
    REQUIRE(before);
    REQUIRE(before->startup(5s).back().type == 'Z');
    const auto old_subject = before->peer_subject();

    // An operator renews the certificate and its key in place (here: another certificate of the
    // test CA with its own key), then reloads; the config itself does not change.
    const auto overwrite = std::filesystem::copy_options::overwrite_existing;
    std::filesystem::copy_file(t.pki.client_cert, t.renewable_cert, overwrite);
    std::filesystem::copy_file(t.pki.client_key, t.renewable_key, overwrite);
    ::kill(t.proxy->pid(), SIGHUP);
    REQUIRE(t.proxy->wait_for_log("configuration reloaded", 5s));

    auto after = tls_client::connect(t.prefer, tls_client_options{}, error);
    REQUIRE(after);
    CHECK(after->peer_subject() != old_subject);
    CHECK(before->send(pg_bytes::query("SELECT 1")));
    auto m = before->read_message(5s);
    while (m && m->type != 'Z') m = before->read_message(5s);
    CHECK(m.has_value());
}

TEST_CASE("passthrough: a cancel for a session TLS hides from patroxy reaches its server", "[proxy][tls]")
{
    tls_setup t;
    for (int i = 0; i < 5; ++i) {
        auto c = pq_connect(conninfo_for(t.passthrough, "sslmode=require"));
        REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
        REQUIRE(PQsslInUse(c.get()) == 1);
        CHECK(cancel_running(c.get(), "SELECT pg_sleep(30)") == "57014");
    }
    CHECK_THAT(metrics(t), Catch::Contains(R"(patroxy_cancel_requests_total{result="broadcast"} 5)"));
}

TEST_CASE("stats over HTTPS: SIGHUP re-reads its certificate too", "[proxy][tls]")
{
    tls_setup t;
    const auto https_stats = free_port();
    proxy_config c;
    c.members = {member_spec{"pg1", t.pg->port()}};
    c.listeners = {listener_spec("plain", free_port(), {"pg1"})};
    c.extra_json = R"("tls": { "cert": )" + json_quoted(t.renewable_cert) + R"(, "key": )" +
                   json_quoted(t.renewable_key) + " },\n  " + R"("stats": { "bind": "127.0.0.1:)" +
                   std::to_string(https_stats) + R"(", "tls": true })";
    // The stats listener opens after the client listeners: wait for its port too.
    auto ports = c.listener_ports();
    ports.push_back(https_stats);
    patroxy_process proxy(PATROXY_BINARY, c.to_json(), ports, c.extra_args);
    std::string error;
    auto direct_https = [&] {
        tls_client_options o;
        o.direct = true;
        return tls_client::connect(https_stats, o, error);
    };
    auto before = direct_https();
    INFO(error);
    REQUIRE(before);
    const auto old_subject = before->peer_subject();

    const auto overwrite = std::filesystem::copy_options::overwrite_existing;
    std::filesystem::copy_file(t.pki.client_cert, t.renewable_cert, overwrite);
    std::filesystem::copy_file(t.pki.client_key, t.renewable_key, overwrite);
    ::kill(proxy.pid(), SIGHUP);
    REQUIRE(proxy.wait_for_log("configuration reloaded", 5s));
    auto after = direct_https();
    REQUIRE(after);
    CHECK(after->peer_subject() != old_subject);
}
