// The drop-in's stats users: `userlist` sections referenced by `stats http-request auth unless
// { http_auth(LIST) }` (or through `acl NAME http_auth(LIST)`) become stats.auth, a `password`
// as password_hash and an `insecure-password` as the password; `stats auth` keeps working.
#include "config/json_writer.hpp"
#include "haproxy_test_support.hpp"

using namespace patroxy::config;
using namespace patroxy::config::test;

namespace {

// `openssl passwd -6 -salt saltsalt 'correct horse'`
const std::string sample_hash =
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2scFtv/uamSo5z0";

const std::string primary = "listen primary\n    bind :5000\n    option httpchk\n"
                            "    server n1 10.0.0.1:5432 check port 8008 on-marked-down shutdown-sessions\n";

/// A stats section (lines 1-5) with `lines` after it, then the primary listener.
std::string stats_with(const std::string& lines)
{
    return "listen stats\n    mode http\n    bind :8404\n    stats enable\n    stats uri /\n" + lines + primary;
}

} // namespace

TEST_CASE("haproxy: a userlist's hashed password becomes stats.auth.password_hash", "[config][haproxy][secrets]")
{
    const auto r = read_cfg("userlist ops\n    user admin password " + sample_hash + "\n" +
                            stats_with("    stats http-request auth realm Ops unless { http_auth(ops) }\n"));
    const auto& c = translated(r);
    REQUIRE(c.stats);
    REQUIRE(c.stats->auth);
    CHECK(c.stats->auth->user == "admin");
    CHECK(c.stats->auth->password_hash == sample_hash);
    CHECK(c.stats->auth->password.empty());
    CHECK(c.stats->realm == "Ops");
    CHECK(r.warnings.empty());
    // --print-config carries the hash, and reading that back gives the same config.
    const std::string json = to_json_text(c);
    CHECK(json.find("\"password_hash\": \"" + sample_hash + "\"") != std::string::npos);
    CHECK(parsed(json) == c);
}

TEST_CASE("haproxy: an insecure-password, through an acl, is the plain password", "[config][haproxy][secrets]")
{
    const auto r = read_cfg("userlist ops\n    user admin insecure-password s3cret\n" +
                            stats_with("    acl AUTH http_auth(ops)\n    stats http-request auth unless AUTH\n"));
    const auto& c = translated(r);
    REQUIRE(c.stats->auth);
    CHECK(c.stats->auth->user == "admin");
    CHECK(c.stats->auth->password == "s3cret");
    CHECK(c.stats->auth->password_hash.empty());
    CHECK(r.warnings.empty()); // the acl is read, not warned about as one patroxy ignores
}

TEST_CASE("haproxy: one stats user is kept, groups change nothing", "[config][haproxy][secrets]")
{
    const auto r = read_cfg("userlist ops\n    group admins\n    user admin insecure-password a1 groups admins\n"
                            "    user viewer insecure-password v1\n" +
                            stats_with("    stats http-request auth unless { http_auth(ops) }\n"));
    const auto& c = translated(r);
    CHECK(c.stats->auth->user == "admin");
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:2: 'group' has no effect: patroxy's stats page has one user and no groups",
                            "haproxy.cfg:3: the options after the password have no effect: patroxy's stats page has "
                            "one user and no groups",
                            "haproxy.cfg:4: only one stats user is kept: 'admin' from haproxy.cfg:3; this one cannot "
                            "log in"});
}

TEST_CASE("haproxy: stats auth keeps working beside a userlist, which wins", "[config][haproxy][secrets]")
{
    CHECK(translated(read_cfg(stats_with("    stats auth admin:pw\n"))).stats->auth->password == "pw");
    const auto r = read_cfg("userlist ops\n    user ops insecure-password o1\n" +
                            stats_with("    stats auth admin:pw\n    stats http-request auth unless { http_auth(ops) }\n"));
    CHECK(translated(r).stats->auth->user == "ops");
    CHECK(r.warnings == std::vector<std::string>{
                            "haproxy.cfg:8: stats auth is overridden by the userlist that stats http-request auth names"});
}

TEST_CASE("haproxy: userlist errors are clear and never show a password", "[config][haproxy][secrets][errors]")
{
    CHECK(only_haproxy_error("userlist ops\n    user admin password $5$rounds=5000$abc$xyz\n" +
                             stats_with("    stats http-request auth unless { http_auth(ops) }\n")) ==
          "haproxy.cfg:2: user admin: patroxy checks SHA-512 crypt hashes only (\"$6$…\", from `openssl passwd -6` or "
          "`mkpasswd -m sha-512`), or use insecure-password");
    const std::string pasted = only_haproxy_error("userlist ops\n    user admin password hunter2-pasted\n" + primary);
    CHECK(pasted.find("hunter2-pasted") == std::string::npos);
    CHECK(only_haproxy_error(stats_with("    stats http-request auth unless { http_auth(nobody) }\n")) ==
          "haproxy.cfg:6: no userlist named 'nobody'");
    CHECK(only_haproxy_error(stats_with("    stats http-request auth unless AUTH\n")) ==
          "haproxy.cfg:6: no 'acl AUTH http_auth(LIST)' in this section");
    CHECK(only_haproxy_error(stats_with("    stats http-request auth if { src 10.0.0.0/8 }\n")) ==
          "haproxy.cfg:6: expected 'stats http-request auth [realm REALM] unless { http_auth(LIST) }' or '... unless "
          "ACL' with 'acl ACL http_auth(LIST)': patroxy evaluates no other condition");
    CHECK(only_haproxy_error("userlist ops\n    user admin\n" + primary) ==
          "haproxy.cfg:2: expected 'user NAME password HASH' or 'user NAME insecure-password PASSWORD'");
}
