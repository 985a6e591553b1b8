// Patroni-driven routing (issue 3, "How it is proven"): three real PostgreSQL 15 servers play the
// members node1..node3, each behind a fake Patroni REST API that scripts its role, and patroxy
// routes role listeners by what those APIs say. `SELECT inet_server_port()` tells which server a
// session reached. Timings use interval 500 ms-1 s, fast_interval 100 ms, timeout 300 ms, and every
// wait is bounded.
#include <catch2/catch.hpp>

#include "tests/support/fake_patroni.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <array>
#include <atomic>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Where every member's WAL is, unless a test moves it (the fake's default xlog position).
constexpr std::uint64_t wal_base = 67309440;
constexpr std::uint64_t mib = 1024u * 1024u;

milliseconds since(steady::time_point start)
{
    return std::chrono::duration_cast<milliseconds>(steady::now() - start);
}

/// Polls `pred` every `step` until it holds or `timeout` passes.
template <class Pred>
bool wait_until(Pred pred, milliseconds timeout, milliseconds step = 20ms)
{
    const auto deadline = steady::now() + timeout;
    for (;;) {
        if (pred())
            return true;
        if (steady::now() >= deadline)
            return false;
        std::this_thread::sleep_for(step);
    }
}

/// The third member's server (the integration tier shares only two); started on first use, from
/// the main test thread, and stopped at exit.
pg_server& third_pg_server()
{
    static pg_server server;
    return server;
}

/// Counts occurrences of `needle` in `text`.
std::size_t count_of(const std::string& text, std::string_view needle)
{
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size()))
        ++n;
    return n;
}

/// node1..node3: a PostgreSQL server and a fake Patroni API each. The scripting methods set what
/// each member's GET /patroni says and what every member's GET /cluster (the DCS view) says.
class routing_cluster {
public:
    static constexpr std::size_t size = 3;

    routing_cluster()
        : pg_ports_{shared_pg_server(0).port(), shared_pg_server(1).port(), third_pg_server().port()}
    {
        for (auto& a : apis_)
            a = std::make_unique<fake_patroni>();
    }

    [[nodiscard]] static std::string name(std::size_t i) { return "node" + std::to_string(i + 1); }
    [[nodiscard]] std::uint16_t pg_port(std::size_t i) const { return pg_ports_.at(i); }
    [[nodiscard]] fake_patroni& api(std::size_t i) { return *apis_.at(i); }
    [[nodiscard]] const fake_patroni& api(std::size_t i) const { return *apis_.at(i); }

    /// The member name of the server listening on `pg_port` ("?" if none).
    [[nodiscard]] std::string name_of_port(std::uint16_t port) const
    {
        for (std::size_t i = 0; i < size; ++i)
            if (pg_ports_[i] == port)
                return name(i);
        return "?";
    }

    /// Member i's GET /patroni body.
    void report(std::size_t i, const patroni_member& m) { apis_.at(i)->set_patroni_body(patroni_json(m).dump()); }

    /// Member i says it is the leader (3.0.2's "master") at WAL position `location`.
    void report_master(std::size_t i, std::uint64_t location = wal_base)
    {
        patroni_member m;
        m.role = "master";
        m.xlog_location = location;
        report(i, m);
    }

    /// Member i says it is a running replica that received and replayed up to `location`.
    void report_replica(std::size_t i, std::uint64_t location = wal_base)
    {
        patroni_member m;
        m.role = "replica";
        m.received_location = location;
        m.replayed_location = location;
        report(i, m);
    }

    /// Every member's GET /cluster: `leader` holds the leader lock, the others are replicas.
    void dcs(std::optional<std::size_t> leader)
    {
        std::vector<cluster_member> members;
        for (std::size_t i = 0; i < size; ++i) {
            cluster_member m;
            m.name = name(i);
            m.role = leader == i ? "leader" : "replica";
            m.api_url = apis_[i]->api_url() + "/patroni";
            m.port = pg_ports_[i];
            if (leader != i)
                m.lag = 0;
            members.push_back(std::move(m));
        }
        const auto body = cluster_json(members).dump();
        for (auto& a : apis_)
            a->set_cluster_body(body);
    }

    /// A settled cluster: `leader` reports master and holds the lock, the others replicate it.
    void healthy(std::size_t leader)
    {
        for (std::size_t i = 0; i < size; ++i) {
            if (i == leader)
                report_master(i);
            else
                report_replica(i);
        }
        dcs(leader);
    }

private:
    std::array<std::uint16_t, size> pg_ports_;
    std::array<std::unique_ptr<fake_patroni>, size> apis_;
};

/// One role listener of the test config.
struct listener_def {
    std::string name;
    std::string role;
    nlohmann::json extra = nlohmann::json::object(); ///< queue_timeout, max_lag, on_lag, ...
    std::uint16_t port = free_port();
};

struct health_def {
    std::string interval = "500ms";
    std::string fast_interval = "100ms";
    std::string timeout = "300ms";
    unsigned fall = 3;
    unsigned rise = 2;
};

/// `patroxy -f` with a native JSON config over the cluster's three members and `listeners`.
/// `configured` members are named in the config (the first ones); with `discover` patroxy learns
/// the others from GET /cluster.
std::unique_ptr<patroxy_process> start_proxy(const routing_cluster& cluster, const std::vector<listener_def>& listeners,
                                             const health_def& health = {},
                                             std::size_t configured = routing_cluster::size, bool discover = false)
{
    using nlohmann::json;
    json members = json::array();
    for (std::size_t i = 0; i < configured; ++i)
        members.push_back({{"name", routing_cluster::name(i)},
                           {"host", "127.0.0.1"},
                           {"port", cluster.pg_port(i)},
                           {"api", cluster.api(i).api_url()}});
    json ls = json::array();
    std::vector<std::uint16_t> ports;
    for (const auto& l : listeners) {
        json j = {{"name", l.name}, {"bind", "127.0.0.1:" + std::to_string(l.port)}, {"role", l.role}};
        j.update(l.extra);
        ls.push_back(std::move(j));
        ports.push_back(l.port);
    }
    const json doc = {{"cluster", {{"members", std::move(members)}, {"discover", discover}}},
                      {"health",
                       {{"interval", health.interval},
                        {"fast_interval", health.fast_interval},
                        {"timeout", health.timeout},
                        {"fall", health.fall},
                        {"rise", health.rise}}},
                      {"listeners", std::move(ls)},
                      {"timeouts", {{"connect", "1s"}, {"startup", "2s"}}},
                      {"workers", 1}};
    return std::make_unique<patroxy_process>(PATROXY_BINARY, doc.dump(2), ports);
}

/// Which server a new session through `listener_port` reaches (nullopt: refused).
std::optional<std::uint16_t> reach(std::uint16_t listener_port)
{
    auto c = connect_via(listener_port);
    return server_port(c.get());
}

/// The servers `n` consecutive new sessions through `listener_port` reach, in order (0 = refused).
std::vector<std::uint16_t> reach_n(std::uint16_t listener_port, std::size_t n)
{
    std::vector<std::uint16_t> out;
    for (std::size_t i = 0; i < n; ++i)
        out.push_back(reach(listener_port).value_or(0));
    return out;
}

std::set<std::uint16_t> as_set(const std::vector<std::uint16_t>& v) { return {v.begin(), v.end()}; }

/// Waits until 2 * |expected| consecutive new sessions through `listener_port` reach exactly the
/// servers `expected` (a round-robin listener shows each of them in that many).
bool wait_routes(std::uint16_t listener_port, const std::set<std::uint16_t>& expected, milliseconds timeout)
{
    return wait_until([&] { return as_set(reach_n(listener_port, expected.size() * 2)) == expected; }, timeout, 20ms);
}

/// How a statement on a session ended.
struct statement_outcome {
    bool ok = false;
    std::string sqlstate;
    std::string message;
};

statement_outcome run_statement(PGconn* c, const std::string& sql)
{
    statement_outcome out;
    auto r = pq_exec(c, sql);
    out.ok = PQresultStatus(r.get()) == PGRES_TUPLES_OK || PQresultStatus(r.get()) == PGRES_COMMAND_OK;
    if (const char* s = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE))
        out.sqlstate = s;
    if (const char* m = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY))
        out.message = m;
    else
        out.message = PQerrorMessage(c);
    return out;
}

/// An ErrorResponse that reached an idle libpq session: libpq hands it to the notice receiver
/// with all its fields. (Once the session then sends a statement, libpq 14+ reports the FATAL
/// text and the close together in a result without fields, so the SQLSTATE is read here.)
struct idle_error {
    std::string severity;
    std::string sqlstate;
    std::string message;
};

idle_error read_idle_error(PGconn* c)
{
    idle_error out;
    const auto capture = [](void* arg, const PGresult* r) {
        auto* e = static_cast<idle_error*>(arg);
        const auto field = [r](int code) {
            const char* v = PQresultErrorField(r, code);
            return std::string(v != nullptr ? v : "");
        };
        e->severity = field(PG_DIAG_SEVERITY_NONLOCALIZED);
        e->sqlstate = field(PG_DIAG_SQLSTATE);
        e->message = field(PG_DIAG_MESSAGE_PRIMARY);
    };
    const PQnoticeReceiver previous = PQsetNoticeReceiver(c, capture, &out);
    (void)PQconsumeInput(c); // reads only;
    (void)PQisBusy(c);       // this parses what was read
    (void)PQsetNoticeReceiver(c, previous, nullptr);
    return out;
}

/// A StartupMessage on a raw socket and what patroxy finally answers, with how long it took.
struct raw_startup_outcome {
    std::vector<backend_message> replies;
    milliseconds waited{0};
    [[nodiscard]] bool refused() const { return !replies.empty() && replies.back().type == 'E'; }
    [[nodiscard]] std::map<char, std::string> error() const
    {
        return refused() ? error_fields(replies.back()) : std::map<char, std::string>{};
    }
};

raw_startup_outcome raw_startup(std::uint16_t listener_port, milliseconds timeout)
{
    raw_connection raw(listener_port);
    const auto start = steady::now();
    raw_startup_outcome out;
    out.replies = raw.startup(timeout);
    out.waited = since(start);
    return out;
}

/// Prints a measured delay, so the run log shows the figures the issue asks for.
void report_delay(std::string_view what, milliseconds delay)
{
    std::cout << "[routing] " << what << ": " << delay.count() << " ms\n";
}

} // namespace

TEST_CASE("role listeners: primary reaches the leader only and replicas alternate over the replicas", "[routing]")
{
    routing_cluster cluster;
    cluster.healthy(0);
    const listener_def primary{"primary", "primary", {{"queue_timeout", "3s"}}};
    const listener_def replicas{"replicas", "replica", {{"max_lag", "1MB"}}};
    const listener_def readonly{"readonly", "read-only"};
    auto proxy = start_proxy(cluster, {primary, replicas, readonly});

    const auto node1 = cluster.pg_port(0);
    const auto node2 = cluster.pg_port(1);
    const auto node3 = cluster.pg_port(2);
    REQUIRE(wait_routes(replicas.port, {node2, node3}, 5s));

    const auto writes = reach_n(primary.port, 6);
    CHECK(writes == std::vector<std::uint16_t>(6, node1));

    const auto reads = reach_n(replicas.port, 8);
    INFO("replicas reached, in order: " << Catch::Detail::stringify(reads));
    CHECK(as_set(reads) == std::set<std::uint16_t>{node2, node3});
    for (std::size_t i = 1; i < reads.size(); ++i)
        CHECK(reads[i] != reads[i - 1]); // round-robin: strictly alternating

    CHECK(as_set(reach_n(readonly.port, 6)) == std::set<std::uint16_t>{node1, node2, node3});

    // The servers are all real primaries: what routes is the scripted Patroni view, nothing else.
    auto writer = connect_via(primary.port);
    REQUIRE(server_port(writer.get()) == node1);
    CHECK(run_statement(writer.get(), "CREATE TEMP TABLE routed(x int)").ok);
    CHECK(proxy->running());
}

TEST_CASE("switchover: new primary sessions reach the new leader within fast_interval plus one check "
          "and old-primary sessions end with 57P01",
          "[routing]")
{
    routing_cluster cluster;
    cluster.healthy(0);
    const listener_def primary{"primary", "primary", {{"queue_timeout", "3s"}}};
    const listener_def replicas{"replicas", "replica", {{"max_lag", "1MB"}}};
    health_def health;
    health.interval = "1s"; // the slow interval is what the fast path must beat
    auto proxy = start_proxy(cluster, {primary, replicas}, health);

    const auto node1 = cluster.pg_port(0);
    const auto node2 = cluster.pg_port(1);
    const auto node3 = cluster.pg_port(2);
    REQUIRE(wait_routes(primary.port, {node1}, 5s));
    REQUIRE(wait_routes(replicas.port, {node2, node3}, 5s));
    // Settled: slow polling again before the switch (the worst case for detection).
    REQUIRE(proxy->wait_for_log("a single primary is confirmed", 3s));

    // Sessions open before the switch: a libpq one and a raw one on node1 through :primary, a
    // read session on node3, which stays a replica.
    auto old_writer = connect_via(primary.port);
    REQUIRE(server_port(old_writer.get()) == node1);
    raw_connection raw_writer(primary.port);
    const auto raw_replies = raw_writer.startup(5s);
    REQUIRE_FALSE(raw_replies.empty());
    REQUIRE(raw_replies.back().type == 'Z');
    auto reader = session_on(replicas.port, node3);
    REQUIRE(reader);

    // Patroni's switchover as the APIs show it: node1 steps down, node2 is promoted and takes the lock.
    cluster.report_replica(0);
    cluster.report_master(1);
    cluster.dcs(1);
    const auto switched = steady::now();

    std::optional<milliseconds> routed_after;
    std::size_t old_routes = 0;
    while (since(switched) < 5s) {
        const auto port = reach(primary.port);
        if (port == node2) {
            routed_after = since(switched);
            break;
        }
        CHECK((!port || *port == node1)); // never a third member
        if (port == node1)
            ++old_routes;
        std::this_thread::sleep_for(5ms);
    }
    REQUIRE(routed_after.has_value());
    report_delay("switchover: first new session on the new leader after the script change", *routed_after);
    INFO("sessions still routed to node1 meanwhile: " << old_routes);
    CHECK(*routed_after < 1500ms);
    // From then on only node2.
    CHECK(reach_n(primary.port, 4) == std::vector<std::uint16_t>(4, node2));

    // The idle raw session got FATAL 57P01 naming the member, then the close.
    const auto killed = raw_writer.read_message(2s);
    REQUIRE(killed.has_value());
    REQUIRE(killed->type == 'E');
    auto fields = error_fields(*killed);
    CHECK(fields['S'] == "FATAL");
    CHECK(fields['C'] == "57P01");
    CHECK_THAT(fields['M'], Catch::Contains("node1 is no longer the primary"));
    CHECK(raw_writer.wait_closed(2s).has_value());

    // The libpq session received the same error while idle, and its next statement fails.
    CHECK(becomes_readable(old_writer.get(), 1s));
    const auto notice = read_idle_error(old_writer.get());
    CHECK(notice.severity == "FATAL");
    CHECK(notice.sqlstate == "57P01");
    CHECK_THAT(notice.message, Catch::Contains("node1 is no longer the primary"));
    const auto next = run_statement(old_writer.get(), "SELECT 1");
    INFO("old session's statement: " << next.sqlstate << " " << next.message);
    CHECK_FALSE(next.ok);
    CHECK(PQstatus(old_writer.get()) == CONNECTION_BAD);

    // The replica session is untouched; node1 now serves reads.
    CHECK(server_port(reader.get()) == node3);
    CHECK(wait_routes(replicas.port, {node1, node3}, 3s));
    CHECK(proxy->wait_for_log("primary changed from node1 to", 1s));
}

TEST_CASE("no primary: new clients are held up to queue_timeout and served by a leader that appears "
          "or answered 57P03 naming the listener",
          "[routing]")
{
    routing_cluster cluster;
    // An election under way: nobody reports master and the DCS has no leader lock.
    for (std::size_t i = 0; i < routing_cluster::size; ++i)
        cluster.report_replica(i);
    cluster.dcs(std::nullopt);
    const listener_def primary{"writes_q", "primary", {{"queue_timeout", "3s"}}};
    const listener_def replicas{"replicas", "replica"};
    auto proxy = start_proxy(cluster, {primary, replicas});
    const auto node1 = cluster.pg_port(0);
    REQUIRE(wait_routes(replicas.port, {node1, cluster.pg_port(1), cluster.pg_port(2)}, 5s));

    SECTION("no leader comes and the client gets 57P03 after queue_timeout")
    {
        // A raw client to read the ErrorResponse, and libpq beside it for what an application sees.
        auto pending = std::async(std::launch::async, [&] { return raw_startup(primary.port, 8s); });
        auto pending_libpq = std::async(std::launch::async, [&] {
            auto c = connect_via(primary.port);
            return std::pair{PQstatus(c.get()), std::string(PQerrorMessage(c.get()))};
        });
        // The replicas listener is not held meanwhile.
        CHECK(pending.wait_for(2s) == std::future_status::timeout); // held: queue_timeout - 1 s
        const auto reader_at = reach(replicas.port);
        CHECK(reader_at.has_value());
        REQUIRE(pending.wait_for(4s) == std::future_status::ready);
        const auto out = pending.get();
        report_delay("no primary: client answered 57P03 after", out.waited);
        REQUIRE(out.refused());
        auto fields = out.error();
        CHECK(fields['S'] == "FATAL");
        CHECK(fields['C'] == "57P03");
        CHECK_THAT(fields['M'], Catch::Contains("writes_q"));
        CHECK_THAT(fields['M'], Catch::Contains("no server is eligible"));
        CHECK(out.waited >= 2900ms);
        CHECK(out.waited < 4500ms);

        // libpq shows the same refusal.
        REQUIRE(pending_libpq.wait_for(2s) == std::future_status::ready);
        const auto [status, error] = pending_libpq.get();
        CHECK(status == CONNECTION_BAD);
        CHECK_THAT(error, Catch::Contains("writes_q"));
        CHECK_THAT(error, Catch::Contains("no server is eligible"));
    }

    SECTION("a leader appears within queue_timeout and the held client is served by it")
    {
        // The DCS already names node1 but it still reports replica (promotion in progress).
        cluster.dcs(0);
        const auto start = steady::now();
        auto pending = std::async(std::launch::async, [&] {
            auto c = connect_via(primary.port);
            return std::pair{server_port(c.get()), since(start)};
        });
        CHECK(pending.wait_for(2s) == std::future_status::timeout); // held: queue_timeout - 1 s

        cluster.report_master(0);
        const auto promoted = steady::now();
        REQUIRE(pending.wait_for(3s) == std::future_status::ready);
        const auto served_after = since(promoted);
        const auto [port, total] = pending.get();
        report_delay("held client served after the leader appeared", served_after);
        CHECK(port == node1);
        CHECK(total < 3000ms);       // served within queue_timeout
        CHECK(served_after < 1000ms); // fast polling found the leader
        CHECK(proxy->wait_for_log("queued: no eligible server", 1s));
    }
}

TEST_CASE("two members claim master: the primary listener routes nothing and the incident is logged once",
          "[routing]")
{
    routing_cluster cluster;
    cluster.healthy(0);
    cluster.report_master(1); // a partitioned old leader, say: it still reports master
    const listener_def primary{"primary", "primary", {{"queue_timeout", "1s"}}};
    const listener_def replicas{"replicas", "replica"};
    auto proxy = start_proxy(cluster, {primary, replicas});
    const auto node1 = cluster.pg_port(0);
    const auto node3 = cluster.pg_port(2);

    constexpr std::string_view incident = "two members claim primary: node1, node2";
    REQUIRE(proxy->wait_for_log(incident, 3s));
    REQUIRE(wait_routes(replicas.port, {node3}, 3s)); // node2 reports master: not a replica either

    const auto out = raw_startup(primary.port, 4s);
    REQUIRE(out.refused());
    CHECK(out.error()['C'] == "57P03");
    CHECK_THAT(out.error()['M'], Catch::Contains("\"primary\""));
    CHECK(out.waited >= 900ms);
    {
        auto c = connect_via(primary.port);
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
    }

    // Many snapshots later (fast polling all along), still one log line for the one incident.
    const auto log = proxy->log();
    INFO(log);
    CHECK(count_of(log, incident) == 1);
    CHECK(count_of(log, "node2 reports itself primary but the DCS leader is node1") == 1);
    // Two claimants need a person (log levels, README.md "Logging"); the other is a warning.
    CHECK(count_of(log, "ERROR " + std::string(incident)) == 1);
    CHECK(count_of(log, "WARNING node2 reports itself primary but the DCS leader is node1") == 1);
    // Before node2's first answer node1 was briefly the one primary; since the incident, nobody.
    const auto incident_at = log.find(incident);
    REQUIRE(incident_at != std::string::npos);
    CHECK(count_of(log.substr(incident_at), "primary changed from none to") == 0);

    // node2 steps down: node1 is the one primary again.
    cluster.report_replica(1);
    const auto resolved = steady::now();
    CHECK(wait_routes(primary.port, {node1}, 3s));
    report_delay("two claimants resolved: primary routed again after", since(resolved));
    CHECK(proxy->wait_for_log("primary changed from none to node1", 1s));
}

TEST_CASE("DCS leader and self-report disagree: no primary until they agree", "[routing]")
{
    routing_cluster cluster;
    // node2 holds the lock but still reports replica (promotion in progress); node1, the old
    // leader, has not noticed yet and still reports master.
    cluster.report_master(0);
    cluster.report_replica(1);
    cluster.report_replica(2);
    cluster.dcs(1);
    const listener_def primary{"primary", "primary", {{"queue_timeout", "1s"}}};
    const listener_def replicas{"replicas", "replica"};
    auto proxy = start_proxy(cluster, {primary, replicas});
    const auto node1 = cluster.pg_port(0);
    const auto node2 = cluster.pg_port(1);
    const auto node3 = cluster.pg_port(2);

    REQUIRE(proxy->wait_for_log("DCS leader node2 reports itself replica", 3s));
    // The DCS leader takes no reads while it is being promoted; the stale master none either.
    CHECK(wait_routes(replicas.port, {node3}, 3s));
    {
        const auto out = raw_startup(primary.port, 4s);
        REQUIRE(out.refused());
        CHECK(out.error()['C'] == "57P03");
        CHECK(out.waited >= 900ms);
    }

    // node1 steps down: still nobody, node2 has not finished its promotion.
    cluster.report_replica(0);
    CHECK(wait_routes(replicas.port, {node1, node3}, 3s));
    {
        const auto out = raw_startup(primary.port, 4s);
        REQUIRE(out.refused());
        CHECK(out.error()['C'] == "57P03");
    }

    // node2 reports master: lock and self agree.
    cluster.report_master(1);
    const auto agreed = steady::now();
    CHECK(wait_routes(primary.port, {node2}, 3s));
    report_delay("DCS and self-report agree: primary routed after", since(agreed));
    CHECK(wait_routes(replicas.port, {node1, node3}, 3s));
}

TEST_CASE("a member whose API fails is marked down after fall checks and its sessions end while nothing "
          "else moves and it returns after rise good checks",
          "[routing]")
{
    routing_cluster cluster;
    cluster.healthy(0);
    const listener_def primary{"primary", "primary", {{"queue_timeout", "3s"}}};
    const listener_def replicas{"replicas", "replica", {{"max_lag", "1MB"}}};
    const health_def health; // interval 500ms, timeout 300ms, fall 3, rise 2
    const milliseconds interval{500};
    const milliseconds timeout{300};
    auto proxy = start_proxy(cluster, {primary, replicas}, health);
    const auto node1 = cluster.pg_port(0);
    const auto node2 = cluster.pg_port(1);
    const auto node3 = cluster.pg_port(2);
    REQUIRE(wait_routes(primary.port, {node1}, 5s));
    REQUIRE(wait_routes(replicas.port, {node2, node3}, 5s));

    // Healthy sessions on node1 and node2 run statements all along, on their own thread.
    auto writer = connect_via(primary.port);
    REQUIRE(server_port(writer.get()) == node1);
    auto reader = session_on(replicas.port, node2);
    REQUIRE(reader);
    std::atomic<int> healthy_ok{0};
    std::atomic<int> healthy_failed{0};
    // Joined on every exit path, a failed REQUIRE included (declared after what it uses).
    std::jthread background([&](const std::stop_token& stop) {
        while (!stop.stop_requested()) {
            for (PGconn* c : {writer.get(), reader.get()}) {
                if (run_statement(c, "SELECT pg_backend_pid()").ok)
                    ++healthy_ok;
                else
                    ++healthy_failed;
            }
            std::this_thread::sleep_for(10ms);
        }
    });

    struct fault_case {
        patroni_fault fault;
        std::string_view name;
        std::string_view check_code; ///< as the DOWN log line names the failed check
    };
    const std::array<fault_case, 4> faults{{{patroni_fault::hang, "hang", "L7TOUT"},
                                            {patroni_fault::http_500, "HTTP 500", "L7STS"},
                                            {patroni_fault::garbage, "garbage", "L7RSP"},
                                            {patroni_fault::refuse, "refused", "L4CON"}}};
    for (const auto& f : faults) {
        INFO("node3's API: " << f.name);
        auto victim = session_on(replicas.port, node3);
        REQUIRE(victim);

        cluster.api(2).set_fault(f.fault);
        const auto broke = steady::now();
        const bool ended = becomes_readable(victim.get(), 4s);
        const auto down_after = since(broke);
        report_delay(std::string("node3 API ") + std::string(f.name) + ": its session ended after", down_after);
        CHECK(ended);
        // Not on the first failed check, and within fall checks (plus the last one's timeout).
        CHECK(down_after >= (health.fall - 1) * interval - 100ms);
        CHECK(down_after <= health.fall * interval + timeout + 400ms);

        const auto notice = read_idle_error(victim.get());
        CHECK(notice.severity == "FATAL");
        CHECK(notice.sqlstate == "57P01");
        CHECK_THAT(notice.message, Catch::Contains("terminating connection: member node3 is down"));
        const auto outcome = run_statement(victim.get(), "SELECT 1");
        INFO("killed session's statement: " << outcome.message);
        CHECK_FALSE(outcome.ok);
        CHECK(proxy->wait_for_log("member=node3 is DOWN: " + std::string(f.check_code), 1s));

        // Routing of the others is unchanged.
        CHECK(reach_n(replicas.port, 4) == std::vector<std::uint16_t>(4, node2));
        CHECK(reach_n(primary.port, 2) == std::vector<std::uint16_t>(2, node1));

        cluster.api(2).set_fault(patroni_fault::none);
        const auto repaired = steady::now();
        const bool back = wait_until([&] { return as_set(reach_n(replicas.port, 2)).contains(node3); }, 4s, 10ms);
        const auto up_after = since(repaired);
        report_delay(std::string("node3 API ") + std::string(f.name) + " repaired: routed again after", up_after);
        CHECK(back);
        CHECK(up_after >= (health.rise - 1) * interval - 100ms);
        CHECK(up_after <= health.rise * interval + timeout + 400ms);
    }

    background.request_stop();
    background.join();
    INFO("healthy statements: " << healthy_ok.load() << " ok, " << healthy_failed.load() << " failed");
    CHECK(healthy_failed.load() == 0);
    CHECK(healthy_ok.load() > 100);
    CHECK(count_of(proxy->log(), "member=node1 is DOWN") == 0);
    CHECK(count_of(proxy->log(), "member=node2 is DOWN") == 0);
    CHECK(count_of(proxy->log(), "primary changed from node1") == 0);
}

TEST_CASE("a replica over max_lag takes no new sessions and keeps its sessions unless on_lag is shutdown", "[routing]")
{
    routing_cluster cluster;
    cluster.healthy(0);
    const listener_def primary{"primary", "primary"};
    const listener_def keep{"reads_keep", "replica", {{"max_lag", "1MB"}}};
    const listener_def strict{"reads_strict", "replica", {{"max_lag", "1MB"}, {"on_lag", "shutdown"}}};
    auto proxy = start_proxy(cluster, {primary, keep, strict});
    const auto node2 = cluster.pg_port(1);
    const auto node3 = cluster.pg_port(2);
    REQUIRE(wait_routes(keep.port, {node2, node3}, 5s));
    REQUIRE(wait_routes(strict.port, {node2, node3}, 5s));

    auto kept = session_on(keep.port, node3);
    auto doomed = session_on(strict.port, node3);
    REQUIRE(kept);
    REQUIRE(doomed);

    // The leader moves 64 MiB ahead; node2 follows, node3 stays behind.
    const std::uint64_t ahead = wal_base + 64 * mib;
    cluster.report_master(0, ahead);
    cluster.report_replica(1, ahead);
    const auto lagging = steady::now();

    CHECK(becomes_readable(doomed.get(), 3s));
    report_delay("lagging replica: on_lag shutdown session ended after", since(lagging));
    const auto notice = read_idle_error(doomed.get());
    CHECK(notice.severity == "FATAL");
    CHECK(notice.sqlstate == "57P01");
    CHECK_THAT(notice.message, Catch::Contains("member node3 lags behind the primary by more than max_lag"));
    const auto outcome = run_statement(doomed.get(), "SELECT 1");
    INFO("strict session's statement: " << outcome.message);
    CHECK_FALSE(outcome.ok);

    CHECK(wait_routes(keep.port, {node2}, 3s));
    CHECK(wait_routes(strict.port, {node2}, 3s));
    // Through several more checks, the keep session stays open and usable on node3.
    std::this_thread::sleep_for(1200ms);
    CHECK_FALSE(becomes_readable(kept.get(), 0ms));
    CHECK(server_port(kept.get()) == node3);

    // node3 catches up: it is routed again.
    cluster.report_replica(2, ahead);
    CHECK(wait_routes(keep.port, {node2, node3}, 3s));
    CHECK(wait_routes(strict.port, {node2, node3}, 3s));
    CHECK(server_port(kept.get()) == node3);
}

TEST_CASE("one GET /patroni per member per interval whatever the number of listeners", "[routing]")
{
    routing_cluster cluster;
    cluster.healthy(0);
    const listener_def primary{"primary", "primary"};
    const listener_def replicas{"replicas", "replica"};
    const listener_def readonly{"readonly", "read-only"};
    auto proxy = start_proxy(cluster, {primary, replicas, readonly}); // interval 500ms
    REQUIRE(wait_routes(primary.port, {cluster.pg_port(0)}, 5s));
    REQUIRE(proxy->wait_for_log("a single primary is confirmed", 3s));
    std::this_thread::sleep_for(600ms); // any fast round is over

    for (std::size_t i = 0; i < routing_cluster::size; ++i)
        cluster.api(i).reset_counts();
    const auto start = steady::now();
    std::this_thread::sleep_for(3s);
    const auto window = since(start);
    std::size_t cluster_reads = 0;
    for (std::size_t i = 0; i < routing_cluster::size; ++i) {
        const auto n = cluster.api(i).request_count("/patroni");
        INFO(routing_cluster::name(i) << ": " << n << " GET /patroni in " << window.count() << " ms");
        CHECK(n >= 5);
        CHECK(n <= 8); // 3 s / 500 ms = 6; a per-listener poll would be 18
        cluster_reads += cluster.api(i).request_count("/cluster");
    }
    INFO(cluster_reads << " GET /cluster in " << window.count() << " ms");
    CHECK(cluster_reads >= 5);
    CHECK(cluster_reads <= 8);
}

TEST_CASE("discover: a member the DCS lists but the config does not is checked and routed", "[routing]")
{
    routing_cluster cluster;
    cluster.healthy(0);
    const listener_def replicas{"replicas", "replica"};
    auto proxy = start_proxy(cluster, {replicas}, {}, 2, true); // node3 is not in the config

    const auto node2 = cluster.pg_port(1);
    const auto node3 = cluster.pg_port(2);
    // node3 comes from GET /cluster, is asked GET /patroni itself, and joins the replica set.
    CHECK(cluster.api(2).wait_for_requests("/patroni", 1, 5s));
    REQUIRE(wait_routes(replicas.port, {node2, node3}, 5s));
    CHECK(count_of(proxy->log(), "member=node3 discovered from the DCS") == 1);
}
