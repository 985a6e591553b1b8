// The stats listener's routes: which path gives which rendering of the stats view, the admin
// form, and the proxy's own health for load balancers and Kubernetes probes.
#pragma once

#include "proxy/stats/http_reply.hpp"
#include "proxy/stats/stats_view.hpp"

#include <functional>
#include <string>
#include <string_view>

namespace patroxy::proxy {

/// What the routes need from the running proxy.
struct stats_backend {
    /// A fresh view (control thread).
    std::function<stats::stats_view()> view;
    /// Puts `member` in `state` on listener `listener` ("*" = every listener). Returns an
    /// operator-readable error, or "" on success.
    std::function<std::string(std::string_view listener, std::string_view member, stats::admin_state state)> set_admin;
    /// Listeners bound and a first snapshot published.
    std::function<bool()> ready;
    /// Admin actions are accepted: stats.admin, or (unset) stats.auth (the server checked the user).
    bool admin_allowed = false;
    /// stats.uri: where the HTML page is (HAProxy's `stats uri`), possibly with a query part
    /// ("/haproxy?stats"): a request whose path is the uri's and whose query starts with its
    /// query gets the page.
    std::string page_uri = "/";
};

/// GET/HEAD  <uri>               the HTML page (with the default uri "/": also /stats)
///           /stats.json         everything on the page as JSON
///           /stats.csv  <uri>;csv   HAProxy's CSV (with the default uri: /;csv and /stats;csv)
///           /metrics            Prometheus text format
///           /health             200 "ready" once serving, else 503
/// POST      /admin  <uri>       form: listener (name or *), member, state (ready|drain|maint);
///                               answered 303 back to the page
[[nodiscard]] stats::http_reply serve_stats_request(const stats::http_request& request, const stats_backend& backend);

} // namespace patroxy::proxy
