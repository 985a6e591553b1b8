// The poller against https:// Patroni APIs (fake_patroni over TLS, certificates from test_pki),
// with the TLS context patroxy builds (proxy/tls's make_api_context): a verified API with basic
// auth is UP, a refused certificate or a 401 counts toward `fall` with a line that says why, and
// a reload reads the TLS material again.
#include "health/poller/patroni_poller.hpp"
#include "proxy/tls/tls_context.hpp"
#include "tests/support/fake_patroni.hpp"
#include "tests/support/poller_harness.hpp"
#include "tests/support/test_pki.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using patroxy::health::check_code;
using patroxy::health::cluster_snapshot;
using patroxy::health::health_status;
using patroxy::test::fake_patroni;
using patroxy::test::fake_patroni_tls;
using patroxy::test::test_pki;

namespace {

const test_pki& pki() { return patroxy::test::shared_test_pki(); }

/// One member, node1, whose Patroni API is `api`; fast checks, fall 2, rise 1; api_ca is the
/// CA that signed the fake's certificate.
struct poller_rig : patroxy::test::poller_harness {
    explicit poller_rig(const std::string& api)
    {
        cfg.members = {{"node1", "127.0.0.1", 5432, api}};
        cfg.health.interval = 100ms;
        cfg.health.fast_interval = 50ms;
        cfg.health.timeout = 500ms;
        cfg.health.fall = 2;
        cfg.health.rise = 1;
        cfg.tls.api_ca = pki().ca_cert;
    }

    /// With the context patroxy builds for https:// APIs.
    void start() { poller_harness::start(&patroxy::proxy::tls::make_api_context); }

    [[nodiscard]] const patroxy::health::member_health& health() const { return poller->current()->members.at(0).health; }
};

bool node1_is(const cluster_snapshot& s, health_status status) { return s.members.at(0).health.status == status; }

} // namespace

TEST_CASE("poller: an https API with basic auth is checked and UP", "[component][poller][tls]")
{
    fake_patroni patroni(fake_patroni_tls{pki().server_cert, pki().server_key, {}});
    patroni.set_required_authorization("Basic cGF0cm9uaTpzZWNyZXQ="); // patroni:secret

    SECTION("credentials from cluster.api_auth")
    {
        poller_rig rig(patroni.api_url());
        rig.cfg.api_auth = patroxy::config::api_auth{"patroni", "secret"};
        rig.start();
        REQUIRE(rig.run_until([](const cluster_snapshot& s) { return node1_is(s, health_status::up); }));
        CHECK(rig.health().last_check->code == check_code::l7ok);
    }
    SECTION("credentials in the member's URL win over cluster.api_auth")
    {
        poller_rig rig("https://patroni:secret@127.0.0.1:" + std::to_string(patroni.port()));
        rig.cfg.api_auth = patroxy::config::api_auth{"patroni", "wrong"};
        rig.start();
        REQUIRE(rig.run_until([](const cluster_snapshot& s) { return node1_is(s, health_status::up); }));
        CHECK_FALSE(rig.logged("secret")); // no line carries the password
    }
    CHECK(patroni.unauthorized_requests() == 0);
}

TEST_CASE("poller: a 401 counts toward fall and says what to fix", "[component][poller][tls]")
{
    fake_patroni patroni(fake_patroni_tls{pki().server_cert, pki().server_key, {}});
    patroni.set_required_authorization("Basic cGF0cm9uaTpzZWNyZXQ=");
    poller_rig rig(patroni.api_url());
    rig.start();
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return node1_is(s, health_status::down); }));
    const auto& last = *rig.health().last_check;
    CHECK(last.code == check_code::l7sts);
    CHECK(last.http_status == 401u);
    CHECK(last.detail == "HTTP 401 (credentials missing or refused: cluster.api_auth)");
    CHECK(rig.logged("member=node1 is DOWN: L7STS (HTTP 401"));
    CHECK(patroni.unauthorized_requests() >= 2);
}

TEST_CASE("poller: a certificate that does not verify is L6RSP, a reload with the right CA brings the member up",
          "[component][poller][tls]")
{
    fake_patroni patroni(fake_patroni_tls{pki().server_cert, pki().server_key, {}});
    poller_rig rig(patroni.api_url());
    rig.cfg.tls.api_ca = pki().other_ca_cert;
    rig.start();
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return node1_is(s, health_status::down); }));
    const std::string failure = "TLS handshake with 127.0.0.1:" + std::to_string(patroni.port()) +
                                " failed: certificate verify failed (unable to get local issuer certificate)";
    CHECK(rig.health().last_check->code == check_code::l6rsp);
    CHECK(rig.health().last_check->detail == failure);
    CHECK(rig.logged("member=node1 is DOWN: L6RSP (" + failure + ")"));
    CHECK(patroni.total_requests() == 0);

    // SIGHUP with api_ca fixed: the file is read again and the next connection trusts it.
    auto fixed = rig.cfg;
    fixed.tls.api_ca = pki().ca_cert;
    CHECK(rig.poller->reconfigure(fixed).empty());
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return node1_is(s, health_status::up); }));
    CHECK(rig.health().last_check->code == check_code::l7ok);

    // A reload whose CA file is gone keeps the material in use, and says so.
    auto broken = fixed;
    broken.tls.api_ca = pki().dir() + "/no-such-ca.crt";
    (void)rig.poller->reconfigure(broken);
    CHECK(rig.logged("error: reload: TLS for the Patroni API: api_ca '" + broken.tls.api_ca + "'"));
    CHECK(rig.logged("the previous certificates stay in use"));
    const auto checks = rig.health().checks;
    REQUIRE(rig.run_until([&](const cluster_snapshot& s) { return s.members.at(0).health.checks >= checks + 2; }));
    CHECK(node1_is(*rig.poller->current(), health_status::up));
}

TEST_CASE("poller: a TLS handshake that never finishes is L6TOUT", "[component][poller][tls]")
{
    poller_rig rig("");
    // Accepts TCP and never reads: the ClientHello is never answered.
    asio::ip::tcp::acceptor silent(rig.io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> held;
    std::function<void()> accept_next = [&] {
        held.push_back(std::make_unique<asio::ip::tcp::socket>(rig.io));
        silent.async_accept(*held.back(), [&](const asio::error_code& ec) {
            if (!ec) accept_next();
        });
    };
    accept_next();
    rig.cfg.members[0].api = "https://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
    rig.cfg.health.timeout = 200ms;
    rig.start();
    REQUIRE(rig.run_until([](const cluster_snapshot& s) { return node1_is(s, health_status::down); }));
    CHECK(rig.health().last_check->code == check_code::l6tout);
    CHECK(rig.health().last_check->detail ==
          "TLS handshake with 127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + " timed out");
    silent.close();
    // The accept under way completes now (aborted, or with a connection it assigns to the last
    // of `held`): before `held` goes, not in the rig's destructor after (a use after free TSan's
    // slower timing showed).
    rig.io.poll();
}

TEST_CASE("poller: an https API without a way to build TLS is reported, not checked", "[component][poller][tls]")
{
    poller_rig rig("https://127.0.0.1:8443");
    rig.poller_harness::start(); // no api_tls_fn
    CHECK(rig.logged("error: member=node1 has an https API but no TLS context; it is not checked"));
    CHECK(rig.health().status == health_status::unchecked);
}
