#include "proxy/app/stats_routes.hpp"

#include "proxy/stats/form.hpp"
#include "proxy/stats/render_csv.hpp"
#include "proxy/stats/render_html.hpp"
#include "proxy/stats/render_json.hpp"
#include "proxy/stats/render_metrics.hpp"

namespace patroxy::proxy {
namespace {

stats::http_reply text_reply(unsigned status, std::string body)
{
    stats::http_reply r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
}

stats::http_reply rendered(std::string content_type, std::string body)
{
    stats::http_reply r;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
}

stats::http_reply apply_admin_form(const stats::http_request& request, const stats_backend& backend)
{
    const auto form = stats::parse_form(request.body);
    const auto listener = stats::form_value(form, "listener");
    const auto member = stats::form_value(form, "member");
    const auto state_text = stats::form_value(form, "state");
    if (!listener || !member || !state_text)
        return text_reply(400, "admin form needs listener, member and state\n");
    const auto state = stats::parse_admin_state(*state_text);
    if (!state) return text_reply(400, "state must be ready, drain or maint, not '" + *state_text + "'\n");
    if (auto error = backend.set_admin(*listener, *member, *state); !error.empty()) return text_reply(400, error + "\n");
    // Back to the page, which now shows the new state (POST/redirect/GET: a reload does not resend).
    auto reply = text_reply(303, "done\n");
    reply.headers.emplace_back("Location", backend.page_uri);
    return reply;
}

/// The page's uri split at its '?': HAProxy's default `stats uri /haproxy?stats` has a query.
struct page_address {
    std::string_view path;
    std::string_view query;

    explicit page_address(std::string_view uri)
    {
        const auto mark = uri.find('?');
        path = uri.substr(0, mark);
        query = mark == std::string_view::npos ? std::string_view{} : uri.substr(mark + 1);
    }

    [[nodiscard]] bool is_page(const stats::http_request& r) const
    {
        if (path == "/" && query.empty() && r.path == "/stats") return true; // the default's alias
        return r.path == path && r.query.starts_with(query);
    }

    /// `<uri>;csv`, HAProxy's CSV address: ";csv" after the path, or after the query when there is one.
    [[nodiscard]] bool is_csv(const stats::http_request& r) const
    {
        if (path == "/" && query.empty() && r.path == "/stats;csv") return true;
        if (query.empty()) return r.path.size() == path.size() + 4 && r.path.starts_with(path) && r.path.ends_with(";csv");
        return r.path == path && r.query.size() == query.size() + 4 && r.query.starts_with(query) &&
               r.query.ends_with(";csv");
    }
};

} // namespace

stats::http_reply serve_stats_request(const stats::http_request& request, const stats_backend& backend)
{
    const auto& path = request.path;
    const page_address page(backend.page_uri);
    if (path == "/admin" || (request.method == "POST" && page.is_page(request))) {
        if (request.method != "POST") {
            auto reply = text_reply(405, "use POST\n");
            reply.headers.emplace_back("Allow", "POST");
            return reply;
        }
        if (!backend.admin_allowed)
            return text_reply(403, "admin actions are disabled: they need stats.admin, or stats.auth when stats.admin "
                                   "is not set\n");
        return apply_admin_form(request, backend);
    }
    if (request.method != "GET" && request.method != "HEAD") {
        auto reply = text_reply(405, "use GET\n");
        reply.headers.emplace_back("Allow", "GET, HEAD");
        return reply;
    }
    if (path == "/health") {
        const bool ready = backend.ready();
        return text_reply(ready ? 200 : 503, ready ? "ready\n" : "starting\n");
    }
    // CSV first: "/;csv" must not read as the page "/" with a query.
    if (path == "/stats.csv" || page.is_csv(request))
        return rendered("text/csv; charset=utf-8", stats::render_csv(backend.view()));
    if (page.is_page(request)) return rendered("text/html; charset=utf-8", stats::render_html(backend.view()));
    if (path == "/stats.json") return rendered("application/json", stats::render_json(backend.view()));
    if (path == "/metrics")
        return rendered("text/plain; version=0.0.4; charset=utf-8", stats::render_metrics(backend.view()));
    return text_reply(404, "no such page: try " + backend.page_uri + ", /stats.json, /stats.csv, /metrics or /health\n");
}

} // namespace patroxy::proxy
