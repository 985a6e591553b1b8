// `option …` lines: the check options (httpchk and the protocol checks that make a section a
// static server list), redispatch, tcplog (log.sessions), and the many options that change nothing for patroxy.
#include "config/haproxy/keyword_notes.hpp"
#include "config/haproxy/proxy.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace patroxy::config::haproxy {
namespace {

/// Checks of other protocols: the section keeps its servers but follows no Patroni role.
constexpr std::array other_checks{
    std::string_view("tcp-check"),  std::string_view("pgsql-check"),   std::string_view("mysql-check"),
    std::string_view("redis-check"), std::string_view("smtpchk"),      std::string_view("ldap-check"),
    std::string_view("ssl-hello-chk"), std::string_view("spop-check"), std::string_view("external-check"),
};

constexpr std::string_view why_tcp = "patroxy sets its own socket options";

constexpr std::array ignored_options{
    keyword_note{"httplog", why::own_logs},
    keyword_note{"httpslog", why::own_logs},
    keyword_note{"dontlognull", why::own_logs},
    keyword_note{"dontlog-normal", why::own_logs},
    keyword_note{"log-health-checks", why::own_logs},
    keyword_note{"log-separate-errors", why::own_logs},
    keyword_note{"logasap", why::own_logs},
    keyword_note{"tcpka", why_tcp},
    keyword_note{"clitcpka", why_tcp},
    keyword_note{"srvtcpka", why_tcp},
    keyword_note{"nolinger", why_tcp},
    keyword_note{"tcp-smart-accept", why_tcp},
    keyword_note{"tcp-smart-connect", why_tcp},
    keyword_note{"splice-auto", why_tcp},
    keyword_note{"splice-request", why_tcp},
    keyword_note{"splice-response", why_tcp},
    keyword_note{"socket-stats", "patroxy counts per listener and member"},
    keyword_note{"contstats", "patroxy counts bytes as they pass"},
    keyword_note{"independent-streams", "patroxy's idle timeouts watch each side on its own already"},
    keyword_note{"abortonclose", "a client that leaves while queued is dropped from patroxy's queue anyway"},
    keyword_note{"allbackups", "patroxy always balances among every eligible backup"},
    keyword_note{"persist", "patroxy has no stickiness"},
    keyword_note{"prefer-last-server", "patroxy has no stickiness"},
    keyword_note{"checkcache", why::http_only},
    keyword_note{"forwardfor", why::http_only},
    keyword_note{"originalto", why::http_only},
    keyword_note{"http-server-close", why::http_only},
    keyword_note{"httpclose", why::http_only},
    keyword_note{"forceclose", why::http_only},
    keyword_note{"http-keep-alive", why::http_only},
    keyword_note{"http-pretend-keepalive", why::http_only},
    keyword_note{"http-no-delay", why::http_only},
    keyword_note{"http-buffer-request", why::http_only},
    keyword_note{"http-use-proxy-header", why::http_only},
    keyword_note{"http-ignore-probes", why::http_only},
    keyword_note{"http-restrict-req-hdr-names", why::http_only},
    keyword_note{"idle-close-on-response", why::http_only},
    keyword_note{"disable-h2-upgrade", why::http_only},
    keyword_note{"accept-invalid-http-request", why::http_only},
    keyword_note{"accept-invalid-http-response", why::http_only},
    keyword_note{"h1-case-adjust-bogus-client", why::http_only},
    keyword_note{"h1-case-adjust-bogus-server", why::http_only},
};

/// option httpchk [[METHOD] URI [VERSION]]
void read_httpchk(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    if (w.size() > 5) {
        r.error(line, "expected 'option httpchk [[METHOD] URI [VERSION]]'");
        return;
    }
    check_settings c;
    c.kind = check_kind::http;
    c.line = line;
    if (w.size() == 3) c.uri = w[2];
    if (w.size() >= 4) {
        c.method = w[2];
        c.uri = w[3];
    }
    // Before `http-check send` existed, headers rode on the version: "HTTP/1.1\r\nHost:\ x".
    if (w.size() == 5 && w[4].find('\n') != std::string::npos)
        r.warn(line, "the headers in the check request have no effect: patroxy polls Patroni with its own requests");
    p.settings.check = std::move(c);
}

} // namespace

bool apply_option_directive(const std::vector<std::string>& w, bool negated, unsigned line, proxy& p, report& r)
{
    if (w[0] != "option") return false;
    if (w.size() < 2) {
        r.error(line, "expected 'option NAME'");
        return true;
    }
    const auto& name = w[1];
    const bool check_option = name == "httpchk" || std::find(other_checks.begin(), other_checks.end(), name) != other_checks.end();
    if (check_option && p.sec->kind == section_kind::frontend) {
        r.warn(line, "option " + name + " has no effect in a frontend (checks belong to the backend)");
        return true;
    }
    if (check_option && negated) {
        p.settings.check = check_settings{};
    } else if (name == "httpchk") {
        read_httpchk(w, line, p, r);
    } else if (check_option) {
        check_settings c;
        c.kind = check_kind::other;
        c.line = line;
        c.other_name = name;
        p.settings.check = std::move(c);
    } else if (name == "tcplog") {
        // patroxy's session line has tcplog's fields (README.md "Logging"): log.sessions.
        p.settings.tcplog = located<bool>{!negated, line};
    } else if (name == "redispatch") {
        // Accepted as it is: patroxy always tries the next eligible member after a failed connect.
    } else if (name == "transparent") {
        r.error(line, "option transparent is not supported: patroxy connects to the servers listed");
    } else {
        if (const auto* o = find_keyword(ignored_options, name))
            r.warn(line, "option " + name + " has no effect: " + std::string(o->why));
        else r.error(line, "unknown option '" + name + "'");
    }
    return true;
}

} // namespace patroxy::config::haproxy
