// patroxy's threads all at work at once: four workers serve clients from several client threads
// (sessions opened and closed, sessions held, cancels that arrive on another worker than their
// session's), while the control thread reloads the config, hands every poll's snapshot to the
// workers, closes sessions for an operator's maint, and answers /metrics, /stats.json and the
// admin socket's `show sess` (which asks every worker). tests/run runs it against a TSan-built
// patroxy, where a race between those threads stops patroxy with a report.
#include <catch2/catch.hpp>

#include "tests/support/fake_patroni.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"
#include "tests/support/unix_client.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr int client_threads = 4;
constexpr int sessions_per_client = 20;
constexpr int cancel_every = 5; ///< every fifth session of a client also cancels a query

/// node1 leads and node2 replicates: real servers behind fake Patroni APIs.
struct leader_and_replica {
    leader_and_replica()
    {
        std::vector<cluster_member> dcs;
        for (std::size_t i = 0; i < 2; ++i) {
            patroni_member self;
            self.role = i == 0 ? "master" : "replica";
            apis[i].set_patroni_body(patroni_json(self).dump());
            cluster_member entry{.name = name(i), .role = i == 0 ? "leader" : "replica", .api_url = apis[i].api_url() + "/patroni", .port = shared_pg_server(i).port()};
            if (i != 0) entry.lag = 0;
            dcs.push_back(std::move(entry));
        }
        for (auto& api : apis) api.set_cluster_body(cluster_json(dcs).dump());
    }
    [[nodiscard]] static std::string name(std::size_t i) { return "node" + std::to_string(i + 1); }

    std::array<fake_patroni, 2> apis;
};

/// The config: four workers, a primary and a replica listener, polling every 100 ms (so the
/// workers get a new snapshot several times a second), the stats listener and the admin socket.
/// `generation` changes the primary listener's limit, so that each reload replaces it.
std::string config_text(const leader_and_replica& cluster, const std::array<std::uint16_t, 3>& ports,
                        const std::string& socket_path, int generation)
{
    json members = json::array();
    for (std::size_t i = 0; i < 2; ++i)
        members.push_back({{"name", leader_and_replica::name(i)}, {"host", "127.0.0.1"}, {"port", shared_pg_server(i).port()}, {"api", cluster.apis[i].api_url()}});
    const auto bind = [](std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); };
    return json{
        {"cluster", {{"scope", "demo"}, {"members", std::move(members)}}},
        {"health", {{"interval", "100ms"}, {"fast_interval", "100ms"}, {"timeout", "1s"}, {"fall", 3}, {"rise", 1}}},
        {"listeners", json::array({{{"name", "primary"}, {"bind", bind(ports[0])}, {"role", "primary"}, {"queue_timeout", "2s"}, {"max_connections", 100 + generation}},
                                   {{"name", "replicas"}, {"bind", bind(ports[1])}, {"role", "replica"}}})},
        {"timeouts", {{"connect", "2s"}, {"startup", "5s"}}},
        {"workers", 4},
        {"stats", {{"bind", bind(ports[2])}}},
        {"admin_socket", {{"path", socket_path}, {"level", "admin"}}},
    }
        .dump(2);
}

/// What one client thread saw.
struct client_outcome {
    int sessions_ok = 0;
    int cancels_ok = 0;
    std::vector<std::string> failures;
};

/// Sends `SELECT pg_sleep(30)` on `c` and cancels it through the listener: true when the query
/// ends with 57014 (query_canceled) within a few seconds, which needs the cancel to have found
/// the session's server through the registry every worker shares.
bool cancel_takes_effect(PGconn* c, std::string& why)
{
    if (PQsendQuery(c, "SELECT pg_sleep(30)") != 1) {
        why = std::string("send: ") + PQerrorMessage(c);
        return false;
    }
    std::this_thread::sleep_for(50ms); // the backend is in pg_sleep
    PGcancel* cancel = PQgetCancel(c);
    std::array<char, 256> error{};
    const bool sent = cancel && PQcancel(cancel, error.data(), static_cast<int>(error.size())) == 1;
    PQfreeCancel(cancel);
    if (!sent) {
        why = std::string("PQcancel: ") + error.data();
        return false;
    }
    if (!becomes_readable(c, 5s)) {
        why = "the query was still running 5 s after the cancel";
        return false;
    }
    std::string state;
    while (pq_result r{PQgetResult(c)}) {
        if (const char* s = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) state = s;
    }
    why = "the query ended with SQLSTATE '" + state + "'";
    return state == "57014";
}

/// One client: a session held for the whole run, and `sessions_per_client` sessions opened,
/// queried and closed one after another, every `cancel_every`-th with a cancelled query too.
client_outcome run_client(int id, std::uint16_t port, const std::stop_token& stop)
{
    client_outcome out;
    const auto fail = [&out, id](const std::string& what) { out.failures.push_back("client " + std::to_string(id) + ": " + what); };
    auto held = pq_connect(conninfo_for(port, "sslmode=disable"));
    if (PQstatus(held.get()) != CONNECTION_OK) {
        fail(std::string("held session: ") + PQerrorMessage(held.get()));
        return out;
    }
    for (int n = 1; n <= sessions_per_client && !stop.stop_requested(); ++n) {
        try {
            auto c = pq_connect(conninfo_for(port, "sslmode=disable"));
            if (PQstatus(c.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c.get()));
            const auto value = std::to_string(id * 1000 + n);
            if (query_value(c.get(), "SELECT " + value) != value) throw std::runtime_error("wrong answer");
            ++out.sessions_ok;
            if (n % cancel_every == 0) {
                std::string why;
                if (cancel_takes_effect(c.get(), why))
                    ++out.cancels_ok;
                else
                    fail("cancel in session " + std::to_string(n) + ": " + why);
            }
            if (query_value(held.get(), "SELECT " + value) != value) throw std::runtime_error("held session: wrong answer");
        } catch (const std::exception& e) {
            fail("session " + std::to_string(n) + ": " + e.what());
        }
    }
    return out;
}

/// Lines of `show sess` for listener `listener`.
int sessions_listed(const std::string& show_sess, const std::string& listener)
{
    int n = 0;
    for (auto at = show_sess.find(" fe=" + listener + " "); at != std::string::npos;
         at = show_sess.find(" fe=" + listener + " ", at + 1))
        ++n;
    return n;
}

/// How often patroxy has logged `needle` so far.
std::size_t occurrences(const std::string& log, const std::string& needle)
{
    std::size_t n = 0;
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
}

/// The sessions_total of listener `name` in /stats.json.
std::uint64_t sessions_total(std::uint16_t stats_port, const std::string& name)
{
    const auto doc = json::parse(http_get(stats_port, "/stats.json").body);
    for (const auto& l : doc.at("listeners"))
        if (l.at("name") == name) return l.at("sessions_total").get<std::uint64_t>();
    throw std::runtime_error("no listener " + name + " in /stats.json");
}

} // namespace

TEST_CASE("threads: four workers serve clients and cancels while the config reloads, a member goes to maint and "
          "back, and /metrics, /stats.json and show sess are read",
          "[threads]")
{
    leader_and_replica cluster;
    const std::array<std::uint16_t, 3> ports{free_port(), free_port(), free_port()};
    const auto dir = make_temp_dir("patroxy-threads");
    const auto socket_path = dir + "/admin.sock";
    patroxy_process proxy(PATROXY_BINARY, config_text(cluster, ports, socket_path, 0),
                          std::vector<std::uint16_t>{ports[0], ports[1], ports[2]}, {"--log-level", "debug"}, 30s);
    const auto admin = [&socket_path](const std::string& command) {
        return unix_exchange(socket_path, command + "\n", 10s).value_or("<no answer>");
    };
    REQUIRE(poll_until([&] { return PQstatus(connect_via(ports[0]).get()) == CONNECTION_OK; }, 20s));
    REQUIRE(poll_until([&] { return PQstatus(connect_via(ports[1]).get()) == CONNECTION_OK; }, 20s));
    const auto replicas_before = sessions_total(ports[2], "replicas");

    // jthreads: a failed REQUIRE below stops and joins them on the way out.
    std::array<client_outcome, client_threads> outcomes;
    std::vector<std::jthread> clients;
    for (int id = 0; id < client_threads; ++id)
        clients.emplace_back([&, id](const std::stop_token& stop) { outcomes[id] = run_client(id, ports[1], stop); });

    // The readers, on their own thread: every answer whole, the held sessions always listed.
    std::atomic<bool> clients_done{false};
    struct reader_outcome {
        int scrapes = 0;
        std::vector<std::string> failures;
    } reader;
    std::jthread reader_thread([&](const std::stop_token& stop) {
        while (!clients_done && !stop.stop_requested()) {
            try {
                const auto metrics = http_get(ports[2], "/metrics", {}, 10s);
                if (metrics.status != 200 || metrics.body.find("patroxy_") == std::string::npos)
                    reader.failures.push_back("/metrics answered " + std::to_string(metrics.status));
                (void)sessions_total(ports[2], "replicas");
                const auto sess = admin("show sess");
                // At most three sessions per client at once: the held one, the current one, and
                // its cancel's connection (which is no session but may be listed while it starts);
                // and as many again whose client has closed but whose worker has not yet read the
                // close (seen: 14 listed for 4 clients on a loaded machine). A count past that
                // means sessions listed twice or never removed.
                if (sessions_listed(sess, "replicas") > client_threads * 3 * 2)
                    reader.failures.push_back("show sess listed too many: " + sess);
                if (admin("show stat").find("replicas,node2,") == std::string::npos)
                    reader.failures.push_back("show stat has no replicas/node2 row");
                ++reader.scrapes;
            } catch (const std::exception& e) {
                reader.failures.push_back(e.what());
            }
        }
    });

    // The control thread's own work meanwhile: reloads that replace a listener, and maint/ready
    // of the leader on it, which the workers carry out on their sessions.
    auto on_primary = connect_via(ports[0]);
    REQUIRE(PQstatus(on_primary.get()) == CONNECTION_OK);
    constexpr int reloads = 4;
    for (int r = 1; r <= reloads; ++r) {
        std::ofstream(proxy.config_path(), std::ios::trunc) << config_text(cluster, ports, socket_path, r);
        REQUIRE(::kill(proxy.pid(), SIGHUP) == 0);
        REQUIRE(poll_until([&] { return occurrences(proxy.log(), "configuration reloaded from") == std::size_t(r); },
                           20s));
    }
    CHECK(admin("set server primary/node1 state maint") == "\n");
    // The session from before the reloads lives on the replaced listener's old version: maint
    // reaches it there too.
    CHECK(becomes_readable(on_primary.get(), 10s));
    CHECK(admin("set server primary/node1 state ready") == "\n");
    CHECK(poll_until([&] { return PQstatus(connect_via(ports[0]).get()) == CONNECTION_OK; }, 10s));

    for (auto& c : clients) c.join();
    clients_done = true;
    reader_thread.join();

    INFO(proxy.log());
    for (const auto& o : outcomes) {
        for (const auto& f : o.failures) FAIL_CHECK(f);
        CHECK(o.sessions_ok == sessions_per_client);
        CHECK(o.cancels_ok == sessions_per_client / cancel_every);
    }
    for (const auto& f : reader.failures) FAIL_CHECK(f);
    CHECK(reader.scrapes > 0);
    // The counters the workers bumped, summed by the control thread: one accepted connection per
    // session and per cancel, none lost.
    const std::uint64_t opened = client_threads * (1 + sessions_per_client + sessions_per_client / cancel_every);
    CHECK(sessions_total(ports[2], "replicas") - replicas_before == opened);
    CHECK(poll_until([&] { return sessions_listed(admin("show sess"), "replicas") == 0; }, 10s));
    CHECK(proxy.log().find(" BUG: ") == std::string::npos); // an exception escaped a handler
    CHECK(proxy.running());
    std::filesystem::remove_all(dir);
}
