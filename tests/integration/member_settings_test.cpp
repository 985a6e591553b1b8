// The haproxy.cfg drop-in's settings as the running proxy honours them (issue 17): a listener's
// backup members and shutdown_backup_sessions, a member's max_connections (clients queue for its
// slot), disabled members and the stats admin form, the global max_connections, and the stats
// listener's uri, realm, admin and hide_version. Real PostgreSQL 15 servers behind fake Patroni
// REST APIs; `SELECT inet_server_port()` tells which server a session reached; every wait is bounded.
#include <catch2/catch.hpp>

#include "tests/support/fake_patroni.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds since(steady::time_point start)
{
    return std::chrono::duration_cast<milliseconds>(steady::now() - start);
}

/// Polls `pred` until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, milliseconds timeout)
{
    const auto deadline = steady::now() + timeout;
    while (!pred()) {
        if (steady::now() >= deadline)
            return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

/// node1..nodeN, each a fake Patroni API in front of the PostgreSQL port given for it (a port with
/// no server is fine for a member no session reaches, such as the leader behind a replica listener).
class scripted_members {
public:
    explicit scripted_members(std::vector<std::uint16_t> pg_ports) : pg_ports_(std::move(pg_ports))
    {
        for (std::size_t i = 0; i < pg_ports_.size(); ++i)
            apis_.push_back(std::make_unique<fake_patroni>());
    }

    [[nodiscard]] static std::string name(std::size_t i) { return "node" + std::to_string(i + 1); }

    /// Member i's GET /patroni: "master" or "replica", with `tags`.
    void report(std::size_t i, const std::string& role, json tags = json::object())
    {
        patroni_member m;
        m.role = role;
        m.tags = std::move(tags);
        apis_.at(i)->set_patroni_body(patroni_json(m).dump());
    }

    /// A settled cluster: `leader` reports master and holds the DCS lock, the others replicate.
    void healthy(std::size_t leader)
    {
        std::vector<cluster_member> dcs;
        for (std::size_t i = 0; i < apis_.size(); ++i) {
            report(i, i == leader ? "master" : "replica");
            cluster_member m;
            m.name = name(i);
            m.role = i == leader ? "leader" : "replica";
            m.api_url = apis_[i]->api_url() + "/patroni";
            m.port = pg_ports_[i];
            if (i != leader)
                m.lag = 0;
            dcs.push_back(std::move(m));
        }
        for (auto& api : apis_)
            api->set_cluster_body(cluster_json(dcs).dump());
    }

    [[nodiscard]] json members_json() const
    {
        json out = json::array();
        for (std::size_t i = 0; i < apis_.size(); ++i)
            out.push_back({{"name", name(i)}, {"host", "127.0.0.1"}, {"port", pg_ports_[i]}, {"api", apis_[i]->api_url()}});
        return out;
    }

private:
    std::vector<std::uint16_t> pg_ports_;
    std::vector<std::unique_ptr<fake_patroni>> apis_;
};

/// A listener bound on a free port: {name, role, its other keys}.
struct listener_def {
    std::string name;
    std::string role;
    json extra = json::object();
    std::uint16_t port = free_port();

    [[nodiscard]] json to_json() const
    {
        json j = {{"name", name}, {"bind", "127.0.0.1:" + std::to_string(port)}, {"role", role}};
        j.update(extra);
        return j;
    }
};

/// The native config over `members` with `listeners`, a stats listener on `stats_port` with the
/// keys of `stats`, and the top-level keys of `top`.
std::string config_text(const scripted_members& members, const std::vector<listener_def>& listeners,
                        std::uint16_t stats_port, json stats = json::object(), json top = json::object())
{
    json ls = json::array();
    for (const auto& l : listeners)
        ls.push_back(l.to_json());
    stats["bind"] = "127.0.0.1:" + std::to_string(stats_port);
    json doc = {
        {"cluster", {{"scope", "demo"}, {"members", members.members_json()}}},
        {"health", {{"interval", "300ms"}, {"fast_interval", "100ms"}, {"timeout", "300ms"}, {"fall", 3}, {"rise", 1}}},
        {"listeners", std::move(ls)},
        {"timeouts", {{"connect", "1s"}, {"startup", "2s"}}},
        {"workers", 1},
        {"stats", std::move(stats)},
    };
    doc.update(top);
    return doc.dump(2);
}

std::unique_ptr<patroxy_process> start_proxy(const std::string& config, const std::vector<listener_def>& listeners,
                                             std::uint16_t stats_port)
{
    std::vector<std::uint16_t> ports{stats_port};
    for (const auto& l : listeners)
        ports.push_back(l.port);
    return std::make_unique<patroxy_process>(PATROXY_BINARY, config, ports);
}

/// The distinct servers `n` new sessions through `listener_port` reach (0: refused).
std::set<std::uint16_t> reached(std::uint16_t listener_port, std::size_t n)
{
    const auto all = servers_reached(listener_port, n);
    return {all.begin(), all.end()};
}

/// Until 4 new sessions in a row through `listener_port` reach exactly `servers`.
bool routes_to(std::uint16_t listener_port, const std::set<std::uint16_t>& servers, milliseconds timeout = 5s)
{
    return eventually([&] { return reached(listener_port, 4) == servers; }, timeout);
}

const http_fields& admin_auth()
{
    static const http_fields fields{{"Authorization", basic_authorization("admin", "s3cret")}};
    return fields;
}

/// The value of one /metrics series ("name{labels}"); -1 when it is absent.
double metric(std::uint16_t stats_port, const std::string& series)
{
    const auto body = "\n" + http_get(stats_port, "/metrics").body;
    const auto at = body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(body.substr(at + series.size() + 2));
}

/// A member's entry on a listener in /stats.json.
json server_entry(std::uint16_t stats_port, const std::string& listener, const std::string& member,
                  const http_fields& auth = {})
{
    const auto view = json::parse(http_get(stats_port, "/stats.json", auth).body);
    for (const auto& l : view.at("listeners"))
        if (l.at("name") == listener)
            for (const auto& s : l.at("servers"))
                if (s.at("name") == member)
                    return s;
    return json::object();
}

/// A raw StartupMessage and patroxy's last answer: the ErrorResponse fields when refused.
struct refusal {
    std::map<char, std::string> fields;
    milliseconds waited{0};
};

refusal raw_refusal(std::uint16_t listener_port, milliseconds timeout)
{
    raw_connection raw(listener_port);
    const auto start = steady::now();
    const auto replies = raw.startup(timeout);
    refusal out;
    out.waited = since(start);
    if (!replies.empty() && replies.back().type == 'E')
        out.fields = error_fields(replies.back());
    return out;
}

/// A port nothing listens on: the PostgreSQL of a member no session reaches.
std::uint16_t no_server() { return free_port(); }

/// node1 leads with no server behind it (only replica listeners are used), node2 and node3, the
/// two shared servers, replicate.
struct leader_and_two_replicas {
    leader_and_two_replicas() { members.healthy(0); }

    std::uint16_t node2 = shared_pg_server(0).port();
    std::uint16_t node3 = shared_pg_server(1).port();
    scripted_members members{{no_server(), node2, node3}};
};

} // namespace

TEST_CASE("backup: takes a listener's sessions while its non-backup member is out, and with "
          "shutdown_backup_sessions gives them back when it returns",
          "[member_settings][backup]")
{
    leader_and_two_replicas cluster;
    const auto node2 = cluster.node2;
    const auto node3 = cluster.node3;
    auto& members = cluster.members;
    const json backup = {{"node3", {{"backup", true}}}};
    const listener_def reads{"reads", "replica",
                             {{"member_options", backup}, {"shutdown_backup_sessions", true}, {"queue_timeout", "3s"}}};
    const listener_def keep{"reads_keep", "replica", {{"member_options", backup}}};
    const auto stats_port = free_port();
    auto proxy = start_proxy(config_text(members, {reads, keep}, stats_port), {reads, keep}, stats_port);

    // node3 is only a backup: node2 takes everything.
    REQUIRE(routes_to(reads.port, {node2}));
    REQUIRE(routes_to(keep.port, {node2}));
    CHECK(server_entry(stats_port, "reads", "node3").at("backup") == true);

    // node2 stops taking reads (noloadbalance): the backup takes over on both listeners.
    members.report(1, "replica", {{"noloadbalance", true}});
    REQUIRE(routes_to(reads.port, {node3}, 3s));
    REQUIRE(routes_to(keep.port, {node3}, 3s));
    auto on_backup = session_on(reads.port, node3);
    auto kept = session_on(keep.port, node3);
    REQUIRE(on_backup);
    REQUIRE(kept);

    // node2 is back: the backup's sessions of "reads" end with 57P01, those of "reads_keep" stay.
    members.report(1, "replica");
    const auto back = steady::now();
    REQUIRE(becomes_readable(on_backup.get(), 3s));
    INFO("backup session ended " << since(back).count() << " ms after node2 came back");
    const auto [sqlstate, message] = idle_error(on_backup.get());
    CHECK(sqlstate == "57P01");
    CHECK_THAT(message, Catch::Contains("member node3 is a backup and a non-backup member is available again"));
    CHECK(routes_to(reads.port, {node2}, 2s));
    CHECK(routes_to(keep.port, {node2}, 2s));
    CHECK_FALSE(becomes_readable(kept.get(), 0ms));
    CHECK(server_port(kept.get()) == node3);

    CHECK(eventually(
        [&] { return metric(stats_port, R"(patroxy_sessions_killed_total{listener="reads",reason="backup_replaced"})") == 1; },
        2s));
    CHECK(metric(stats_port, R"(patroxy_sessions_killed_total{listener="reads_keep",reason="backup_replaced"})") == 0);
    CHECK(proxy->wait_for_log("killed 1 session(s) of listener reads: member node3 is a backup", 1s));
}

TEST_CASE("member max_connections: a client waits for the full member's slot and is admitted when a session "
          "ends; past queue_timeout it gets 53300",
          "[member_settings][maxconn]")
{
    const auto node1 = shared_pg_server(0).port();
    scripted_members members({node1, shared_pg_server(1).port()});
    members.healthy(0);
    const listener_def writes{"writes", "primary",
                              {{"member_options", {{"node1", {{"max_connections", 1}}}}}, {"queue_timeout", "3s"}}};
    const auto stats_port = free_port();
    // Checks every 10 s once the primary is confirmed: a queued client is admitted by the freed
    // slot's wake-up, not by a snapshot that happens to come.
    const json slow_checks = {{"health", {{"interval", "10s"}, {"fast_interval", "100ms"}, {"timeout", "300ms"}}}};
    auto proxy = start_proxy(config_text(members, {writes}, stats_port, json::object(), slow_checks), {writes}, stats_port);
    REQUIRE(routes_to(writes.port, {node1}));
    REQUIRE(proxy->wait_for_log("a single primary is confirmed", 2s));

    auto first = connect_via(writes.port);
    REQUIRE(server_port(first.get()) == node1);
    CHECK(server_entry(stats_port, "writes", "node1").at("sessions_limit") == 1);

    // The second client is held while node1 is full...
    auto second = std::async(std::launch::async, [&] {
        auto c = connect_via(writes.port);
        return std::pair{std::move(c), steady::now()};
    });
    REQUIRE(second.wait_for(1s) == std::future_status::timeout);
    CHECK(proxy->wait_for_log("queued: every eligible server is at its max_connections", 1s));
    CHECK(eventually([&] { return metric(stats_port, R"(patroxy_listener_queue_current{listener="writes"})") == 1; }, 1s));

    // ...and admitted as soon as the first session ends, long before queue_timeout.
    first.reset();
    const auto freed = steady::now();
    REQUIRE(second.wait_for(2s) == std::future_status::ready);
    auto [admitted, at] = second.get();
    const auto admitted_after = std::chrono::duration_cast<milliseconds>(at - freed);
    INFO("admitted " << admitted_after.count() << " ms after the slot freed");
    CHECK(server_port(admitted.get()) == node1);
    CHECK(admitted_after < 300ms);

    // A third client while the second holds the slot: 53300 after queue_timeout, saying why.
    auto out = raw_refusal(writes.port, 6s);
    CHECK(out.fields['C'] == "53300");
    CHECK_THAT(out.fields['M'], Catch::Contains("every eligible server of listener \"writes\" is at its max_connections"));
    CHECK_THAT(out.fields['D'], Catch::Contains("node1: 1 of 1 sessions"));
    CHECK(out.waited >= 2900ms);
    CHECK(out.waited < 4500ms);
    CHECK(metric(stats_port, R"(patroxy_listener_rejected_total{listener="writes",reason="member_maxconn"})") == 1);
    CHECK(metric(stats_port, R"(patroxy_server_sessions_limit{listener="writes",member="node1"})") == 1);
    CHECK(server_port(admitted.get()) == node1); // the admitted session goes on
}

TEST_CASE("global max_connections: a client over it on any listener gets 53300, counted as global_maxconn",
          "[member_settings][maxconn]")
{
    const auto node1 = shared_pg_server(0).port();
    const auto node2 = shared_pg_server(1).port();
    scripted_members members({node1, node2});
    members.healthy(0);
    const listener_def writes{"writes", "primary"};
    const listener_def reads{"reads", "replica"};
    const auto stats_port = free_port();
    auto proxy = start_proxy(config_text(members, {writes, reads}, stats_port, json::object(), {{"max_connections", 2}}),
                             {writes, reads}, stats_port);
    REQUIRE(routes_to(writes.port, {node1}));
    REQUIRE(routes_to(reads.port, {node2}));

    // The probes' sessions end asynchronously: until patroxy has closed them, they still count.
    pq_conn writer;
    pq_conn reader;
    REQUIRE(eventually([&] { return server_port((writer = connect_via(writes.port)).get()) == node1; }, 2s));
    REQUIRE(eventually([&] { return server_port((reader = connect_via(reads.port)).get()) == node2; }, 2s));

    const std::string global = R"(patroxy_listener_rejected_total{listener="reads",reason="global_maxconn"})";
    const auto before = metric(stats_port, global); // the probes above may have been refused too
    auto out = raw_refusal(reads.port, 2s);
    CHECK(out.fields['C'] == "53300");
    CHECK_THAT(out.fields['M'], Catch::Contains("global max_connections (2)"));
    CHECK(out.waited < 1s); // refused at once, not queued
    CHECK(metric(stats_port, global) == before + 1);
    CHECK(metric(stats_port, R"(patroxy_listener_rejected_total{listener="reads",reason="limit"})") == 0);

    // One session ends: the next client on the other listener is served.
    writer.reset();
    CHECK(eventually([&] { return reached(writes.port, 1) == std::set<std::uint16_t>{node1}; }, 2s));
    CHECK(server_port(reader.get()) == node2);
}

TEST_CASE("disabled: a member starts in maint on its listener, is routed once the stats admin form makes it "
          "ready, and a reload that leaves the setting alone does not disable it again",
          "[member_settings][disabled]")
{
    leader_and_two_replicas cluster;
    const auto node2 = cluster.node2;
    const auto node3 = cluster.node3;
    auto& members = cluster.members;
    const listener_def reads{"reads", "replica", {{"member_options", {{"node2", {{"disabled", true}}}}}}};
    const listener_def others{"others", "replica"};
    const auto stats_port = free_port();
    const json stats = {{"auth", {{"user", "admin"}, {"password", "s3cret"}}}};
    const auto config = config_text(members, {reads, others}, stats_port, stats);
    auto proxy = start_proxy(config, {reads, others}, stats_port);

    REQUIRE(routes_to(others.port, {node2, node3})); // disabled on "reads" only
    CHECK(routes_to(reads.port, {node3}));
    CHECK(server_entry(stats_port, "reads", "node2", admin_auth()).at("admin") == "maint");
    CHECK(server_entry(stats_port, "others", "node2", admin_auth()).at("admin") == "ready");

    const auto posted = http_request(stats_port, "POST", "/admin", admin_auth(), "listener=reads&member=node2&state=ready");
    CHECK(posted.status == 303);
    CHECK(routes_to(reads.port, {node2, node3}, 2s));

    // SIGHUP with the same file: node2 stays ready.
    REQUIRE(::kill(proxy->pid(), SIGHUP) == 0);
    REQUIRE(proxy->wait_for_log("configuration reloaded", 3s));
    CHECK(server_entry(stats_port, "reads", "node2", admin_auth()).at("admin") == "ready");
    CHECK(routes_to(reads.port, {node2, node3}, 2s));

    // A reload that disables node3 there: it goes to maint; node2 keeps the operator's ready.
    auto changed = json::parse(config);
    changed["listeners"][0]["member_options"]["node3"] = {{"disabled", true}};
    std::ofstream(proxy->config_path(), std::ios::trunc) << changed.dump(2);
    REQUIRE(::kill(proxy->pid(), SIGHUP) == 0);
    CHECK(eventually([&] { return server_entry(stats_port, "reads", "node3", admin_auth()).at("admin") == "maint"; }, 3s));
    CHECK(server_entry(stats_port, "reads", "node2", admin_auth()).at("admin") == "ready");
    CHECK(routes_to(reads.port, {node2}, 2s));
}

TEST_CASE("stats: the page at stats.uri with its CSV export, the realm in the challenge, hide_version, and admin off",
          "[member_settings][stats]")
{
    scripted_members members({shared_pg_server(0).port(), shared_pg_server(1).port()});
    members.healthy(0);
    const listener_def reads{"reads", "replica"};
    const auto stats_port = free_port();
    const json stats = {{"auth", {{"user", "admin"}, {"password", "s3cret"}}},
                        {"uri", "/pg/stats"},
                        {"realm", "PG \"cluster\" stats"},
                        {"hide_version", true},
                        {"admin", false}};
    auto proxy = start_proxy(config_text(members, {reads}, stats_port, stats), {reads}, stats_port);

    const auto challenged = http_get(stats_port, "/pg/stats");
    CHECK(challenged.status == 401);
    CHECK(challenged.header("WWW-Authenticate") == R"(Basic realm="PG \"cluster\" stats")");

    const auto page = http_get(stats_port, "/pg/stats", admin_auth());
    CHECK(page.status == 200);
    CHECK(page.header("Content-Type").value_or("").starts_with("text/html"));
    CHECK_THAT(page.body, Catch::Contains("<h1>patroxy</h1>")); // no version
    CHECK_THAT(page.body, !Catch::Contains("action=\"/admin\"")); // no admin forms
    CHECK(http_get(stats_port, "/", admin_auth()).status == 404);
    CHECK(http_get(stats_port, "/stats", admin_auth()).status == 404);

    const auto csv = http_get(stats_port, "/pg/stats;csv", admin_auth());
    CHECK(csv.status == 200);
    CHECK(csv.body.starts_with("# pxname,svname,"));
    CHECK(http_get(stats_port, "/stats.csv", admin_auth()).status == 200);
    const auto view = json::parse(http_get(stats_port, "/stats.json", admin_auth()).body);
    CHECK(view.at("version") == "");
    CHECK(view.at("admin_enabled") == false);
    CHECK(http_get(stats_port, "/metrics", admin_auth()).body.find("patroxy_build_info") == std::string::npos);

    const auto refused = http_request(stats_port, "POST", "/pg/stats", admin_auth(), "listener=reads&member=node2&state=maint");
    CHECK(refused.status == 403);
    CHECK(server_entry(stats_port, "reads", "node2", admin_auth()).at("admin") == "ready");
}
