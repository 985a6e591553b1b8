// The stats listener's routes: which path gives which rendering of the stats view, the admin
// form, and the proxy's own health for load balancers and Kubernetes probes.
#pragma once

#include "proxy/stats/http_request.hpp"
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
    /// stats.auth is set: only then are admin actions accepted (the server checked the user).
    bool admin_allowed = false;
};

/// GET/HEAD  /  /stats           the HTML page
///           /stats.json         everything on the page as JSON
///           /stats.csv  /;csv  /stats;csv   HAProxy's CSV
///           /metrics            Prometheus text format
///           /health             200 "ready" once serving, else 503
/// POST      /admin              form: listener (name or *), member, state (ready|drain|maint)
[[nodiscard]] stats::http_reply serve_stats_request(const stats::http_request& request, const stats_backend& backend);

} // namespace patroxy::proxy
