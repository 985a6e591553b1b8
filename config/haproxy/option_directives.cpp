// `option …` lines: the check options (httpchk and the protocol checks that make a section a
// static server list), redispatch, and the many options that change nothing for patroxy.
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

struct ignored_option {
    std::string_view name;
    std::string_view why;
};

constexpr std::string_view why_log = "patroxy writes its own log lines";
constexpr std::string_view why_http = "HTTP options have no meaning for PostgreSQL traffic or patroxy's stats page";
constexpr std::string_view why_tcp = "patroxy sets its own socket options";

constexpr std::array ignored_options{
    ignored_option{"tcplog", why_log},
    ignored_option{"httplog", why_log},
    ignored_option{"httpslog", why_log},
    ignored_option{"dontlognull", why_log},
    ignored_option{"dontlog-normal", why_log},
    ignored_option{"log-health-checks", why_log},
    ignored_option{"log-separate-errors", why_log},
    ignored_option{"logasap", why_log},
    ignored_option{"tcpka", why_tcp},
    ignored_option{"clitcpka", why_tcp},
    ignored_option{"srvtcpka", why_tcp},
    ignored_option{"nolinger", why_tcp},
    ignored_option{"tcp-smart-accept", why_tcp},
    ignored_option{"tcp-smart-connect", why_tcp},
    ignored_option{"splice-auto", why_tcp},
    ignored_option{"splice-request", why_tcp},
    ignored_option{"splice-response", why_tcp},
    ignored_option{"socket-stats", "patroxy counts per listener and member"},
    ignored_option{"contstats", "patroxy counts bytes as they pass"},
    ignored_option{"independent-streams", "patroxy's idle timeouts watch each side on its own already"},
    ignored_option{"abortonclose", "a client that leaves while queued is dropped from patroxy's queue anyway"},
    ignored_option{"allbackups", "patroxy always balances among every eligible backup"},
    ignored_option{"persist", "patroxy has no stickiness"},
    ignored_option{"prefer-last-server", "patroxy has no stickiness"},
    ignored_option{"checkcache", why_http},
    ignored_option{"forwardfor", why_http},
    ignored_option{"originalto", why_http},
    ignored_option{"http-server-close", why_http},
    ignored_option{"httpclose", why_http},
    ignored_option{"forceclose", why_http},
    ignored_option{"http-keep-alive", why_http},
    ignored_option{"http-pretend-keepalive", why_http},
    ignored_option{"http-no-delay", why_http},
    ignored_option{"http-buffer-request", why_http},
    ignored_option{"http-use-proxy-header", why_http},
    ignored_option{"http-ignore-probes", why_http},
    ignored_option{"http-restrict-req-hdr-names", why_http},
    ignored_option{"idle-close-on-response", why_http},
    ignored_option{"disable-h2-upgrade", why_http},
    ignored_option{"accept-invalid-http-request", why_http},
    ignored_option{"accept-invalid-http-response", why_http},
    ignored_option{"h1-case-adjust-bogus-client", why_http},
    ignored_option{"h1-case-adjust-bogus-server", why_http},
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
    } else if (name == "redispatch") {
        // Accepted as it is: patroxy always tries the next eligible member after a failed connect.
    } else if (name == "transparent") {
        r.error(line, "option transparent is not supported: patroxy connects to the servers listed");
    } else {
        for (const auto& o : ignored_options) {
            if (o.name == name) {
                r.warn(line, "option " + name + " has no effect: " + std::string(o.why));
                return true;
            }
        }
        r.error(line, "unknown option '" + name + "'");
    }
    return true;
}

} // namespace patroxy::config::haproxy
