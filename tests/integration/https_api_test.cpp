// patroxy with Patroni APIs over HTTPS (issue: "Patroni REST API over HTTPS"): two real PostgreSQL
// servers as node1 and node2, each behind a fake Patroni API that speaks only TLS, requires a
// client certificate (restapi.verify_client: required) and basic auth. patroxy routes its
// primary listener by what those APIs say; a CA that does not match fails the checks with
// OpenSSL's reason, and a SIGHUP with the right one repairs it without a restart.
#include <catch2/catch.hpp>

#include "tests/support/fake_patroni.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"
#include "tests/support/test_pki.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <memory>
#include <thread>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;

/// node1 and node2: a shared PostgreSQL server and an https-only fake Patroni API each.
struct https_cluster {
    test_pki pki;
    std::array<std::unique_ptr<fake_patroni>, 2> apis;
    std::uint16_t primary_port = free_port();

    https_cluster()
    {
        for (auto& api : apis) {
            api = std::make_unique<fake_patroni>(fake_patroni_tls{pki.server_cert, pki.server_key, pki.ca_cert});
            api->set_required_authorization("Basic cGF0cm9uaTpzZWNyZXQ="); // patroni:secret
        }
    }

    [[nodiscard]] static std::string name(std::size_t i) { return "node" + std::to_string(i + 1); }

    /// Member `leader` reports master and holds the DCS lock; the other is its replica.
    void lead(std::size_t leader)
    {
        std::vector<cluster_member> view;
        for (std::size_t i = 0; i < apis.size(); ++i) {
            patroni_member m;
            m.role = i == leader ? "master" : "replica";
            apis[i]->set_patroni_body(patroni_json(m).dump());
            cluster_member c;
            c.name = name(i);
            c.role = i == leader ? "leader" : "replica";
            c.api_url = apis[i]->api_url() + "/patroni";
            c.port = shared_pg_server(i).port();
            view.push_back(std::move(c));
        }
        for (auto& api : apis) api->set_cluster_body(cluster_json(view).dump());
    }

    /// The native config: https member APIs, the client certificate, api_auth, and `api_ca`.
    [[nodiscard]] std::string config(const std::string& api_ca) const
    {
        using nlohmann::json;
        json members = json::array();
        for (std::size_t i = 0; i < apis.size(); ++i)
            members.push_back({{"name", name(i)},
                               {"host", "127.0.0.1"},
                               {"port", shared_pg_server(i).port()},
                               {"api", apis[i]->api_url()}});
        const json doc = {
            {"cluster", {{"members", std::move(members)}, {"api_auth", {{"user", "patroni"}, {"password", "secret"}}}}},
            {"tls", {{"api_ca", api_ca}, {"api_cert", pki.client_cert}, {"api_key", pki.client_key}}},
            {"health", {{"interval", "300ms"}, {"fast_interval", "100ms"}, {"timeout", "500ms"}, {"fall", 2}, {"rise", 1}}},
            {"listeners",
             json::array({{{"name", "primary"},
                           {"bind", "127.0.0.1:" + std::to_string(primary_port)},
                           {"role", "primary"},
                           {"queue_timeout", "0s"}}})},
            {"timeouts", {{"connect", "1s"}, {"startup", "2s"}}},
            {"workers", 1}};
        return doc.dump(2);
    }
};

/// Polls until a new session through `listener_port` reaches the server at `pg_port`.
bool routes_to(std::uint16_t listener_port, std::uint16_t pg_port, std::chrono::milliseconds timeout)
{
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto c = connect_via(listener_port);
        if (server_port(c.get()) == pg_port) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

} // namespace

TEST_CASE("https member APIs with a client certificate and basic auth route the primary listener", "[https_api]")
{
    https_cluster cluster;
    cluster.lead(0);
    patroxy_process proxy(PATROXY_BINARY, cluster.config(cluster.pki.ca_cert), {cluster.primary_port});

    CHECK(routes_to(cluster.primary_port, shared_pg_server(0).port(), 5s));
    // A failover is followed over https just the same.
    cluster.lead(1);
    CHECK(routes_to(cluster.primary_port, shared_pg_server(1).port(), 5s));

    for (const auto& api : cluster.apis) {
        CHECK(api->unauthorized_requests() == 0);
        CHECK(api->tls_handshakes_failed() == 0);
        CHECK(api->request_count("/patroni") > 0);
    }
    INFO(proxy.log());
    CHECK(proxy.log().find("secret") == std::string::npos);
}

TEST_CASE("a CA that does not match fails the checks with OpenSSL's reason, SIGHUP with the right one repairs it",
          "[https_api]")
{
    https_cluster cluster;
    cluster.lead(0);
    patroxy_process proxy(PATROXY_BINARY, cluster.config(cluster.pki.other_ca_cert), {cluster.primary_port});

    // The fake sends its CA with its certificate (it builds the chain from its client CA store),
    // so OpenSSL's reason is "self-signed certificate in certificate chain".
    const std::string port = std::to_string(cluster.apis[0]->port());
    CHECK(proxy.wait_for_log("member=node1 is DOWN: L6RSP (TLS handshake with 127.0.0.1:" + port +
                                 " failed: certificate verify failed (self-signed certificate in certificate chain))",
                             5s));
    CHECK(cluster.apis[0]->total_requests() == 0);
    auto refused = connect_via(cluster.primary_port);
    CHECK_FALSE(server_port(refused.get()));

    std::ofstream(proxy.config_path(), std::ios::trunc) << cluster.config(cluster.pki.ca_cert);
    REQUIRE(::kill(proxy.pid(), SIGHUP) == 0);
    CHECK(routes_to(cluster.primary_port, shared_pg_server(0).port(), 5s));
    CHECK(proxy.wait_for_log("member=node1 is UP: L7OK", 1s));
}
