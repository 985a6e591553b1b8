// The stats listener with real parts (issue 5, "How it is proven"): three real PostgreSQL 15
// servers play node1..node3 behind fake Patroni REST APIs, patroxy runs as a subprocess with a
// primary and a replica listener and a stats listener with Basic auth, and the tests read the
// page, /stats.json, /stats.csv and /metrics over HTTP while libpq sessions run through patroxy.
#include <catch2/catch.hpp>

#include "proxy/stats/format.hpp"
#include "tests/support/fake_patroni.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t members = 3;
constexpr std::string_view promtool = "/usr/bin/promtool";

std::string node(std::size_t i) { return "node" + std::to_string(i + 1); }

/// The right credentials, as the config below sets them.
const http_fields& admin_auth()
{
    static const http_fields fields{{"Authorization", basic_authorization("admin", "s3cret")}};
    return fields;
}

template <class Pred>
bool wait_until(Pred pred, milliseconds timeout, milliseconds step = 50ms)
{
    const auto deadline = steady::now() + timeout;
    while (!pred()) {
        if (steady::now() >= deadline)
            return false;
        std::this_thread::sleep_for(step);
    }
    return true;
}

/// The third server (the tier shares two); started from the main thread on first use.
pg_server& stats_third_server()
{
    static pg_server server;
    return server;
}

/// node1..node3, each a real server with a fake Patroni API; node1 leads, the others replicate.
class patroni_trio {
public:
    patroni_trio() : pg_ports_{shared_pg_server(0).port(), shared_pg_server(1).port(), stats_third_server().port()}
    {
        std::vector<cluster_member> dcs;
        for (std::size_t i = 0; i < members; ++i) {
            apis_[i] = std::make_unique<fake_patroni>();
            patroni_member self;
            self.role = i == 0 ? "master" : "replica";
            apis_[i]->set_patroni_body(patroni_json(self).dump());
            cluster_member entry;
            entry.name = node(i);
            entry.role = i == 0 ? "leader" : "replica";
            entry.api_url = apis_[i]->api_url() + "/patroni";
            entry.port = pg_ports_[i];
            if (i != 0)
                entry.lag = 0;
            dcs.push_back(std::move(entry));
        }
        for (auto& api : apis_)
            api->set_cluster_body(cluster_json(dcs).dump());
    }

    [[nodiscard]] std::uint16_t pg_port(std::size_t i) const { return pg_ports_.at(i); }
    [[nodiscard]] fake_patroni& api(std::size_t i) { return *apis_.at(i); }

private:
    std::array<std::uint16_t, members> pg_ports_;
    std::array<std::unique_ptr<fake_patroni>, members> apis_;
};

/// The ports of one patroxy: its two (or, after a reload, three) listeners and the stats listener.
struct proxy_ports {
    std::uint16_t primary = free_port();
    std::uint16_t replicas = free_port();
    std::uint16_t readonly = free_port(); ///< only in the reloaded config
    std::uint16_t stats = free_port();
};

/// The native config: role listeners "primary" and "replicas" (plus "readonly" with
/// `with_readonly`), polling every 500 ms (a check may take 1 s on a busy machine), and the stats
/// listener with refresh 1s and auth.
std::string config_text(patroni_trio& trio, const proxy_ports& ports, std::string_view replicas_balance = "roundrobin",
                        bool with_readonly = false)
{
    json ms = json::array();
    for (std::size_t i = 0; i < members; ++i)
        ms.push_back({{"name", node(i)}, {"host", "127.0.0.1"}, {"port", trio.pg_port(i)}, {"api", trio.api(i).api_url()}});
    const auto bind = [](std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); };
    json listeners = json::array({
        {{"name", "primary"}, {"bind", bind(ports.primary)}, {"role", "primary"}, {"queue_timeout", "2s"}},
        {{"name", "replicas"}, {"bind", bind(ports.replicas)}, {"role", "replica"}, {"balance", replicas_balance}},
    });
    if (with_readonly)
        listeners.push_back({{"name", "readonly"}, {"bind", bind(ports.readonly)}, {"role", "read-only"}});
    const json doc = {
        {"cluster", {{"scope", "demo"}, {"members", std::move(ms)}}},
        {"health", {{"interval", "500ms"}, {"fast_interval", "100ms"}, {"timeout", "1s"}, {"fall", 3}, {"rise", 2}}},
        {"listeners", std::move(listeners)},
        {"timeouts", {{"connect", "1s"}, {"startup", "2s"}}},
        {"workers", 1},
        {"stats",
         {{"bind", bind(ports.stats)}, {"refresh", "1s"}, {"auth", {{"user", "admin"}, {"password", "s3cret"}}}}},
    };
    return doc.dump(2);
}

std::unique_ptr<patroxy_process> start_proxy(patroni_trio& trio, const proxy_ports& ports)
{
    return std::make_unique<patroxy_process>(PATROXY_BINARY, config_text(trio, ports),
                                             std::vector<std::uint16_t>{ports.primary, ports.replicas, ports.stats});
}

/// GET `path` with the admin's credentials; throws unless the answer is 200.
std::string fetch(std::uint16_t stats_port, std::string_view path)
{
    const auto r = http_get(stats_port, path, admin_auth());
    if (r.status != 200)
        throw std::runtime_error("GET " + std::string(path) + " answered " + std::to_string(r.status) + ": " + r.body);
    return r.body;
}

json stats_json(std::uint16_t stats_port) { return json::parse(fetch(stats_port, "/stats.json")); }

/// POST /admin with the admin's credentials; the status code.
int post_admin(std::uint16_t stats_port, const std::string& form)
{
    return http_request(stats_port, "POST", "/admin", admin_auth(), form).status;
}

/// The entry of `array` whose "name" is `name` (throws when there is none).
const json& named(const json& array, std::string_view name)
{
    for (const auto& e : array)
        if (e.at("name") == name)
            return e;
    throw std::runtime_error("no entry named " + std::string(name) + " in " + array.dump());
}

const json& listener_of(const json& view, std::string_view name) { return named(view.at("listeners"), name); }
const json& server_of(const json& view, std::string_view listener, std::string_view member)
{
    return named(listener_of(view, listener).at("servers"), member);
}

/// Both role listeners route: node1 active on "primary", node2 and node3 on "replicas".
bool routing_ready(std::uint16_t stats_port)
{
    try {
        const auto v = stats_json(stats_port);
        return server_of(v, "primary", "node1").at("active") == true &&
               server_of(v, "replicas", "node2").at("active") == true &&
               server_of(v, "replicas", "node3").at("active") == true;
    } catch (const std::exception&) {
        return false;
    }
}

/// patroxy over node1..node3, started, with both role listeners routing (as /stats.json says).
struct running_proxy {
    running_proxy() { REQUIRE(wait_until([this] { return routing_ready(ports.stats); }, 5s)); }

    patroni_trio trio;
    proxy_ports ports;
    std::unique_ptr<patroxy_process> proxy = start_proxy(trio, ports);
};

/// The servers `n` new sessions through `listener_port` reach (0: refused).
std::multiset<std::uint16_t> reach_n(std::uint16_t listener_port, std::size_t n)
{
    return servers_reached(listener_port, n);
}

std::set<std::uint16_t> distinct(const std::multiset<std::uint16_t>& m) { return {m.begin(), m.end()}; }

/// /stats.csv as rows of column name -> cell ("# pxname,svname,..." names the columns).
std::vector<std::map<std::string, std::string>> parse_csv(const std::string& text)
{
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);
    REQUIRE(line.rfind("# ", 0) == 0);
    const auto split = [](const std::string& l) {
        std::vector<std::string> cells;
        std::string cell;
        std::istringstream s(l);
        while (std::getline(s, cell, ','))
            cells.push_back(cell);
        return cells;
    };
    const auto names = split(line.substr(2));
    std::vector<std::map<std::string, std::string>> rows;
    while (std::getline(in, line)) {
        const auto cells = split(line);
        std::map<std::string, std::string> row;
        for (std::size_t i = 0; i < names.size() && i < cells.size(); ++i)
            row[names[i]] = cells[i];
        rows.push_back(std::move(row));
    }
    return rows;
}

const std::map<std::string, std::string>& csv_row(const std::vector<std::map<std::string, std::string>>& rows,
                                                   std::string_view listener, std::string_view name)
{
    for (const auto& r : rows)
        if (r.at("pxname") == listener && r.at("svname") == name)
            return r;
    throw std::runtime_error("no CSV row " + std::string(listener) + "/" + std::string(name));
}

/// Prometheus text as series -> value, the series written as the serializer does:
/// `name{label="value",...}` with labels in name order, or the bare name.
std::map<std::string, double> parse_metrics(const std::string& text)
{
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        const auto space = line.rfind(' ');
        out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    }
    return out;
}

/// The exact integer a counter series holds (fails the test when it is absent).
std::uint64_t series(const std::map<std::string, double>& metrics, const std::string& name)
{
    const auto it = metrics.find(name);
    INFO("series " << name);
    REQUIRE(it != metrics.end());
    return static_cast<std::uint64_t>(it->second);
}

std::string labels(std::string_view listener, std::string_view member = {})
{
    std::string text = "{listener=\"" + std::string(listener) + "\"";
    if (!member.empty())
        text += ",member=\"" + std::string(member) + "\"";
    return text + "}";
}

/// The text of every cell of the first `<tr` in `html` from `from` on that contains `marker`,
/// one entry per column (a colspan cell repeats), markup stripped.
std::vector<std::string> html_row(const std::string& html, std::size_t from, std::string_view marker)
{
    const auto at = html.find(marker, from);
    REQUIRE(at != std::string::npos);
    const auto start = html.rfind("<tr", at);
    const auto end = html.find("</tr>", at);
    const std::string row = html.substr(start, end - start);
    std::vector<std::string> cells;
    for (auto td = row.find("<td"); td != std::string::npos; td = row.find("<td", td + 1)) {
        const auto open_end = row.find('>', td);
        const std::string open = row.substr(td, open_end - td);
        std::size_t span = 1;
        if (const auto cs = open.find("colspan=\""); cs != std::string::npos)
            span = std::stoul(open.substr(cs + 9));
        std::string text;
        bool in_tag = false;
        for (auto i = open_end + 1; i < row.size() && row.compare(i, 5, "</td>") != 0; ++i) {
            if (row[i] == '<')
                in_tag = true;
            else if (row[i] == '>')
                in_tag = false;
            else if (!in_tag)
                text += row[i];
        }
        for (std::size_t k = 0; k < span; ++k)
            cells.push_back(text);
    }
    return cells;
}

/// Columns of a listener table's FRONTEND and server rows (render_html.cpp's layout).
enum html_column : std::size_t { html_total = 9, html_bytes_in = 12, html_bytes_out = 13, html_status = 18 };

/// Where the table of `listener` starts in the page.
std::size_t table_of(const std::string& html, std::string_view listener)
{
    const auto at = html.find("id=\"listener-" + std::string(listener) + "\"");
    REQUIRE(at != std::string::npos);
    return at;
}

/// One statement of a session, and whether it worked.
bool run_ok(PGconn* c, const std::string& sql)
{
    const auto r = pq_exec(c, sql);
    return PQresultStatus(r.get()) == PGRES_TUPLES_OK || PQresultStatus(r.get()) == PGRES_COMMAND_OK;
}

} // namespace

TEST_CASE("stats: the page, JSON, CSV and metrics agree on sessions and bytes, and name the primary", "[stats]")
{
    running_proxy running;
    auto& [trio, ports, proxy] = running;

    // Five sessions through the primary listener, each reading 100000 bytes of 'x', then closed.
    constexpr std::size_t sessions = 5;
    constexpr std::uint64_t payload = 100000;
    for (std::size_t i = 0; i < sessions; ++i) {
        auto c = connect_via(ports.primary);
        REQUIRE(server_port(c.get()) == trio.pg_port(0));
        const auto r = pq_exec(c.get(), "SELECT repeat('x', " + std::to_string(payload) + ")");
        REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        CHECK(PQgetlength(r.get(), 0, 0) == static_cast<int>(payload));
    }
    // Bytes are added when a session closes: wait for the view to settle.
    json view;
    REQUIRE(wait_until(
        [&] {
            view = stats_json(ports.stats);
            const auto& l = listener_of(view, "primary");
            return l.at("sessions_cur") == 0 && l.at("sessions_total") == sessions &&
                   l.at("bytes_out").get<std::uint64_t>() >= sessions * payload &&
                   server_of(view, "primary", "node1").at("bytes_out") == l.at("bytes_out");
        },
        5s));
    // The four formats read the same counters; nothing moves them between these requests.
    view = stats_json(ports.stats);
    const auto html = fetch(ports.stats, "/");
    const auto csv = parse_csv(fetch(ports.stats, "/stats.csv"));
    const auto metrics = parse_metrics(fetch(ports.stats, "/metrics"));
    CHECK(fetch(ports.stats, "/;csv").substr(0, 100) == fetch(ports.stats, "/stats.csv").substr(0, 100));
    INFO("stats.json: " << view.dump());

    const auto& primary = listener_of(view, "primary");
    CHECK(primary.at("sessions_total") == sessions);
    CHECK(primary.at("bytes_out").get<std::uint64_t>() >= sessions * payload);
    CHECK(primary.at("bytes_in").get<std::uint64_t>() > 0);
    const auto& node1 = server_of(view, "primary", "node1");
    CHECK(node1.at("sessions_total") == sessions);
    CHECK(node1.at("bytes_in") == primary.at("bytes_in"));
    CHECK(node1.at("bytes_out") == primary.at("bytes_out"));
    CHECK(listener_of(view, "replicas").at("sessions_total") == 0);

    for (const std::string listener : {"primary", "replicas"}) {
        const auto& l = listener_of(view, listener);
        const auto total = l.at("sessions_total").get<std::uint64_t>();
        const auto in = l.at("bytes_in").get<std::uint64_t>();
        const auto out = l.at("bytes_out").get<std::uint64_t>();
        INFO("listener " << listener);
        const auto& frontend = csv_row(csv, listener, "FRONTEND");
        CHECK(frontend.at("stot") == std::to_string(total));
        CHECK(frontend.at("bin") == std::to_string(in));
        CHECK(frontend.at("bout") == std::to_string(out));
        CHECK(series(metrics, "patroxy_listener_sessions_total" + labels(listener)) == total);
        CHECK(series(metrics, "patroxy_listener_bytes_in_total" + labels(listener)) == in);
        CHECK(series(metrics, "patroxy_listener_bytes_out_total" + labels(listener)) == out);
        const auto table = table_of(html, listener);
        const auto front_cells = html_row(html, table, "<tr class=\"frontend\">");
        REQUIRE(front_cells.size() > html_bytes_out);
        CHECK(front_cells[html_total] == std::to_string(total));
        CHECK(front_cells[html_bytes_in] == patroxy::proxy::stats::format_bytes(in));
        CHECK(front_cells[html_bytes_out] == patroxy::proxy::stats::format_bytes(out));

        for (std::size_t i = 0; i < members; ++i) {
            const auto& s = server_of(view, listener, node(i));
            const auto s_total = s.at("sessions_total").get<std::uint64_t>();
            const auto s_in = s.at("bytes_in").get<std::uint64_t>();
            const auto s_out = s.at("bytes_out").get<std::uint64_t>();
            INFO("server " << node(i));
            const auto& row = csv_row(csv, listener, node(i));
            CHECK(row.at("stot") == std::to_string(s_total));
            CHECK(row.at("bin") == std::to_string(s_in));
            CHECK(row.at("bout") == std::to_string(s_out));
            CHECK(series(metrics, "patroxy_server_sessions_total" + labels(listener, node(i))) == s_total);
            CHECK(series(metrics, "patroxy_server_bytes_in_total" + labels(listener, node(i))) == s_in);
            CHECK(series(metrics, "patroxy_server_bytes_out_total" + labels(listener, node(i))) == s_out);
            const auto cells = html_row(html, table, "data-member=\"" + node(i) + "\"");
            REQUIRE(cells.size() > html_status);
            CHECK(cells[0] == node(i));
            CHECK(cells[html_total] == std::to_string(s_total));
            CHECK(cells[html_bytes_in] == patroxy::proxy::stats::format_bytes(s_in));
            CHECK(cells[html_bytes_out] == patroxy::proxy::stats::format_bytes(s_out));
        }
    }

    // node1 is the primary, and the only member the primary listener may use.
    CHECK(view.at("primary") == "node1");
    CHECK(view.at("leader") == "node1");
    CHECK(named(view.at("cluster"), "node1").at("role") == "Leader");
    CHECK(named(view.at("cluster"), "node2").at("role") == "Replica");
    CHECK(node1.at("role") == "primary");
    CHECK(node1.at("status") == "UP");
    CHECK(node1.at("active") == true);
    CHECK(server_of(view, "primary", "node2").at("active") == false);
    CHECK(server_of(view, "replicas", "node1").at("active") == false);
    // As HAProxy shows a server whose check URI answers 503: DOWN on that listener, though it is
    // healthy (the cluster table says UP), so scripts looking for "the UP server of primary" work.
    CHECK(server_of(view, "primary", "node2").at("status") == "DOWN");
    CHECK(server_of(view, "replicas", "node1").at("status") == "DOWN");
    CHECK(named(view.at("cluster"), "node2").at("check_status") == "UP");
    CHECK(server_of(view, "replicas", "node2").at("active") == true);
    CHECK(series(metrics, "patroxy_server_up" + labels("primary", "node1")) == 1);
    CHECK(series(metrics, "patroxy_server_up" + labels("primary", "node2")) == 0);
    CHECK(series(metrics, "patroxy_server_up" + labels("replicas", "node1")) == 0);
    CHECK(series(metrics, "patroxy_server_up" + labels("replicas", "node3")) == 1);
    CHECK(series(metrics, "patroxy_member_role{member=\"node1\",role=\"primary\"}") == 1);
    CHECK(series(metrics, "patroxy_member_role{member=\"node2\",role=\"replica\"}") == 1);
    CHECK(series(metrics, "patroxy_listener_eligible_members" + labels("primary")) == 1);
    CHECK(series(metrics, "patroxy_listener_eligible_members" + labels("replicas")) == 2);
    CHECK(html.find("<tr class=\"active_up\" data-member=\"node1\" data-role=\"primary\">", table_of(html, "primary")) !=
          std::string::npos);

    // The page's render time as the stats listener reports it (three members, two listeners).
    std::vector<double> durations;
    for (int i = 0; i < 20; ++i) {
        const auto r = http_get(ports.stats, "/", admin_auth());
        REQUIRE(r.status == 200);
        const auto timing = r.header("Server-Timing");
        REQUIRE(timing);
        const auto dur = timing->find("render;dur=");
        REQUIRE(dur != std::string::npos);
        durations.push_back(std::stod(timing->substr(dur + 11)));
    }
    std::sort(durations.begin(), durations.end());
    const double median = (durations[9] + durations[10]) / 2;
    std::cout << "[stats] GET / render time (Server-Timing), median of 20: " << median << " ms (min "
              << durations.front() << ", max " << durations.back() << ")\n";
}

TEST_CASE("stats: every page but /health needs the configured credentials", "[stats]")
{
    running_proxy running;
    const auto& ports = running.ports;

    const http_fields wrong_password{{"Authorization", basic_authorization("admin", "wrong")}};
    const http_fields wrong_user{{"Authorization", basic_authorization("root", "s3cret")}};
    for (const std::string path : {"/", "/stats", "/stats.json", "/stats.csv", "/;csv", "/metrics"}) {
        INFO("GET " << path);
        for (const auto& fields : {http_fields{}, wrong_password, wrong_user}) {
            const auto r = http_get(ports.stats, path, fields);
            CHECK(r.status == 401);
            const auto challenge = r.header("WWW-Authenticate");
            REQUIRE(challenge);
            CHECK_THAT(*challenge, Catch::StartsWith("Basic realm="));
            CHECK(r.body.find("node1") == std::string::npos);
        }
        CHECK(http_get(ports.stats, path, admin_auth()).status == 200);
    }
    // An admin action without credentials changes nothing.
    const auto refused = http_request(ports.stats, "POST", "/admin", {}, "listener=replicas&member=node2&state=maint");
    CHECK(refused.status == 401);
    CHECK(refused.header("WWW-Authenticate"));
    CHECK(server_of(stats_json(ports.stats), "replicas", "node2").at("admin") == "ready");

    // Load balancers and probes ask /health without credentials.
    const auto health = http_get(ports.stats, "/health");
    CHECK(health.status == 200);
    CHECK(health.body == "ready\n");
    CHECK(http_get(ports.stats, "/health", wrong_password).status == 200);
}

TEST_CASE("stats: drain, maint and ready from POST /admin act on routing and live sessions", "[stats]")
{
    running_proxy running;
    auto& [trio, ports, proxy] = running;
    const auto node2 = trio.pg_port(1);
    const auto node3 = trio.pg_port(2);

    auto live = session_on(ports.replicas, node3);
    REQUIRE(live);

    // drain: no new session reaches node3 through "replicas"; the live one stays.
    {
        const auto r = http_request(ports.stats, "POST", "/admin", admin_auth(), "listener=replicas&member=node3&state=drain");
        CHECK(r.status == 303);
        CHECK(r.header("Location") == "/"); // back to the page at stats.uri
    }
    CHECK(reach_n(ports.replicas, 6) == std::multiset<std::uint16_t>{node2, node2, node2, node2, node2, node2});
    CHECK(server_port(live.get()) == node3);
    CHECK_FALSE(becomes_readable(live.get(), 0ms));
    {
        const auto v = stats_json(ports.stats);
        CHECK(server_of(v, "replicas", "node3").at("status") == "DRAIN");
        CHECK(server_of(v, "replicas", "node3").at("admin") == "drain");
        CHECK(server_of(v, "replicas", "node3").at("active") == false);
        CHECK(server_of(v, "replicas", "node3").at("sessions_cur") == 1);
        CHECK(server_of(v, "primary", "node3").at("admin") == "ready");
        const auto metrics = parse_metrics(fetch(ports.stats, "/metrics"));
        CHECK(series(metrics, "patroxy_server_admin_state{listener=\"replicas\",member=\"node3\",state=\"drain\"}") == 1);
        CHECK(series(metrics, "patroxy_server_admin_state{listener=\"replicas\",member=\"node3\",state=\"ready\"}") == 0);
        const auto html = fetch(ports.stats, "/");
        CHECK(html.find("<tr class=\"drain\" data-member=\"node3\"", table_of(html, "replicas")) != std::string::npos);
    }

    // maint: the live session is closed with 57P01 and the member reads MAINT.
    CHECK(post_admin(ports.stats, "listener=replicas&member=node3&state=maint") == 303);
    REQUIRE(becomes_readable(live.get(), 3s));
    const auto [sqlstate, message] = idle_error(live.get());
    CHECK(sqlstate == "57P01");
    CHECK_THAT(message, Catch::Contains("node3") && Catch::Contains("maintenance"));
    CHECK_FALSE(run_ok(live.get(), "SELECT 1"));
    CHECK(distinct(reach_n(ports.replicas, 4)) == std::set<std::uint16_t>{node2});
    {
        json v;
        CHECK(wait_until(
            [&] {
                v = stats_json(ports.stats);
                return server_of(v, "replicas", "node3").at("sessions_cur") == 0;
            },
            2s));
        CHECK(server_of(v, "replicas", "node3").at("status") == "MAINT");
        CHECK(server_of(v, "replicas", "node3").at("killed") == 1);
        CHECK(listener_of(v, "replicas").at("killed").at("maint") == 1);
        const auto html = fetch(ports.stats, "/");
        CHECK(html.find("<tr class=\"maint\" data-member=\"node3\"", table_of(html, "replicas")) != std::string::npos);
    }

    // ready: node3 takes sessions again.
    CHECK(post_admin(ports.stats, "listener=replicas&member=node3&state=ready") == 303);
    CHECK(distinct(reach_n(ports.replicas, 4)) == std::set<std::uint16_t>{node2, node3});
    CHECK(server_of(stats_json(ports.stats), "replicas", "node3").at("status") == "UP");

    // "*": every listener at once.
    CHECK(post_admin(ports.stats, "listener=*&member=node2&state=drain") == 303);
    {
        const auto v = stats_json(ports.stats);
        CHECK(server_of(v, "primary", "node2").at("admin") == "drain");
        CHECK(server_of(v, "replicas", "node2").at("admin") == "drain");
        CHECK(server_of(v, "replicas", "node3").at("admin") == "ready");
    }
    CHECK(distinct(reach_n(ports.replicas, 4)) == std::set<std::uint16_t>{node3});
    CHECK(post_admin(ports.stats, "listener=%2A&member=node2&state=ready") == 303);
    {
        const auto v = stats_json(ports.stats);
        CHECK(server_of(v, "primary", "node2").at("admin") == "ready");
        CHECK(server_of(v, "replicas", "node2").at("admin") == "ready");
    }
    CHECK(distinct(reach_n(ports.replicas, 4)) == std::set<std::uint16_t>{node2, node3});

    // A bad form is a 400 and changes nothing.
    for (const std::string form : {"", "listener=replicas&member=node2", "listener=replicas&state=drain",
                                   "member=node2&state=drain", "listener=replicas&member=node2&state=off",
                                   "listener=replicas&member=node9&state=drain",
                                   "listener=nowhere&member=node2&state=drain"}) {
        INFO("form: " << form);
        CHECK(post_admin(ports.stats, form) == 400);
    }
    CHECK(http_get(ports.stats, "/admin", admin_auth()).status == 405);
    const auto v = stats_json(ports.stats);
    for (const std::string listener : {"primary", "replicas"})
        for (std::size_t i = 0; i < members; ++i)
            CHECK(server_of(v, listener, node(i)).at("admin") == "ready");
}

namespace {

/// The monotone counters of a listener in /stats.json, by path ("bytes_in", "servers/node2/lb_total").
std::map<std::string, std::uint64_t> listener_counters(const json& listener)
{
    static constexpr std::array listener_keys{"queue_max", "queued_total", "sessions_max", "sessions_total",
                                              "rate_max",  "bytes_in",     "bytes_out",    "denied_limit",
                                              "errors_startup", "denied_no_server"};
    static constexpr std::array server_keys{"sessions_max", "sessions_total", "lb_total", "rate_max",
                                            "bytes_in",     "bytes_out",      "errors_conn", "errors_resp",
                                            "killed",       "checks_failed",  "downs"};
    const auto histogram_count = [](const json& h) {
        std::uint64_t n = 0;
        for (const auto& c : h.at("counts"))
            n += c.get<std::uint64_t>();
        return n;
    };
    std::map<std::string, std::uint64_t> out;
    for (const char* k : listener_keys)
        out[k] = listener.at(k).get<std::uint64_t>();
    for (const auto& [reason, n] : listener.at("killed").items())
        out["killed/" + reason] = n.get<std::uint64_t>();
    out["queue_wait/count"] = histogram_count(listener.at("queue_wait"));
    for (const auto& s : listener.at("servers")) {
        const std::string prefix = "servers/" + s.at("name").get<std::string>() + "/";
        for (const char* k : server_keys)
            out[prefix + k] = s.at(k).get<std::uint64_t>();
        out[prefix + "connect_time/count"] = histogram_count(s.at("connect_time"));
    }
    return out;
}

void rewrite(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

} // namespace

TEST_CASE("stats: SIGHUP adds a listener and replaces another while counters never go backwards and a broken "
          "config is refused",
          "[stats]")
{
    running_proxy running;
    auto& [trio, ports, proxy] = running;
    const auto node2 = trio.pg_port(1);

    // Traffic on "replicas", and one session that stays open across the reload.
    CHECK(distinct(reach_n(ports.replicas, 4)).size() == 2);
    auto kept = session_on(ports.replicas, node2);
    REQUIRE(kept);
    REQUIRE(run_ok(kept.get(), "SELECT repeat('y', 5000)"));
    json before;
    REQUIRE(wait_until(
        [&] {
            before = stats_json(ports.stats);
            return listener_of(before, "replicas").at("sessions_cur") == 1 &&
                   listener_of(before, "replicas").at("sessions_total").get<std::uint64_t>() >= 5;
        },
        3s));
    before = listener_of(stats_json(ports.stats), "replicas");

    rewrite(proxy->config_path(), config_text(trio, ports, "leastconn", true));
    REQUIRE(::kill(proxy->pid(), SIGHUP) == 0);
    REQUIRE(proxy->wait_for_log("configuration reloaded from", 5s));
    CHECK(proxy->wait_for_log("listener=replicas changed", 1s));

    // The new listener accepts; the old session on the replaced listener keeps working.
    CHECK(wait_until([&] { return reach_n(ports.readonly, 1).count(0) == 0; }, 3s));
    CHECK(server_port(kept.get()) == node2);
    CHECK(run_ok(kept.get(), "SELECT repeat('y', 5000)"));

    const auto after_view = stats_json(ports.stats);
    std::vector<std::string> names;
    for (const auto& l : after_view.at("listeners"))
        names.push_back(l.at("name"));
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"primary", "readonly", "replicas"});
    const auto& after = listener_of(after_view, "replicas");
    CHECK(after.at("balance") == "leastconn");
    CHECK(after.at("sessions_cur") == 1); // the kept session, on the replaced version
    CHECK(server_of(after_view, "replicas", "node2").at("sessions_cur") == 1);
    const auto was = listener_counters(before);
    const auto now = listener_counters(after);
    for (const auto& [key, value] : was) {
        INFO("replicas " << key << ": " << value << " before the reload, " << (now.count(key) ? now.at(key) : 0)
                         << " after");
        REQUIRE(now.count(key) == 1);
        CHECK(now.at(key) >= value);
    }
    CHECK(after_view.at("reloads") == 1);
    const auto applied_metrics = parse_metrics(fetch(ports.stats, "/metrics"));
    CHECK(series(applied_metrics, "patroxy_config_reloads_total") == 1);
    CHECK(series(applied_metrics, "patroxy_config_reload_failures_total") == 0);
    CHECK(series(applied_metrics, "patroxy_config_last_reload_successful") == 1);

    // New sessions on the replaced listener count on top of the old ones.
    const auto total_before = after.at("sessions_total").get<std::uint64_t>();
    CHECK(reach_n(ports.replicas, 2).count(0) == 0);
    CHECK(wait_until(
        [&] { return listener_of(stats_json(ports.stats), "replicas").at("sessions_total") == total_before + 2; }, 2s));

    // A broken file: patroxy says so and goes on with what it has.
    rewrite(proxy->config_path(), "{ \"listeners\": [ { \"name\": \"primary\", ");
    REQUIRE(::kill(proxy->pid(), SIGHUP) == 0);
    CHECK(proxy->wait_for_log("refused, still running the previous config", 5s));
    CHECK(proxy->running());
    CHECK(reach_n(ports.readonly, 1).count(0) == 0);
    CHECK(reach_n(ports.primary, 1) == std::multiset<std::uint16_t>{trio.pg_port(0)});
    CHECK(server_port(kept.get()) == node2);
    const auto refused_view = stats_json(ports.stats);
    CHECK(refused_view.at("listeners").size() == 3);
    CHECK(refused_view.at("reloads") == 1);
    const auto refused_metrics = parse_metrics(fetch(ports.stats, "/metrics"));
    CHECK(series(refused_metrics, "patroxy_config_reloads_total") == 1);
    CHECK(series(refused_metrics, "patroxy_config_reload_failures_total") == 1);
    CHECK(series(refused_metrics, "patroxy_config_last_reload_successful") == 0);
}

TEST_CASE("stats: maint after a reload also closes the sessions the replaced listener still carries", "[stats]")
{
    running_proxy running;
    auto& [trio, ports, proxy] = running;
    const auto node2 = trio.pg_port(1);
    auto kept = session_on(ports.replicas, node2);
    REQUIRE(kept);

    rewrite(proxy->config_path(), config_text(trio, ports, "leastconn"));
    REQUIRE(::kill(proxy->pid(), SIGHUP) == 0);
    REQUIRE(proxy->wait_for_log("configuration reloaded from", 5s));
    REQUIRE(server_port(kept.get()) == node2);

    // The operator sees node2 with one session on "replicas" and puts it in maintenance: that
    // session must end, as it would have before the reload.
    REQUIRE(server_of(stats_json(ports.stats), "replicas", "node2").at("sessions_cur") == 1);
    CHECK(post_admin(ports.stats, "listener=replicas&member=node2&state=maint") == 303);
    const bool closed = becomes_readable(kept.get(), 3s);
    const auto v = stats_json(ports.stats);
    INFO("node2 on replicas after maint: " << server_of(v, "replicas", "node2").dump());
    // Known bug while this fails: application::set_admin hands close_sessions_in_maintenance only
    // the listener's current runtime, which skips sessions of the version a reload replaced; the
    // page then shows a MAINT member with a live session.
    INFO("a session of the replaced 'replicas' listener survived maint");
    CHECK(closed);
    if (closed)
        CHECK(idle_error(kept.get()).first == "57P01");
    CHECK(server_of(v, "replicas", "node2").at("status") == "MAINT");
}

TEST_CASE("stats: promtool check metrics passes on the live /metrics", "[stats]")
{
    INFO("promtool comes with Debian's prometheus package (deploy/install-packages.sh)");
    REQUIRE(::access(std::string(promtool).c_str(), X_OK) == 0);
    running_proxy running;
    auto& [trio, ports, proxy] = running;
    // Sessions and an admin state give the families series.
    CHECK(reach_n(ports.primary, 2).count(0) == 0);
    CHECK(reach_n(ports.replicas, 2).count(0) == 0);
    CHECK(post_admin(ports.stats, "listener=replicas&member=node2&state=drain") == 303);

    const auto dir = make_temp_dir("patroxy-promtool");
    const auto metrics_path = dir + "/metrics.txt";
    const auto output_path = dir + "/promtool.out";
    const auto text = fetch(ports.stats, "/metrics");
    rewrite(metrics_path, text);
    process_options check({"/bin/sh", "-c", std::string(promtool) + " check metrics < " + metrics_path});
    check.output_file = output_path;
    const int status = run_command(check, 20s);
    INFO("promtool said: " << read_file(output_path));
    INFO("/metrics:\n" << text);
    CHECK(status == 0);
    CHECK(text.find("patroxy_listener_sessions_total{listener=\"primary\"} 2") != std::string::npos);
    std::filesystem::remove_all(dir);
}

TEST_CASE("stats: relay buffers are lent while bytes are in flight and given back at once", "[stats][buffers]")
{
    running_proxy running;
    auto& [trio, ports, proxy] = running;
    const auto in_use = [&] { return stats_json(ports.stats).at("relay_buffers").at("in_use").get<std::uint64_t>(); };

    std::vector<pq_conn> sessions;
    for (int i = 0; i < 3; ++i) {
        sessions.push_back(connect_via(ports.primary));
        REQUIRE(server_port(sessions.back().get()) == trio.pg_port(0));
    }
    // Open, idle sessions hold no buffer: not even one second after their last answer.
    CHECK(wait_until([&] { return in_use() == 0; }, 500ms));

    // A 64 MB answer the client does not read yet: the socket buffers fill, and patroxy's write
    // to the client waits, holding the server side's buffer.
    auto* busy = sessions[0].get();
    REQUIRE(PQsendQuery(busy, "SELECT repeat('x', 1000) FROM generate_series(1, 65536)") == 1);
    CHECK(wait_until([&] { return in_use() >= 1; }, 5s, 20ms));

    // Read it all: once the last byte is through, the buffer goes back with no lull to wait for.
    std::size_t rows = 0;
    while (pq_result r{PQgetResult(busy)}) {
        REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        rows += static_cast<std::size_t>(PQntuples(r.get()));
    }
    CHECK(rows == 65536);
    CHECK(wait_until([&] { return in_use() == 0; }, 500ms));
    const auto view = stats_json(ports.stats);
    CHECK(listener_of(view, "primary").at("sessions_cur") == 3);
    CHECK(view.at("relay_buffers").at("bytes_each") == 32768);

    // Every session serves the next statement, a large answer included, as before.
    for (auto& c : sessions) {
        const auto r = pq_exec(c.get(), "SELECT repeat('y', 200000)");
        REQUIRE(PQresultStatus(r.get()) == PGRES_TUPLES_OK);
        CHECK(PQgetlength(r.get(), 0, 0) == 200000);
    }
    CHECK(wait_until([&] { return in_use() == 0; }, 500ms));
    CHECK(fetch(ports.stats, "/metrics").find("patroxy_relay_buffers{state=\"in_use\"} 0") != std::string::npos);
}
