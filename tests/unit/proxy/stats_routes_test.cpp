// The stats listener's routes: which path gives what, and the admin form's validation.
#include "proxy/app/stats_routes.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using patroxy::proxy::serve_stats_request;
using patroxy::proxy::stats_backend;
namespace stats = patroxy::proxy::stats;

namespace {

struct recorded_admin {
    std::string listener, member;
    stats::admin_state state = stats::admin_state::ready;
};

struct fixture {
    bool ready = true;
    std::vector<recorded_admin> calls;
    stats_backend backend{
        .view = [] {
            stats::stats_view v;
            v.version = "test";
            v.scope = "demo";
            return v;
        },
        .set_admin = [this](std::string_view l, std::string_view m, stats::admin_state s) -> std::string {
            if (m != "node1") return "unknown member '" + std::string(m) + "'";
            calls.push_back({std::string(l), std::string(m), s});
            return {};
        },
        .ready = [this] { return ready; },
        .admin_allowed = true,
    };

    /// `target` is the path, or path?query.
    stats::http_reply get(std::string target, std::string method = "GET", std::string body = {})
    {
        stats::http_request r;
        r.method = std::move(method);
        const auto mark = target.find('?');
        r.path = target.substr(0, mark);
        if (mark != std::string::npos) r.query = target.substr(mark + 1);
        r.body = std::move(body);
        return serve_stats_request(r, backend);
    }
};

std::string header(const stats::http_reply& r, std::string_view name)
{
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

} // namespace

TEST_CASE("each stats path gives its format", "[proxy][stats_routes]")
{
    fixture f;
    CHECK(f.get("/").content_type.starts_with("text/html"));
    CHECK(f.get("/stats").content_type.starts_with("text/html"));
    CHECK(f.get("/stats.json").content_type == "application/json");
    for (const char* csv : {"/stats.csv", "/;csv", "/stats;csv"}) {
        const auto r = f.get(csv);
        CHECK(r.content_type.starts_with("text/csv"));
        CHECK(r.body.starts_with("# pxname,svname,"));
    }
    const auto metrics = f.get("/metrics");
    CHECK(metrics.content_type.starts_with("text/plain; version=0.0.4"));
    CHECK(metrics.body.find("patroxy_build_info") != std::string::npos);
    CHECK(f.get("/nope").status == 404);
    const auto head = f.get("/stats.json", "HEAD");
    CHECK(head.status == 200);
    const auto put = f.get("/", "PUT");
    CHECK(put.status == 405);
    CHECK(header(put, "Allow") == "GET, HEAD");
}

TEST_CASE("/health is 503 until the proxy is ready", "[proxy][stats_routes]")
{
    fixture f;
    f.ready = false;
    CHECK(f.get("/health").status == 503);
    f.ready = true;
    CHECK(f.get("/health").status == 200);
}

TEST_CASE("the admin form is validated before anything changes", "[proxy][stats_routes]")
{
    fixture f;
    CHECK(f.get("/admin").status == 405);
    CHECK(f.get("/admin", "POST", "listener=primary&member=node1").status == 400);        // no state
    CHECK(f.get("/admin", "POST", "listener=primary&member=node1&state=off").status == 400); // bad state
    const auto unknown = f.get("/admin", "POST", "listener=primary&member=node9&state=drain");
    CHECK(unknown.status == 400);
    CHECK(unknown.body.find("node9") != std::string::npos);
    CHECK(f.calls.empty());

    const auto ok = f.get("/admin", "POST", "listener=%2A&member=node1&state=maint");
    CHECK(ok.status == 303);
    CHECK(header(ok, "Location") == "/"); // back to the page, at stats.uri
    REQUIRE(f.calls.size() == 1);
    CHECK(f.calls[0].listener == "*");
    CHECK(f.calls[0].state == stats::admin_state::maint);

    f.backend.admin_allowed = false; // no stats.auth: nobody may act
    CHECK(f.get("/admin", "POST", "listener=primary&member=node1&state=ready").status == 403);
    CHECK(f.calls.size() == 1);
}

TEST_CASE("stats.uri moves the page (and its CSV export), the other routes stay", "[proxy][stats_routes]")
{
    fixture f;
    const auto is_html = [&f](const std::string& target) { return f.get(target).content_type.starts_with("text/html"); };
    const auto is_csv = [&f](const std::string& target) { return f.get(target).content_type.starts_with("text/csv"); };

    SECTION("a path")
    {
        f.backend.page_uri = "/pg/stats";
        CHECK(is_html("/pg/stats"));
        CHECK(is_html("/pg/stats?refresh=1"));
        CHECK(is_csv("/pg/stats;csv"));
        CHECK(f.get("/").status == 404); // HAProxy serves the page only at its uri
        CHECK(f.get("/stats").status == 404);
        CHECK(f.get("/;csv").status == 404);
        CHECK(f.get("/pg/stat").status == 404);
        CHECK(f.get("/pg/stats/x").status == 404);
        const auto missing = f.get("/nope");
        CHECK(missing.body.find("/pg/stats") != std::string::npos);
    }
    SECTION("HAProxy's default, with a query")
    {
        f.backend.page_uri = "/haproxy?stats";
        CHECK(is_html("/haproxy?stats"));
        CHECK(is_csv("/haproxy?stats;csv"));
        CHECK(f.get("/haproxy").status == 404);
        CHECK(f.get("/haproxy?other").status == 404);
        CHECK(f.get("/").status == 404);
    }
    // Wherever the page is, the machine-readable routes stay where they are.
    CHECK(f.get("/stats.json").content_type == "application/json");
    CHECK(is_csv("/stats.csv"));
    CHECK(f.get("/metrics").status == 200);
    CHECK(f.get("/health").status == 200);
}

TEST_CASE("the admin form posts to /admin or to the page, and goes back to the page", "[proxy][stats_routes]")
{
    fixture f;
    f.backend.page_uri = "/pg/stats";
    const auto at_page = f.get("/pg/stats", "POST", "listener=primary&member=node1&state=drain");
    CHECK(at_page.status == 303);
    CHECK(header(at_page, "Location") == "/pg/stats");
    const auto at_admin = f.get("/admin", "POST", "listener=primary&member=node1&state=ready");
    CHECK(at_admin.status == 303);
    CHECK(header(at_admin, "Location") == "/pg/stats");
    CHECK(f.calls.size() == 2);
    CHECK(f.get("/", "POST", "listener=primary&member=node1&state=ready").status == 405); // not the page

    f.backend.admin_allowed = false; // stats.admin false, or unset without stats.auth
    const auto refused = f.get("/pg/stats", "POST", "listener=primary&member=node1&state=maint");
    CHECK(refused.status == 403);
    CHECK(refused.body.find("stats.admin") != std::string::npos);
    CHECK(f.calls.size() == 2);
}
