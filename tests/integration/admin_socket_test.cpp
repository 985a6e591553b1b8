// The runtime API socket (issue 17, "How it is proven"): two real PostgreSQL 15 servers play
// node1 (leader) and node2 (replica) behind fake Patroni APIs, patroxy runs with a primary and a
// replica listener, the stats listener and an admin socket, and the tests drive the socket with
// socat exactly as operators do: `echo "show stat" | socat stdio UNIX:<path>`.
#include <catch2/catch.hpp>

#include "tests/support/fake_patroni.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/patroxy_process.hpp"
#include "tests/support/pg_server.hpp"
#include "tests/support/unix_client.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using namespace patroxy::test;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// HAProxy 2.6's `show stat` columns 0..99, as its socket prints them (measured on Debian 12's
/// haproxy 2.6.12); patroxy's CSV starts with exactly these.
constexpr std::string_view haproxy_columns =
    "pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,"
    "bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,"
    "check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,"
    "req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,"
    "rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,"
    "agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,"
    "wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,"
    "idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight";

/// node1 leads and node2 replicates, each a real server behind a fake Patroni API.
class duo {
public:
    duo() : pg_ports_{shared_pg_server(0).port(), shared_pg_server(1).port()}
    {
        std::vector<cluster_member> dcs;
        for (std::size_t i = 0; i < 2; ++i) {
            patroni_member self;
            self.role = i == 0 ? "master" : "replica";
            apis_[i].set_patroni_body(patroni_json(self).dump());
            cluster_member entry;
            entry.name = name(i);
            entry.role = i == 0 ? "leader" : "replica";
            entry.api_url = apis_[i].api_url() + "/patroni";
            entry.port = pg_ports_[i];
            if (i != 0)
                entry.lag = 0;
            dcs.push_back(std::move(entry));
        }
        for (auto& api : apis_)
            api.set_cluster_body(cluster_json(dcs).dump());
    }

    [[nodiscard]] static std::string name(std::size_t i) { return "node" + std::to_string(i + 1); }
    [[nodiscard]] std::uint16_t pg_port(std::size_t i) const { return pg_ports_.at(i); }
    [[nodiscard]] const fake_patroni& api(std::size_t i) const { return apis_.at(i); }

private:
    std::array<std::uint16_t, 2> pg_ports_;
    std::array<fake_patroni, 2> apis_;
};

struct socket_settings {
    std::string mode = "660";
    std::string level = "admin";
    std::string timeout = "10s";
};

/// The native config: listeners "primary" and "replicas", the stats listener, the admin socket.
std::string config_text(const duo& cluster, std::uint16_t primary, std::uint16_t replicas, std::uint16_t stats,
                        const std::string& socket_path, const socket_settings& s)
{
    json members = json::array();
    for (std::size_t i = 0; i < 2; ++i)
        members.push_back({{"name", duo::name(i)}, {"host", "127.0.0.1"}, {"port", cluster.pg_port(i)},
                           {"api", cluster.api(i).api_url()}});
    const auto bind = [](std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); };
    const json doc = {
        {"cluster", {{"scope", "demo"}, {"members", std::move(members)}}},
        {"health", {{"interval", "500ms"}, {"fast_interval", "100ms"}, {"timeout", "1s"}, {"fall", 3}, {"rise", 2}}},
        {"listeners", json::array({
                          {{"name", "primary"}, {"bind", bind(primary)}, {"role", "primary"}, {"queue_timeout", "1s"}},
                          {{"name", "replicas"}, {"bind", bind(replicas)}, {"role", "replica"}},
                      })},
        {"timeouts", {{"connect", "1s"}, {"startup", "2s"}}},
        {"workers", 1},
        {"stats", {{"bind", bind(stats)}}},
        {"admin_socket", {{"path", socket_path}, {"mode", s.mode}, {"level", s.level}, {"timeout", s.timeout}}},
    };
    return doc.dump(2);
}

/// What a shell pipeline printed on stdout and stderr.
std::string shell(const std::string& pipeline, milliseconds timeout = 10s)
{
    const auto r = run_captured("/bin/sh", {"-c", pipeline}, timeout);
    if (r.exit_status != 0)
        throw std::runtime_error("`" + pipeline + "` exited " + std::to_string(r.exit_status) + ": " + r.output);
    return r.output;
}

/// patroxy over the duo, with both listeners routing and the admin socket up.
struct running_proxy {
    explicit running_proxy(socket_settings s = {}) : settings(std::move(s))
    {
        proxy = std::make_unique<patroxy_process>(PATROXY_BINARY, text(), std::vector<std::uint16_t>{primary, replicas, stats});
        REQUIRE(poll_until([this] { return ::access(socket_path.c_str(), F_OK) == 0; }, 5s));
        REQUIRE(poll_until([this] { return routes(); }, 10s));
    }

    [[nodiscard]] std::string text() const { return config_text(cluster, primary, replicas, stats, socket_path, settings); }

    /// `echo "<command>" | socat stdio UNIX:<path>`, as operators type it.
    [[nodiscard]] std::string run(const std::string& command) const
    {
        return shell("echo \"" + command + "\" | socat stdio UNIX:" + socket_path);
    }

    /// node1 active on "primary" and node2 on "replicas", as show servers state tells.
    [[nodiscard]] bool routes() const
    {
        try {
            const auto state = run("show servers state");
            return state.find("1 primary 1 node1 127.0.0.1 2 ") != std::string::npos &&
                   state.find("2 replicas 2 node2 127.0.0.1 2 ") != std::string::npos;
        } catch (const std::exception&) {
            return false;
        }
    }

    duo cluster;
    std::uint16_t primary = free_port();
    std::uint16_t replicas = free_port();
    std::uint16_t stats = free_port();
    std::string dir = make_temp_dir("patroxy-admin");
    std::string socket_path = dir + "/admin.sock";
    socket_settings settings;
    std::unique_ptr<patroxy_process> proxy;
};

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

/// The line of `show servers state` for listener `listener`'s member `member`, split in columns.
std::vector<std::string> server_state(const running_proxy& p, const std::string& listener, const std::string& member)
{
    for (const auto& line : lines_of(p.run("show servers state " + listener))) {
        std::vector<std::string> cols;
        std::istringstream in(line);
        for (std::string col; in >> col;)
            cols.push_back(col);
        if (cols.size() > 3 && cols[1] == listener && cols[3] == member)
            return cols;
    }
    return {};
}

/// The local port of a libpq session's socket: the src of its `show sess` line.
std::uint16_t client_port(PGconn* c)
{
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(PQsocket(c), reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

} // namespace

TEST_CASE("admin socket: show stat is /stats.csv, and HAProxy's CSV tooling reads it", "[integration][admin]")
{
    running_proxy p;
    const auto csv = p.run("show stat");
    // The CLI's end-of-answer mark: one empty line after the CSV.
    REQUIRE(csv.size() > 2);
    CHECK(csv.substr(csv.size() - 2) == "\n\n");
    const auto page = http_get(p.stats, "/stats.csv");
    REQUIRE(page.status == 200);
    const auto socket_lines = lines_of(csv);
    const auto page_lines = lines_of(page.body);
    REQUIRE(socket_lines.size() == page_lines.size() + 1);
    CHECK(socket_lines.front() == page_lines.front());
    CHECK(socket_lines.front().rfind("# " + std::string(haproxy_columns) + ",", 0) == 0);
    for (std::size_t i = 1; i < page_lines.size(); ++i) // the same rows, in the same order
        CHECK(socket_lines[i].substr(0, socket_lines[i].find(',', socket_lines[i].find(',') + 1)) ==
              page_lines[i].substr(0, page_lines[i].find(',', page_lines[i].find(',') + 1)));

    // As HAProxy tooling reads `show stat`: the "# " stripped, then Python's csv.DictReader.
    const std::string python =
        "import csv, sys\n"
        "raw = sys.stdin.read()\n"
        "reader = csv.DictReader(raw.lstrip('# ').splitlines())\n"
        "rows = list(reader)\n"
        "print(','.join(reader.fieldnames[:100]))\n"
        "for r in rows: print(r['pxname'], r['svname'], r['status'], r['type'], r['addr'])\n";
    std::ofstream(p.dir + "/read.py") << python;
    const auto parsed = lines_of(shell("echo \"show stat\" | socat stdio UNIX:" + p.socket_path + " | python3 " + p.dir + "/read.py"));
    REQUIRE(parsed.size() == 1 + 8);
    CHECK(parsed[0] == haproxy_columns);
    const auto pg = [&p](std::size_t i) { return "127.0.0.1:" + std::to_string(p.cluster.pg_port(i)); };
    CHECK(parsed[1] == "primary FRONTEND OPEN 0 ");
    CHECK(parsed[2] == "primary node1 UP 2 " + pg(0));
    CHECK(parsed[3] == "primary node2 DOWN 2 " + pg(1)); // a replica: its /primary would answer 503
    CHECK(parsed[4] == "primary BACKEND UP 1 ");
    CHECK(parsed[6] == "replicas node1 DOWN 2 " + pg(0));
    CHECK(parsed[7] == "replicas node2 UP 2 " + pg(1));

    // HAProxy's selectors: the server rows of one proxy.
    const auto servers = lines_of(p.run("show stat replicas 4 -1"));
    REQUIRE(servers.size() == 4);
    CHECK(servers[1].rfind("replicas,node1,", 0) == 0);
    CHECK(servers[2].rfind("replicas,node2,", 0) == 0);
    CHECK(servers[3].empty());
}

TEST_CASE("admin socket: mode, show info, help, prompt mode and the unknown-command answer", "[integration][admin]")
{
    running_proxy p;
    struct stat st {};
    REQUIRE(::stat(p.socket_path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0660);

    const auto info = lines_of(p.run("show info"));
    REQUIRE(info.size() >= 19);
    CHECK(info[0] == "Name: patroxy");
    CHECK(info[5] == "Pid: " + std::to_string(p.proxy->pid()));
    CHECK(info[6].rfind("Uptime: 0d 0h00m", 0) == 0);

    // node1 on the primary listener: running, ready, weight 100, L7OK (15) passed (3), health at
    // rise + fall - 1 = 4, check enabled (6), its PostgreSQL port and its Patroni API port.
    const auto node1 = server_state(p, "primary", "node1");
    REQUIRE(node1.size() == 25);
    const auto pg1 = std::to_string(p.cluster.pg_port(0));
    const auto api1 = std::to_string(p.cluster.api(0).port());
    CHECK(node1 == std::vector<std::string>{"1", "primary", "1", "node1", "127.0.0.1", "2", "0", "100", "100", node1[9],
                                            "15", "3", "4", "6", "0", "0", "0", "-", pg1, "-", "0", api1, "-", "-", api1});
    // node2 is a replica: not routed by the primary listener (op state 0), its check passing.
    const auto node2 = server_state(p, "primary", "node2");
    REQUIRE(node2.size() == 25);
    CHECK(node2[5] == "0");
    CHECK(node2[11] == "3");

    CHECK(p.run("help").rfind("The following commands are valid at this level:\n  disable server <bk>/<srv>", 0) == 0);
    CHECK(p.run("show cli level") == "admin\n\n");
    CHECK(p.run("frobnicate").rfind("Unknown command, but maybe one of the following ones is a better match:\n", 0) == 0);

    // Interactive: the prompt after every answer, several commands on one line, quit closes.
    CHECK(shell("printf 'prompt\\nshow cli level\\nshow cli level; user; show cli level\\nquit\\n' | socat stdio UNIX:" +
                p.socket_path) == "\n> admin\n\n> admin\n\n> \n> user\n\n> ");
    // Non-interactive: one line, its answers, then the server closes.
    CHECK(shell("printf 'show cli level;show version\\nshow cli level\\n' | socat stdio UNIX:" + p.socket_path) ==
          "admin\n\n0.1.0\n\nadmin\n\n");
}

TEST_CASE("admin socket: disable server and set server state maint stop routing and close live sessions, enable "
          "restores",
          "[integration][admin]")
{
    running_proxy p;
    auto live = session_on(p.primary, p.cluster.pg_port(0));
    REQUIRE(live);
    const auto sess = p.run("show sess");
    CHECK(sess.find("src=127.0.0.1:" + std::to_string(client_port(live.get())) +
                    " fe=primary be=primary srv=node1 age=") != std::string::npos);
    CHECK(sess.find(" user=postgres db=postgres") != std::string::npos);

    const auto verb = GENERATE(std::string("disable server primary/node1"), std::string("set server primary/node1 state maint"));
    CAPTURE(verb);
    CHECK(p.run(verb) == "\n");
    // The live session is closed, new clients of the primary listener find no server (57P03
    // after the 1 s queue), and the replica listener is untouched.
    CHECK(becomes_readable(live.get(), 3s));
    CHECK_FALSE(server_port(connect_via(p.primary).get()).has_value());
    CHECK(server_port(connect_via(p.replicas).get()) == p.cluster.pg_port(1));
    const auto maint = server_state(p, "primary", "node1");
    REQUIRE(maint.size() == 25);
    CHECK(maint[5] == "0"); // srv_op_state: stopped
    CHECK(maint[6] == "1"); // srv_admin_state: forced maintenance
    CHECK(p.run("show stat primary 4 1").find(",MAINT,") != std::string::npos);
    CHECK(p.run("show sess").find("fe=primary") == std::string::npos);

    CHECK(p.run("enable server primary/node1") == "\n");
    CHECK(server_port(connect_via(p.primary).get()) == p.cluster.pg_port(0));
    const auto ready = server_state(p, "primary", "node1");
    REQUIRE(ready.size() == 25);
    CHECK(ready[5] == "2");
    CHECK(ready[6] == "0");
    CHECK(p.proxy->log().find("admin: member node1 set to maint on listener primary") != std::string::npos);
}

TEST_CASE("admin socket: drain keeps live sessions and takes no new ones", "[integration][admin]")
{
    running_proxy p;
    auto live = session_on(p.primary, p.cluster.pg_port(0));
    REQUIRE(live);
    CHECK(p.run("set server primary/node1 state drain") == "\n");
    CHECK(server_state(p, "primary", "node1").at(6) == "8"); // srv_admin_state: forced drain
    CHECK_FALSE(server_port(connect_via(p.primary).get()).has_value());
    CHECK(server_port(live.get()) == p.cluster.pg_port(0)); // still served
    CHECK(p.run("set server primary/node1 state ready") == "\n");
    CHECK(server_port(connect_via(p.primary).get()) == p.cluster.pg_port(0));
    CHECK(p.run("set server primary/node1 state up") == "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n");
    CHECK(p.run("disable server primary/node9") == "No such server.\n\n");
}

TEST_CASE("admin socket: a reload to level user refuses changes, sets the new mode, and the file goes at stop",
          "[integration][admin]")
{
    running_proxy p;
    p.settings = socket_settings{.mode = "600", .level = "user", .timeout = "1s"};
    {
        std::ofstream out(p.proxy->config_path(), std::ios::trunc);
        out << p.text();
    }
    REQUIRE(::kill(p.proxy->pid(), SIGHUP) == 0);
    REQUIRE(p.proxy->wait_for_log("admin socket (runtime API) on " + p.socket_path + ", level user", 5s));

    CHECK(p.run("show cli level") == "user\n\n");
    CHECK(p.run("disable server primary/node1") == "Permission denied\n\n");
    CHECK(p.run("set server primary/node1 state maint") == "Permission denied\n\n");
    CHECK(p.run("enable server primary/node1") == "Permission denied\n\n");
    CHECK(p.run("show sess") == "Permission denied\n\n"); // operator level and up, as HAProxy
    CHECK(p.run("show servers state primary").rfind("1\n# be_id be_name srv_id", 0) == 0);
    CHECK(server_port(connect_via(p.primary).get()) == p.cluster.pg_port(0)); // nothing changed
    struct stat st {};
    REQUIRE(::stat(p.socket_path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    // An idle interactive connection is closed after admin_socket.timeout (1 s here).
    const auto start = steady::now();
    CHECK(unix_exchange(p.socket_path, "prompt\n", 5s) == "\n> ");
    CHECK(steady::now() - start < 3s);

    CHECK(p.proxy->stop() == 0);
    CHECK(::access(p.socket_path.c_str(), F_OK) != 0);
}
