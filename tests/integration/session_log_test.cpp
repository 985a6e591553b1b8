// Operator logs against real PostgreSQL: the line each session leaves at its close (HAProxy's
// tcplog fields and termination state), for each way a session ends; the cancel line; JSON
// mode for the whole log; log.sessions off; the levels of a switchover's incidents; and the
// byte counters of /metrics moving while a long COPY runs.
#include "tests/support/fake_patroni.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_bytes.hpp"
#include "tests/support/pg_server.hpp"
#include "tests/support/unix_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

/// A static listener "logged" over pg1 (the first shared server) in JSON mode unless `log` says
/// otherwise, with room for more top-level keys.
struct static_rig {
    std::uint16_t port = free_port();
    json doc;

    explicit static_rig(json log = {{"format", "json"}})
    {
        doc = {{"cluster", {{"members", json::array({{{"name", "pg1"}, {"host", "127.0.0.1"},
                                                       {"port", shared_pg_server(0).port()}}})}}},
               {"listeners", json::array({{{"name", "logged"}, {"bind", "127.0.0.1:" + std::to_string(port)},
                                           {"servers", json::array({"pg1"})}}})},
               {"timeouts", {{"connect", "1s"}, {"startup", "2s"}}},
               {"log", std::move(log)},
               {"workers", 1}};
    }

    [[nodiscard]] json& listener() { return doc["listeners"][0]; }

    [[nodiscard]] std::unique_ptr<patroxy_process> start(std::vector<std::uint16_t> more_ports = {},
                                                         std::vector<std::string> args = {}) const
    {
        more_ports.push_back(port);
        return std::make_unique<patroxy_process>(PATROXY_BINARY, doc.dump(), more_ports, args);
    }
};

/// The JSON records of `kind` ("session", "cancel") in a JSON-format log.
std::vector<json> records(const std::string& log, std::string_view kind)
{
    std::vector<json> out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        auto j = json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.is_object() && j.value("kind", "") == kind) out.push_back(std::move(j));
    }
    return out;
}

/// Waits for a record of `kind` for which `match` holds.
std::optional<json> wait_record(const patroxy_process& proxy, std::string_view kind,
                                const std::function<bool(const json&)>& match, std::chrono::milliseconds timeout = 5s)
{
    std::optional<json> found;
    (void)poll_until(
        [&] {
            for (auto& r : records(proxy.log(), kind))
                if (match(r)) {
                    found = std::move(r);
                    return true;
                }
            return false;
        },
        timeout);
    return found;
}

/// The session record of the session that gave `application_name`.
std::optional<json> session_named(const patroxy_process& proxy, const std::string& application_name,
                                  std::chrono::milliseconds timeout = 5s)
{
    return wait_record(
        proxy, "session", [&](const json& r) { return r["application_name"] == application_name; }, timeout);
}

/// How a session ended, as its record says: `state`, the SQLSTATE patroxy sent ("" for none) and
/// the member ("" for none).
void check_end(const json& record, std::string_view state, std::string_view sqlstate, std::string_view member)
{
    INFO(record.dump());
    CHECK(record["state"] == state);
    if (sqlstate.empty()) CHECK(record["sqlstate"].is_null());
    else CHECK(record["sqlstate"] == sqlstate);
    if (member.empty()) CHECK(record["member"].is_null());
    else CHECK(record["member"] == member);
}

pq_conn connect_named(std::uint16_t port, const std::string& application_name)
{
    return pq_connect(conninfo_for(port, "sslmode=disable application_name=" + application_name));
}

/// A raw client through `port` that finished its startup as `application_name`.
raw_connection raw_session(std::uint16_t port, const std::string& application_name,
                           std::vector<backend_message>* replies = nullptr)
{
    raw_connection raw(port);
    raw.send(pg_bytes::startup({{"user", "postgres"}, {"database", "postgres"}, {"application_name", application_name}}));
    std::vector<backend_message> got;
    for (;;) {
        auto m = raw.read_message(5s);
        REQUIRE(m);
        got.push_back(*m);
        if (m->type == 'Z' || m->type == 'E') break;
    }
    REQUIRE(got.back().type == 'Z');
    if (replies) *replies = std::move(got);
    return raw;
}

/// Every line of a JSON-format log is one JSON object with time and level.
void check_all_json(const std::string& log)
{
    std::istringstream in(log);
    std::size_t lines = 0;
    for (std::string line; std::getline(in, line);) {
        INFO(line);
        const auto j = json::parse(line, nullptr, false);
        REQUIRE_FALSE(j.is_discarded());
        CHECK(j.contains("time"));
        CHECK(j.contains("level"));
        ++lines;
    }
    CHECK(lines > 0);
}

std::uint64_t metric_sum(const std::string& metrics, std::string_view name)
{
    std::uint64_t sum = 0;
    std::istringstream in(metrics);
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with(name) || line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' '))
            continue;
        sum += static_cast<std::uint64_t>(std::stod(line.substr(line.rfind(' ') + 1)));
    }
    return sum;
}

/// Two members, node1 and node2 on the shared servers, each with a fake Patroni API that the
/// test scripts: what GET /patroni says of each, and who holds the DCS leader lock.
struct patroni_pair {
    std::array<fake_patroni, 2> apis;
    std::array<std::uint16_t, 2> pg_ports{shared_pg_server(0).port(), shared_pg_server(1).port()};

    [[nodiscard]] static std::string name(std::size_t i) { return "node" + std::to_string(i + 1); }

    void report(std::size_t i, const std::string& role, const std::string& state)
    {
        patroni_member m;
        m.role = role;
        m.state = state;
        apis.at(i).set_patroni_body(patroni_json(m).dump());
    }

    void dcs(std::optional<std::size_t> leader)
    {
        std::vector<cluster_member> members;
        for (std::size_t i = 0; i < apis.size(); ++i) {
            cluster_member m;
            m.name = name(i);
            m.role = leader == i ? "leader" : "replica";
            m.api_url = apis[i].api_url() + "/patroni";
            m.port = pg_ports[i];
            if (leader != i) m.lag = 0;
            members.push_back(std::move(m));
        }
        for (auto& a : apis) a.set_cluster_body(cluster_json(members).dump());
    }

    /// A primary listener on `port` that holds clients 1 s, logging JSON, fast checks.
    [[nodiscard]] json config(std::uint16_t port) const
    {
        json members = json::array();
        for (std::size_t i = 0; i < apis.size(); ++i)
            members.push_back(
                {{"name", name(i)}, {"host", "127.0.0.1"}, {"port", pg_ports[i]}, {"api", apis[i].api_url()}});
        return {{"cluster", {{"members", members}}},
                {"health", {{"interval", "300ms"}, {"fast_interval", "100ms"}, {"timeout", "300ms"}}},
                {"listeners", json::array({{{"name", "primary"}, {"bind", "127.0.0.1:" + std::to_string(port)},
                                            {"role", "primary"}, {"queue_timeout", "1s"}}})},
                {"log", {{"format", "json"}}},
                {"workers", 1}};
    }
};

/// The free-text messages logged at `level` in a JSON-format log.
std::vector<std::string> messages_at(const std::string& log, std::string_view level)
{
    std::vector<std::string> out;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
        const auto j = json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.contains("msg") && j["level"] == level) out.push_back(j["msg"]);
    }
    return out;
}

} // namespace

TEST_CASE("session line, text: a normal session is one tcplog-like line with state --", "[integration][oplog]")
{
    static_rig rig(json::object()); // the defaults: text, session lines on
    auto proxy = rig.start();
    {
        auto c = connect_named(rig.port, "oplog_normal");
        REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
        CHECK(query_value(c.get(), "SELECT 1") == "1");
    } // PQfinish sends Terminate
    REQUIRE(proxy->wait_for_log("application_name=oplog_normal", 5s));
    std::string line;
    std::istringstream in(proxy->log());
    for (std::string l; std::getline(in, l);)
        if (l.find("application_name=oplog_normal") != std::string::npos) line = l;
    INFO(line);
    const std::regex expected(
        R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO session session=\d+ client=127\.0\.0\.1:\d+ listener=logged )"
        R"(member=pg1 server=127\.0\.0\.1:)" +
        std::to_string(shared_pg_server(0).port()) +
        R"( Tw=0 Tc=\d+ Tt=\d+ bytes_in=([1-9]\d*) bytes_out=([1-9]\d*) state=-- sqlstate=- user=postgres )"
        R"(database=postgres application_name=oplog_normal reason="client closed")");
    CHECK(std::regex_match(line, expected));
}

TEST_CASE("session line, JSON: every way a session ends has its state and SQLSTATE", "[integration][oplog]")
{
    const auto pg_port = shared_pg_server(0).port();

    SECTION("normal: --, every field")
    {
        static_rig rig;
        auto proxy = rig.start();
        {
            auto c = connect_named(rig.port, "oplog_json");
            REQUIRE(query_value(c.get(), "SELECT 1") == "1");
        }
        const auto r = session_named(*proxy, "oplog_json");
        REQUIRE(r);
        INFO(r->dump());
        CHECK((*r)["level"] == "info");
        check_end(*r, "--", "", "pg1");
        CHECK((*r)["listener"] == "logged");
        CHECK((*r)["server"] == "127.0.0.1:" + std::to_string(pg_port));
        CHECK((*r)["user"] == "postgres");
        CHECK((*r)["database"] == "postgres");
        CHECK((*r)["Tw"] == 0);
        CHECK((*r)["Tc"].get<int>() >= 0);
        CHECK((*r)["Tt"].get<int>() >= (*r)["Tc"].get<int>());
        CHECK((*r)["bytes_in"].get<int>() > 0);
        CHECK((*r)["bytes_out"].get<int>() > 0);
        CHECK((*r)["client"].get<std::string>().starts_with("127.0.0.1:"));
        check_all_json(proxy->log());
    }
    SECTION("the client leaves mid-query without Terminate: CD")
    {
        static_rig rig;
        auto proxy = rig.start();
        auto raw = raw_session(rig.port, "oplog_quits");
        raw.send(pg_bytes::query("SELECT pg_sleep(1)"));
        std::this_thread::sleep_for(200ms);
        raw.close();
        const auto r = session_named(*proxy, "oplog_quits");
        REQUIRE(r);
        check_end(*r, "CD", "", "pg1");
    }
    SECTION("the server ends the session (pg_terminate_backend): SD")
    {
        static_rig rig;
        auto proxy = rig.start();
        auto c = connect_named(rig.port, "oplog_terminated");
        const auto pid = query_value(c.get(), "SELECT pg_backend_pid()");
        auto direct = pq_connect(shared_pg_server(0).conninfo("sslmode=disable"));
        CHECK(query_value(direct.get(), "SELECT pg_terminate_backend(" + pid + ")") == "t");
        const auto r = session_named(*proxy, "oplog_terminated");
        REQUIRE(r);
        check_end(*r, "SD", "", "pg1"); // the 57P01 came from PostgreSQL, not from patroxy
        CHECK((*r)["reason"] == "server closed");
    }
    SECTION("over the listener's max_connections: PR with 53300")
    {
        static_rig rig;
        rig.listener()["max_connections"] = 1;
        auto proxy = rig.start();
        auto first = connect_named(rig.port, "oplog_first");
        REQUIRE(PQstatus(first.get()) == CONNECTION_OK);
        auto second = connect_named(rig.port, "oplog_second");
        CHECK(PQstatus(second.get()) == CONNECTION_BAD);
        const auto r = session_named(*proxy, "oplog_second");
        REQUIRE(r);
        check_end(*r, "PR", "53300", "");
        CHECK((*r)["Tw"] == -1);
        CHECK((*r)["Tc"] == -1);
    }
    SECTION("every server refuses: SC with 57P03")
    {
        static_rig rig;
        rig.doc["cluster"]["members"][0]["port"] = free_port(); // nothing listens there
        auto proxy = rig.start();
        auto c = connect_named(rig.port, "oplog_refused");
        CHECK(PQstatus(c.get()) == CONNECTION_BAD);
        const auto r = session_named(*proxy, "oplog_refused");
        REQUIRE(r);
        check_end(*r, "SC", "57P03", "");
        CHECK((*r)["Tw"] == 0);
        CHECK((*r)["Tc"] == -1);
    }
}

TEST_CASE("session line: an operator's maint kills with KD and 57P01", "[integration][oplog]")
{
    static_rig rig;
    const auto dir = make_temp_dir("oplog-admin");
    const auto socket_path = dir + "/admin.sock";
    rig.doc["admin_socket"] = {{"path", socket_path}};
    auto proxy = rig.start();
    auto c = connect_named(rig.port, "oplog_maint");
    REQUIRE(query_value(c.get(), "SELECT 1") == "1");
    REQUIRE(poll_until([&] { return unix_exchange(socket_path, "disable server logged/pg1\n", 2s).has_value(); }, 5s));
    const auto r = session_named(*proxy, "oplog_maint");
    REQUIRE(r);
    check_end(*r, "KD", "57P01", "pg1");
}

TEST_CASE("cancel line: its own kind with the result, never the secret key", "[integration][oplog]")
{
    static_rig rig;
    auto proxy = rig.start();
    std::vector<backend_message> replies;
    auto raw = raw_session(rig.port, "oplog_cancelled", &replies);
    const auto key = find_backend_key(replies);
    REQUIRE(key);
    raw.send(pg_bytes::query("SELECT pg_sleep(5)"));
    std::this_thread::sleep_for(200ms);
    {
        raw_connection cancel(rig.port);
        cancel.send(pg_bytes::cancel_request(key->pid, key->key));
        CHECK(cancel.wait_closed(3s).has_value());
    }
    const auto r = wait_record(*proxy, "cancel", [](const json&) { return true; });
    REQUIRE(r);
    INFO(r->dump());
    CHECK((*r)["result"] == "forwarded");
    CHECK((*r)["listener"] == "logged");
    CHECK((*r)["detail"].get<std::string>().find("pid " + std::to_string(key->pid)) != std::string::npos);
    // The query was cancelled (57014), then the session goes on to a normal end.
    std::optional<backend_message> answer;
    do {
        answer = raw.read_message(5s);
        REQUIRE(answer);
    } while (answer->type != 'E' && answer->type != 'Z');
    CHECK(answer->type == 'E');
    CHECK(error_fields(*answer)['C'] == "57014");
    raw.send(pg_bytes::terminate());
    const auto session = session_named(*proxy, "oplog_cancelled");
    REQUIRE(session);
    CHECK((*session)["state"] == "--");
    // The secret key never reaches the log, in any form a log line would print it.
    // (A key of few digits could turn up inside a timestamp or a port by chance; PostgreSQL's are
    // random 32-bit values, so almost every run checks.)
    const auto log = proxy->log();
    for (const auto& text : {std::to_string(key->key), std::to_string(static_cast<std::uint32_t>(key->key))})
        if (text.size() >= 7) CHECK(log.find(text) == std::string::npos);
}

TEST_CASE("log.sessions false: no session or cancel line, the close only at debug", "[integration][oplog]")
{
    static_rig rig(json{{"sessions", false}});
    auto proxy = rig.start({}, {"--log-level", "debug"});
    {
        auto c = connect_named(rig.port, "oplog_silent");
        REQUIRE(query_value(c.get(), "SELECT 1") == "1");
    }
    REQUIRE(proxy->wait_for_log("closed: client closed", 5s));
    const auto log = proxy->log();
    CHECK(log.find(" INFO session ") == std::string::npos);
    CHECK(log.find("application_name=oplog_silent") == std::string::npos);
    CHECK(log.find("DEBUG session=") != std::string::npos);
}

TEST_CASE("log.level from the config, and --log-level wins over it", "[integration][oplog]")
{
    static_rig rig(json{{"level", "warning"}});
    {
        auto proxy = rig.start();
        auto c = connect_named(rig.port, "oplog_quiet");
        REQUIRE(query_value(c.get(), "SELECT 1") == "1");
        c.reset();
        proxy->stop();
        CHECK(proxy->log().find(" INFO ") == std::string::npos); // not even "listening on"
    }
    {
        auto proxy = rig.start({}, {"--log-level", "info"});
        auto c = connect_named(rig.port, "oplog_loud");
        REQUIRE(query_value(c.get(), "SELECT 1") == "1");
        c.reset();
        CHECK(proxy->wait_for_log("INFO session ", 5s));
    }
}

TEST_CASE("SIGHUP applies a changed log object: text to JSON, session lines on to off", "[integration][oplog]")
{
    static_rig rig(json::object());
    auto proxy = rig.start();
    {
        auto c = connect_named(rig.port, "oplog_before");
        REQUIRE(query_value(c.get(), "SELECT 1") == "1");
    }
    REQUIRE(proxy->wait_for_log("application_name=oplog_before", 5s));

    auto reloaded = rig.doc;
    reloaded["log"] = {{"format", "json"}};
    {
        std::ofstream out(proxy->config_path(), std::ios::trunc);
        out << reloaded.dump();
    }
    REQUIRE(::kill(proxy->pid(), SIGHUP) == 0);
    REQUIRE(proxy->wait_for_log(R"("msg":"configuration reloaded)", 5s));
    {
        auto c = connect_named(rig.port, "oplog_after");
        REQUIRE(query_value(c.get(), "SELECT 1") == "1");
    }
    const auto r = session_named(*proxy, "oplog_after");
    REQUIRE(r);
    CHECK((*r)["state"] == "--");

    reloaded["log"]["sessions"] = false;
    {
        std::ofstream out(proxy->config_path(), std::ios::trunc);
        out << reloaded.dump();
    }
    REQUIRE(::kill(proxy->pid(), SIGHUP) == 0);
    REQUIRE(poll_until(
        [&] {
            const auto info = messages_at(proxy->log(), "info");
            return std::count_if(info.begin(), info.end(), [](const std::string& m) {
                       return m.starts_with("configuration reloaded");
                   }) == 2;
        },
        5s));
    {
        auto c = connect_named(rig.port, "oplog_silenced");
        REQUIRE(query_value(c.get(), "SELECT 1") == "1");
    }
    // Its close comes within milliseconds; a second without a line is enough to tell.
    CHECK_FALSE(session_named(*proxy, "oplog_silenced", 1s));
}

TEST_CASE("/metrics byte counters grow while a long COPY OUT streams, before the session ends",
          "[integration][oplog][stats]")
{
    static_rig rig;
    const auto stats_port = free_port();
    rig.doc["stats"] = {{"bind", "127.0.0.1:" + std::to_string(stats_port)}};
    auto proxy = rig.start({stats_port});

    auto c = connect_named(rig.port, "oplog_copy");
    REQUIRE(PQstatus(c.get()) == CONNECTION_OK);
    // About 3 s of 10 kB rows, each flushed by PostgreSQL as it is made (a row fills its send buffer).
    const std::string copy =
        "COPY (SELECT repeat('x', 10000), pg_sleep(0.01) FROM generate_series(1, 300)) TO STDOUT";
    REQUIRE(PQsendQuery(c.get(), copy.c_str()) == 1);
    std::atomic<std::uint64_t> received{0};
    std::atomic<bool> done{false};
    std::jthread reader([&] {
        auto r = pq_result(PQgetResult(c.get()));
        if (PQresultStatus(r.get()) == PGRES_COPY_OUT) {
            char* row = nullptr;
            int n = 0;
            while ((n = PQgetCopyData(c.get(), &row, 0)) > 0) {
                received += static_cast<std::uint64_t>(n);
                PQfreemem(row);
            }
        }
        while (auto rest = pq_result(PQgetResult(c.get()))) {}
        done = true;
    });
    const auto read_bytes = [&] {
        const auto reply = http_get(stats_port, "/metrics");
        return std::pair{metric_sum(reply.body, "patroxy_listener_bytes_out_total"),
                         metric_sum(reply.body, "patroxy_server_bytes_out_total")};
    };
    std::this_thread::sleep_for(1200ms);
    const auto first = read_bytes();
    const auto received_first = received.load();
    std::this_thread::sleep_for(1200ms);
    const auto second = read_bytes();
    const bool live = !done.load(); // both reads happened while the session lived and streamed
    reader.join();
    INFO("listener bytes_out " << first.first << " then " << second.first << "; server " << first.second << " then "
                               << second.second << "; the client had " << received_first << " then "
                               << received.load());
    std::cout << "[oplog] /metrics listener bytes_out during a 3 s COPY OUT: " << first.first << " at 1.2 s, "
              << second.first << " at 2.4 s; the client had read " << received_first << " at 1.2 s\n";
    CHECK(live);
    CHECK(first.first > 100'000);
    CHECK(second.first > first.first);
    CHECK(second.second > first.second);
    CHECK(received.load() >= 3'000'000);
}

TEST_CASE("a switchover's incidents are warnings, its killed session says DD, a client held past queue_timeout says sQ",
          "[integration][oplog][routing]")
{
    patroni_pair cluster;
    cluster.report(0, "master", "running");
    cluster.report(1, "replica", "running");
    cluster.dcs(0);
    const auto port = free_port();
    patroxy_process proxy(PATROXY_BINARY, cluster.config(port).dump(), {port});

    pq_conn writer;
    REQUIRE(poll_until(
        [&] {
            writer = connect_named(port, "oplog_writer");
            return PQstatus(writer.get()) == CONNECTION_OK;
        },
        5s, 100ms));

    // A planned switchover as Patroni 3.0.2 shows it: the leader stops, the lock is released,
    // the candidate promotes and takes the lock.
    cluster.report(0, "master", "stopping");
    const auto killed = session_named(proxy, "oplog_writer");
    REQUIRE(killed);
    check_end(*killed, "DD", "57P01", "node1");

    cluster.report(0, "replica", "running");
    cluster.dcs(std::nullopt);
    REQUIRE(proxy.wait_for_log("the DCS holds no leader lock", 3s));
    {
        auto held = connect_named(port, "oplog_held");
        CHECK(PQstatus(held.get()) == CONNECTION_BAD);
    }
    const auto held = session_named(proxy, "oplog_held");
    REQUIRE(held);
    check_end(*held, "sQ", "57P03", "");
    CHECK((*held)["Tw"].get<int>() >= 900);
    CHECK((*held)["Tc"] == -1);

    cluster.report(1, "master", "running");
    cluster.dcs(1);
    REQUIRE(poll_until(
        [&] {
            auto c = connect_named(port, "oplog_after");
            return PQstatus(c.get()) == CONNECTION_OK;
        },
        5s, 100ms));

    const auto warnings = messages_at(proxy.log(), "warning");
    const auto errors = messages_at(proxy.log(), "error");
    INFO("warnings: " << Catch::Detail::stringify(warnings));
    const auto has = [&](std::string_view text) {
        return std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) { return w == text; });
    };
    CHECK(has("DCS leader node1 reports state 'stopping'"));
    CHECK(has("the DCS holds no leader lock"));
    CHECK(errors.empty());
}

TEST_CASE("writes with no primary past log.no_primary_alarm: one error line, and an info line when one is back",
          "[integration][oplog][routing]")
{
    patroni_pair cluster;
    cluster.report(0, "master", "running");
    cluster.report(1, "replica", "running");
    cluster.dcs(0);
    const auto port = free_port();
    auto doc = cluster.config(port);
    doc["log"]["no_primary_alarm"] = "1s";
    patroxy_process proxy(PATROXY_BINARY, doc.dump(), {port});
    REQUIRE(poll_until([&] { return PQstatus(connect_named(port, "oplog_first").get()) == CONNECTION_OK; }, 5s, 100ms));

    cluster.report(0, "replica", "running");
    cluster.dcs(std::nullopt);
    REQUIRE(poll_until([&] { return !messages_at(proxy.log(), "error").empty(); }, 5s, 100ms));
    const auto errors = messages_at(proxy.log(), "error");
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::StartsWith("no primary routable for "));
    CHECK_THAT(errors[0], Catch::Contains(" s, longer than 1 s (log.no_primary_alarm): "));
    CHECK_THAT(errors[0], Catch::Contains("the DCS holds no leader lock"));

    cluster.report(1, "master", "running");
    cluster.dcs(1);
    REQUIRE(poll_until(
        [&] {
            const auto info = messages_at(proxy.log(), "info");
            return std::any_of(info.begin(), info.end(), [](const std::string& m) {
                return m.starts_with("a primary is routable again after ");
            });
        },
        5s, 100ms));
    CHECK(messages_at(proxy.log(), "error").size() == 1); // said once per outage
}
