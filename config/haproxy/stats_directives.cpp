// `stats …` lines of a proxy section: patroxy's stats listener when the section is `mode http`.
// In HAProxy any of these turns the page on, so each records where it was turned on.
#include "config/haproxy/proxy.hpp"
#include "config/haproxy/userlist.hpp"

namespace patroxy::config::haproxy {
namespace {

void read_admin(const std::vector<std::string>& w, unsigned line, stats_directives& s, report& r)
{
    if (w.size() == 4 && w[2] == "if" && w[3] == "TRUE") {
        s.admin = located<bool>{true, line};
        return;
    }
    std::string rest;
    for (std::size_t i = 2; i < w.size(); ++i) rest += (i > 2 ? " " : "") + w[i];
    r.error(line, "stats admin " + rest +
                      " is not supported: patroxy honours no conditions; 'stats admin if TRUE' gives the admin forms to "
                      "the stats user (stats auth)");
}

void read_auth(const std::vector<std::string>& w, unsigned line, stats_directives& s, report& r)
{
    const auto colon = w.size() == 3 ? w[2].find(':') : std::string::npos;
    if (colon == std::string::npos || colon == 0 || colon + 1 == w[2].size()) {
        r.error(line, "expected 'stats auth USER:PASSWORD'");
        return;
    }
    if (s.auth) {
        r.warn(line, "only one stats user is kept: '" + s.auth->value.user + "' from " + r.where(s.auth->line) +
                         "; this one cannot log in");
        return;
    }
    s.auth = located<stats_auth>{stats_auth{w[2].substr(0, colon), w[2].substr(colon + 1)}, line};
}

/// `stats http-request auth [realm REALM] unless { http_auth(LIST) }`, or `... unless ACL` with
/// `acl ACL http_auth(LIST)` in the section: the page asks for a user of LIST. The only condition
/// patroxy reads; other http-request rules change nothing.
void read_http_request(const std::vector<std::string>& w, unsigned line, stats_directives& s, report& r)
{
    if (w.size() < 3 || w[2] != "auth") {
        r.warn(line, "stats http-request has no effect but for 'auth unless { http_auth(LIST) }'");
        return;
    }
    std::size_t i = 3;
    if (i + 1 < w.size() && w[i] == "realm") {
        s.auth_realm = located<std::string>{w[i + 1], line};
        i += 2;
    }
    const bool inline_fetch = i + 4 == w.size() && w[i] == "unless" && w[i + 1] == "{" && w[i + 3] == "}";
    if (const auto list = inline_fetch ? http_auth_argument(w[i + 2]) : std::nullopt) {
        s.auth_userlist = located<std::string>{*list, line};
    } else if (i + 2 == w.size() && w[i] == "unless" && w[i + 1] != "{") {
        s.auth_acl = located<std::string>{w[i + 1], line};
    } else {
        r.error(line, "expected 'stats http-request auth [realm REALM] unless { http_auth(LIST) }' or '... unless ACL' "
                      "with 'acl ACL http_auth(LIST)': patroxy evaluates no other condition");
    }
}

/// Reads one `stats` line; the page is turned on by it either way.
void read_stats(const std::vector<std::string>& w, unsigned line, stats_directives& s, report& r)
{
    const auto& k = w[1];
    auto value = [&]() -> const std::string* {
        if (w.size() == 3) return &w[2];
        r.error(line, "expected 'stats " + k + " VALUE'");
        return nullptr;
    };
    if (k == "enable") {
        // nothing more than turning the page on
    } else if (k == "uri") {
        if (const auto* v = value()) s.uri = located<std::string>{*v, line};
    } else if (k == "realm") {
        if (const auto* v = value()) s.realm = located<std::string>{*v, line};
    } else if (k == "refresh") {
        const auto* v = value();
        std::string why;
        const auto t = v ? parse_time(*v, time_unit::seconds, why) : std::nullopt;
        if (v && !t) r.error(line, "stats refresh: " + why);
        else if (t && t->count() == 0) r.error(line, "stats refresh must be longer than 0");
        else if (t) s.refresh = located<duration>{*t, line};
    } else if (k == "auth") {
        read_auth(w, line, s, r);
    } else if (k == "http-request") {
        read_http_request(w, line, s, r);
    } else if (k == "admin") {
        read_admin(w, line, s, r);
    } else if (k == "hide-version") {
        s.hide_version = located<bool>{true, line};
    } else if (k == "show-legends" || k == "show-node" || k == "show-desc" || k == "show-modules" || k == "scope" ||
               k == "bind-process") {
        r.warn(line, "stats " + k + " has no effect: patroxy's page shows every listener with its own legends");
    } else {
        r.error(line, "unknown stats keyword '" + k + "'");
        return;
    }
    if (!s.enabled) s.enabled = line;
}

} // namespace

bool apply_stats_directive(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    if (w[0] != "stats") return false;
    if (w.size() < 2) {
        r.error(line, "expected 'stats KEYWORD …'");
    } else if (w[1] == "socket" || w[1] == "timeout" || w[1] == "maxconn") {
        r.error(line, "'stats " + w[1] + "' belongs in the global section");
    } else {
        read_stats(w, line, p.settings.stats, r);
    }
    return true;
}

} // namespace patroxy::config::haproxy
