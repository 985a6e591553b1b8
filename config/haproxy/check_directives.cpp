// `http-check …` and `tcp-check …` lines. patroxy follows Patroni's own 200/503 answer, so the only
// expectation it can honour is `status 200`; the request's method and URI select the role.
#include "config/haproxy/proxy.hpp"

namespace patroxy::config::haproxy {
namespace {

/// http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]… [body S] [comment C]
void read_send(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    bool headers = false;
    for (std::size_t i = 2; i < w.size(); i += 2) {
        const auto& k = w[i];
        if (i + 1 >= w.size()) {
            r.error(line, "http-check send: '" + k + "' needs a value");
            return;
        }
        if (k == "meth") {
            p.settings.check.send_method = located<std::string>{w[i + 1], line};
        } else if (k == "uri") {
            p.settings.check.send_uri = located<std::string>{w[i + 1], line};
        } else if (k == "uri-lf") {
            r.error(line, "http-check send uri-lf is not supported: write the URI itself (uri /replica)");
            return;
        } else if (k == "hdr") {
            headers = true;
            ++i; // a header takes a name and a value
        } else if (k == "body" || k == "body-lf") {
            headers = true;
        } else if (k != "ver" && k != "comment") {
            r.error(line, "http-check send: unknown parameter '" + k + "'");
            return;
        }
    }
    if (headers)
        r.warn(line, "the headers and body of the check request have no effect: patroxy polls Patroni with its own requests");
}

void read_http_check(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    const auto what = w.size() > 1 ? w[1] : std::string();
    if (what == "expect") {
        if (w.size() == 4 && w[2] == "status" && w[3] == "200") return; // what Patroni answers a match with
        std::string rest;
        for (std::size_t i = 2; i < w.size(); ++i) rest += (i > 2 ? " " : "") + w[i];
        r.error(line, "http-check expect " + rest +
                          " is not supported: patroxy follows Patroni's 200 (selected) or 503 (not selected), so only "
                          "'http-check expect status 200' keeps its meaning");
    } else if (what == "send") {
        read_send(w, line, p, r);
    } else if (what == "connect") {
        r.error(line, "http-check connect is not supported: give the Patroni REST API's port with 'port N' on the "
                      "server or default-server line");
    } else if (what == "disable-on-404" || what == "send-state" || what == "set-var" || what == "unset-var") {
        r.warn(line, "http-check " + what + " has no effect: patroxy reads Patroni's answer itself");
    } else if (what != "comment") {
        r.error(line, "unknown http-check rule '" + what + "'");
    }
}

} // namespace

bool apply_check_directive(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    if (w[0] != "http-check" && w[0] != "tcp-check") return false;
    if (p.sec->kind == section_kind::frontend) {
        r.warn(line, w[0] + " has no effect in a frontend (checks belong to the backend)");
    } else if (w[0] == "tcp-check") {
        r.warn(line, "tcp-check rules have no effect: patroxy runs no TCP checks (a static server is used unless its "
                     "member is known down)");
    } else {
        read_http_check(w, line, p, r);
    }
    return true;
}

} // namespace patroxy::config::haproxy
