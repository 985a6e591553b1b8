// The TLS keys of the native config: the top-level tls object, a listener's overrides, the
// defaults of server_tls per listener mode, the stats listener's HTTPS and the Patroni API's.
#include "config_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;
using namespace std::chrono_literals;

namespace {

const config& valid(const load_result& r)
{
    INFO(Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.errors.empty());
    REQUIRE(r.value);
    return *r.value;
}

} // namespace

TEST_CASE("a terminating listener takes the top-level material and its own overrides", "[config][tls]")
{
    const load_result r = parse_config(R"({
        "cluster": { "members": [ { "name": "node1", "host": "db1", "api": "https://db1:8008" } ],
                     "api_auth": { "user": "patroni", "password": "secret" } },
        "tls": { "cert": "/etc/patroxy/server.crt", "key": "/etc/patroxy/server.key",
                 "client_ca": "/etc/patroxy/clients.crt", "client_verify": "optional",
                 "server_ca": "/etc/patroxy/pg-ca.crt", "min_version": "TLSv1.3",
                 "api_ca": "/etc/patroxy/api-ca.crt", "ticket_lifetime": "10m" },
        "listeners": [
            { "name": "primary", "bind": "0.0.0.0:5000", "servers": ["node1"],
              "tls": "terminate", "client_tls": "require", "server_tls": "verify-full",
              "tls_options": { "cert": "/etc/patroxy/primary.crt", "key": "/etc/patroxy/primary.key",
                               "client_verify": "required", "server_name": "db.example.com" } },
            { "name": "replicas", "bind": "0.0.0.0:5001", "servers": ["node1"], "tls": "terminate" },
            { "name": "legacy", "bind": "0.0.0.0:5002", "servers": ["node1"] } ],
        "stats": { "bind": "0.0.0.0:8404", "tls": true, "tls_options": { "client_verify": "none" } }
    })");
    const config& c = valid(r);
    CHECK(c.tls.min_version == tls_version::v1_3);
    CHECK(c.tls.ticket_lifetime == 10min);
    CHECK(c.members[0].api == "https://db1:8008");
    REQUIRE(c.api_auth);
    CHECK(c.api_auth->user == "patroni");

    const auto& primary = c.listeners[0];
    CHECK(primary.tls == tls_mode::terminate);
    CHECK(primary.client_tls == client_tls_mode::require);
    CHECK(primary.server_tls == server_tls_mode::verify_full);
    CHECK(primary.tls_options.cert == "/etc/patroxy/primary.crt");
    CHECK(primary.tls_options.client_verify == client_verify_mode::required);
    CHECK(primary.tls_options.server_name == "db.example.com");
    // Keys the listener does not override come from the top level.
    CHECK(primary.tls_options.client_ca == "/etc/patroxy/clients.crt");
    CHECK(primary.tls_options.min_version == tls_version::v1_3);

    const auto& replicas = c.listeners[1];
    CHECK(replicas.client_tls == client_tls_mode::prefer);
    CHECK(replicas.server_tls == server_tls_mode::prefer); // the default when terminating
    // The listener's copy leaves out what only the Patroni API uses: a reload that renews just the
    // API's CA must not replace the listeners.
    auto expected = c.tls;
    expected.api_ca.clear();
    CHECK(replicas.tls_options == expected);
    CHECK(c.tls.api_ca == "/etc/patroxy/api-ca.crt");

    const auto& legacy = c.listeners[2];
    CHECK(legacy.tls == tls_mode::passthrough);
    CHECK(legacy.server_tls == server_tls_mode::disable); // the default otherwise

    REQUIRE(c.stats);
    CHECK(c.stats->tls);
    CHECK(c.stats->tls_options.cert == "/etc/patroxy/server.crt");
    CHECK(c.stats->tls_options.client_verify == client_verify_mode::none);
}

TEST_CASE("stats over https needs a certificate", "[config][tls]")
{
    const auto e = only_error(R"({
        "cluster": { "members": [ { "name": "node1", "host": "db1" } ] },
        "listeners": [ { "name": "p", "bind": "h:1", "servers": ["node1"] } ],
        "stats": { "bind": "h:2", "tls": true } })");
    CHECK(e.path == "/stats/tls");
    CHECK_THAT(e.message, Catch::Contains(R"(set "cert" and "key")"));
}

TEST_CASE("tls names have canonical spellings", "[config][tls]")
{
    CHECK(to_string(tls_mode::terminate) == "terminate");
    CHECK(to_string(client_tls_mode::require) == "require");
    CHECK(to_string(server_tls_mode::verify_ca) == "verify-ca");
    CHECK(to_string(client_verify_mode::optional) == "optional");
    CHECK(to_string(tls_version::v1_2) == "TLSv1.2");
}

TEST_CASE("a malformed API URL with credentials is not echoed", "[config][tls]")
{
    const auto e = only_error(R"({
        "cluster": { "members": [ { "name": "node1", "host": "db1", "api": "ftp://patroni:s3cret@db1:8008" } ] },
        "listeners": [ { "name": "p", "bind": "h:1", "servers": ["node1"] } ] })");
    CHECK(e.path == "/cluster/members/0/api");
    CHECK_THAT(e.message, !Catch::Contains("s3cret"));
    CHECK_THAT(e.message, Catch::Contains("credentials, not shown"));
}
