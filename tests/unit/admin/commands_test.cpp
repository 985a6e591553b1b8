// The runtime API's commands over a fixed stats view (tests/unit/stats/sample_view.hpp) and a
// fake proxy: HAProxy 2.6's texts, levels, the admin actions handed to the proxy, and show stat
// being the stats listener's CSV.
#include <catch2/catch.hpp>

#include "proxy/admin/commands.hpp"
#include "proxy/admin/show_output.hpp"
#include "proxy/stats/render_csv.hpp"
#include "tests/unit/stats/sample_view.hpp"

#include <sstream>
#include <string>
#include <tuple>
#include <vector>

using namespace patroxy::proxy;
using namespace patroxy::proxy::admin;
using patroxy::config::admin_level;
using namespace std::chrono_literals;

namespace {

/// The proxy behind the commands: the sample view, a record of admin actions.
struct fake_proxy {
    fake_proxy()
    {
        // The collector's fields for show servers state, on the primary listener.
        auto& primary = view.listeners[0].servers;
        primary[0].eligible = true;
        primary[0].check_health = 4;
        primary[0].check_port = 8008;
        primary[1].check_port = 8009;
        primary[2].check_port = 8010;
        sessions = {
            session_row{.id = 0x2a, .client = "127.0.0.1:47900", .listener = "primary", .member = "node1", .age = 174s,
                        .user = "app", .database = "orders"},
            session_row{.id = 7, .client = "[::1]:50000", .ipv6 = true, .listener = "replicas", .member = "", .age = 0s, .user = "", .database = ""},
        };
    }

    backend make()
    {
        return backend{
            .view = [this] { return view; },
            .process =
                [] {
                    process_info p;
                    p.node = "db-proxy-1";
                    p.threads = 2;
                    p.max_connections = 20100;
                    p.fd_limit = 1024;
                    p.started = stats::test::sample_now() - 7500s;
                    p.listening = 4;
                    return p;
                },
            .sessions = [this] { return sessions; },
            .set_admin =
                [this](std::string_view l, std::string_view m, stats::admin_state s) {
                    calls.emplace_back(std::string(l), std::string(m), s);
                    return set_admin_error;
                },
        };
    }

    stats::stats_view view = stats::test::sample_view();
    std::vector<session_row> sessions;
    std::vector<std::tuple<std::string, std::string, stats::admin_state>> calls;
    std::string set_admin_error;
};

/// Runs `line` (split as the socket splits it) on `session`.
reply run(fake_proxy& proxy, cli_session& session, std::string_view line)
{
    return execute(split_words(line), session, proxy.make());
}

std::string run_text(fake_proxy& proxy, std::string_view line, admin_level level = admin_level::admin)
{
    cli_session session{level, false};
    return run(proxy, session, line).text;
}

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

const std::string fixed_tail = "  help [<command>]                        : list matching or all commands\n"
                               "  prompt                                  : toggle interactive mode with prompt\n"
                               "  quit                                    : disconnect\n";

} // namespace

TEST_CASE("help lists the commands this socket supports, as HAProxy lays them out", "[admin]")
{
    fake_proxy proxy;
    const std::string expected =
        "The following commands are valid at this level:\n"
        "  disable server <bk>/<srv>               : put a member in maintenance on a listener (closes its sessions)\n"
        "  enable server <bk>/<srv>                : take a member out of maintenance or drain on a listener\n"
        "  operator                                : lower the level of the current CLI session to operator\n"
        "  set server <bk>/<srv> state <state>     : set a member ready, drain or maint on a listener\n"
        "  show cli level                          : display the level of the current CLI session\n"
        "  show info                               : report information about the running process\n"
        "  show servers state [<backend>]          : dump volatile server information (all or for a single backend)\n"
        "  show sess [id]                          : report the list of current sessions or dump this exact session\n"
        "  show stat [<px> <type> <sid>] [up|no-maint]: report counters for each listener and member (CSV)\n"
        "  show version                            : show version of the current process\n"
        "  user                                    : lower the level of the current CLI session to user\n" +
        fixed_tail;
    CHECK(run_text(proxy, "help") == expected);
    // The same list at every level: HAProxy does not hide what a level may not run.
    CHECK(run_text(proxy, "help", admin_level::user) == expected);

    CHECK(run_text(proxy, "help show servers") ==
          "The following commands are valid at this level:\n"
          "  show servers state [<backend>]          : dump volatile server information (all or for a single backend)\n" +
              fixed_tail);
}

TEST_CASE("unknown commands get HAProxy's answers", "[admin]")
{
    fake_proxy proxy;
    SECTION("an empty line lists everything")
    {
        const auto text = run_text(proxy, "");
        CHECK(text.rfind("Unknown command. Please enter one of the following commands only:\n  disable server", 0) == 0);
        CHECK(lines_of(text).size() == 1 + 11 + 3);
    }
    SECTION("known first words list the commands they start")
    {
        const auto lines = lines_of(run_text(proxy, "show"));
        REQUIRE(lines.size() == 1 + 6 + 3);
        CHECK(lines[0] == "Unknown command, but maybe one of the following ones is a better match:");
        CHECK(lines[1].rfind("  show cli level ", 0) == 0);
        CHECK(lines[6].rfind("  show version ", 0) == 0);
    }
    SECTION("a mistyped word proposes the look-alikes")
    {
        const auto lines = lines_of(run_text(proxy, "show stats"));
        REQUIRE(lines.size() >= 1 + 1 + 3);
        CHECK(lines[0] == "Unknown command, but maybe one of the following ones is a better match:");
        CHECK(lines[1].rfind("  show stat ", 0) == 0);
        CHECK(lines_of(run_text(proxy, "disable sever"))[1].rfind("  disable server ", 0) == 0);
    }
    SECTION("commands are case-sensitive, as HAProxy's are")
    {
        CHECK(run_text(proxy, "Show info").rfind("Unknown command, but maybe", 0) == 0);
    }
    SECTION("the three commands every listing ends with")
    {
        const auto text = run_text(proxy, "frobnicate");
        CHECK(text.rfind("Unknown command, but maybe one of the following ones is a better match:\n", 0) == 0);
        CHECK(text.substr(text.size() - fixed_tail.size()) == fixed_tail);
    }
}

TEST_CASE("show stat is the stats listener's CSV, filtered as HAProxy filters it", "[admin]")
{
    fake_proxy proxy;
    const auto all = stats::render_csv(proxy.view);
    CHECK(run_text(proxy, "show stat") == all);
    CHECK(run_text(proxy, "show stat", admin_level::user) == all);
    CHECK(run_text(proxy, "show stat primary") == all); // fewer than three selectors: ignored, as HAProxy does

    const auto names = [](const std::string& text) {
        std::vector<std::string> out;
        for (const auto& line : lines_of(text)) {
            if (line.rfind("# ", 0) == 0) continue;
            out.push_back(line.substr(0, line.find(',', line.find(',') + 1)));
        }
        return out;
    };
    CHECK(names(run_text(proxy, "show stat primary 4 -1")) ==
          std::vector<std::string>{"primary,node1", "primary,node2", "primary,node3"});
    CHECK(names(run_text(proxy, "show stat 2 3 -1")) == std::vector<std::string>{"replicas,FRONTEND", "replicas,BACKEND"});
    CHECK(names(run_text(proxy, "show stat -1 4 2")) == std::vector<std::string>{"primary,node2", "replicas,node2"});
    CHECK(names(run_text(proxy, "show stat primary -1 -1 no-maint")) ==
          std::vector<std::string>{"primary,FRONTEND", "primary,node1", "primary,node2", "primary,BACKEND"});
    // "up": only the members this listener routes to.
    CHECK(names(run_text(proxy, "show stat primary 4 -1 up")) == std::vector<std::string>{"primary,node1"});
    CHECK(run_text(proxy, "show stat nope 4 -1") == "No such proxy.\n");
    CHECK(run_text(proxy, "show stat typed").find("CSV only") != std::string::npos);
}

TEST_CASE("show info: HAProxy's fields that have a value here, in its order", "[admin]")
{
    fake_proxy proxy;
    CHECK(run_text(proxy, "show info", admin_level::user) == "Name: patroxy\n"
                                                            "Version: 0.1.0\n"
                                                            "Nbthread: 2\n"
                                                            "Nbproc: 1\n"
                                                            "Process_num: 1\n"
                                                            "Pid: 4242\n"
                                                            "Uptime: 0d 2h05m00s\n"
                                                            "Uptime_sec: 7500\n"
                                                            "Ulimit-n: 1024\n"
                                                            "Maxconn: 20100\n"
                                                            "CurrConns: 8\n"
                                                            "CumConns: 1820\n"
                                                            "ConnRate: 3\n"
                                                            "SessRate: 3\n"
                                                            "node: db-proxy-1\n"
                                                            "Stopping: 0\n"
                                                            "Listeners: 4\n"
                                                            "TotalBytesOut: 1037654321\n"
                                                            "Start_time_sec: 1795335003\n");
    CHECK(run_text(proxy, "show version") == "0.1.0\n");
}

TEST_CASE("show servers state: format 1 with HAProxy's codes", "[admin]")
{
    fake_proxy proxy;
    const std::string header =
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        "srv_check_addr srv_agent_addr srv_agent_port\n";
    // node1 routed and passing (L7OK = 15, passed = 3, health rise+fall-1 = 4, check enabled = 6);
    // node2 not routed here, its check timing out (L7TOUT = 12, failed = 2); node3 in maintenance
    // (admin 1, check paused = 14). The primary listener encrypts to its servers: srv_use_ssl 1.
    CHECK(run_text(proxy, "show servers state primary", admin_level::user) ==
          header + "1 primary 1 node1 127.0.0.1 2 0 1 1 7380 15 3 4 6 0 0 0 - 5441 - 1 8008 - - 8008\n"
                   "1 primary 2 node2 127.0.0.1 0 0 1 1 7390 12 2 0 6 0 0 0 - 5442 - 1 8009 - - 8009\n"
                   "1 primary 3 node3 127.0.0.1 0 1 1 1 300 8 2 0 14 0 0 0 - 5443 - 1 8010 - - 8010\n");
    const auto all = lines_of(run_text(proxy, "show servers state"));
    REQUIRE(all.size() == 2 + 6);
    // replicas: node3 drains (admin 8); no check port known: 0 (checked, so the state is 6).
    CHECK(all[7] == "2 replicas 3 node3 127.0.0.1 0 8 1 1 300 8 2 0 6 0 0 0 - 5443 - 0 0 - - 0");
    CHECK(run_text(proxy, "show servers state #2") == run_text(proxy, "show servers state replicas"));
    CHECK(run_text(proxy, "show servers state nope") == "Can't find backend.\n");
}

TEST_CASE("show sess: one line per session, operator level and up", "[admin]")
{
    fake_proxy proxy;
    const std::string both = "0x7: proto=tcpv6 src=[::1]:50000 fe=replicas be=replicas srv=<none> age=0s\n"
                             "0x2a: proto=tcpv4 src=127.0.0.1:47900 fe=primary be=primary srv=node1 age=2m54s "
                             "user=app db=orders\n";
    CHECK(run_text(proxy, "show sess") == both);
    CHECK(run_text(proxy, "show sess", admin_level::operator_) == both);
    CHECK(run_text(proxy, "show sess", admin_level::user) == "Permission denied\n");
    CHECK(run_text(proxy, "show sess all") == both);
    CHECK(run_text(proxy, "show sess 0x2a") == lines_of(both)[1] + "\n");
    CHECK(run_text(proxy, "show sess 42") == lines_of(both)[1] + "\n");
    CHECK(run_text(proxy, "show sess 0x99") == "Session not found.\n");
    proxy.sessions[0].user = "two words";
    CHECK(run_text(proxy, "show sess 0x2a").find(" user=two%20words ") != std::string::npos);
}

TEST_CASE("disable, enable and set server act through the stats page's admin action", "[admin]")
{
    fake_proxy proxy;
    using st = stats::admin_state;
    CHECK(run_text(proxy, "disable server primary/node2").empty());
    CHECK(run_text(proxy, "enable server replicas/node3").empty());
    CHECK(run_text(proxy, "set server primary/node1 state drain").empty());
    CHECK(run_text(proxy, "set server #2/#1 state maint").empty());
    CHECK(run_text(proxy, "set server primary/node1 state ready").empty());
    using call = std::tuple<std::string, std::string, st>;
    CHECK(proxy.calls == std::vector<call>{{"primary", "node2", st::maint},
                                           {"replicas", "node3", st::ready},
                                           {"primary", "node1", st::drain},
                                           {"replicas", "node1", st::maint},
                                           {"primary", "node1", st::ready}});
    proxy.calls.clear();

    SECTION("HAProxy's errors, and nothing done")
    {
        CHECK(run_text(proxy, "disable server") == "Require 'backend/server'.\n");
        CHECK(run_text(proxy, "disable server primary") == "Require 'backend/server'.\n");
        CHECK(run_text(proxy, "enable server nope/node1") == "No such backend.\n");
        CHECK(run_text(proxy, "disable server primary/node9") == "No such server.\n");
        CHECK(run_text(proxy, "set server") == "Require 'backend/server'.\n");
        CHECK(run_text(proxy, "set server primary/node1 state") ==
              "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
        CHECK(run_text(proxy, "set server primary/node1 state up") ==
              "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
        CHECK(run_text(proxy, "set server primary/node1 weight 10") ==
              "usage: set server <backend>/<server> state ready|drain|maint\n");
        CHECK(proxy.calls.empty());
    }
    SECTION("the proxy's refusal is passed on")
    {
        proxy.set_admin_error = "no cluster snapshot yet";
        CHECK(run_text(proxy, "disable server primary/node1") == "no cluster snapshot yet\n");
    }
    SECTION("user and operator sockets may not change anything")
    {
        for (const auto level : {admin_level::user, admin_level::operator_}) {
            CHECK(run_text(proxy, "disable server primary/node1", level) == "Permission denied\n");
            CHECK(run_text(proxy, "enable server primary/node1", level) == "Permission denied\n");
            CHECK(run_text(proxy, "set server primary/node1 state maint", level) == "Permission denied\n");
            CHECK(run_text(proxy, "set server", level) == "Permission denied\n");
        }
        CHECK(proxy.calls.empty());
    }
}

TEST_CASE("levels: show cli level, and operator/user only lower it", "[admin]")
{
    fake_proxy proxy;
    cli_session session{admin_level::admin, false};
    CHECK(run(proxy, session, "show cli level").text == "admin\n");
    CHECK(run(proxy, session, "operator").text.empty());
    CHECK(run(proxy, session, "show cli level").text == "operator\n");
    CHECK(run(proxy, session, "disable server primary/node1").text == "Permission denied\n");
    CHECK(run(proxy, session, "user").text.empty());
    CHECK(run(proxy, session, "show cli level").text == "user\n");
    CHECK(run(proxy, session, "operator").text == "Permission denied\n");
    CHECK(session.level == admin_level::user);
}

TEST_CASE("prompt toggles interactive mode, quit closes", "[admin]")
{
    fake_proxy proxy;
    cli_session session{admin_level::user, false};
    CHECK(end_of_answer(session) == "\n");
    const auto toggled = run(proxy, session, "prompt");
    CHECK(toggled.text.empty());
    CHECK_FALSE(toggled.close);
    CHECK(session.prompt);
    CHECK(end_of_answer(session) == "\n> ");
    (void)run(proxy, session, "prompt");
    CHECK_FALSE(session.prompt);
    const auto quit = run(proxy, session, "quit");
    CHECK(quit.close);
    CHECK(quit.text.empty());
}

TEST_CASE("human_time and the uptime are HAProxy's", "[admin]")
{
    CHECK(human_time(0s) == "0s");
    CHECK(human_time(45s) == "45s");
    CHECK(human_time(125s) == "2m5s");
    CHECK(human_time(120s) == "2m");
    CHECK(human_time(3605s) == "1h5s");
    CHECK(human_time(3600s) == "1h");
    CHECK(human_time(3 * 86400s + 4 * 3600s + 5s) == "3d4h");
    CHECK(human_time(86400s + 61s) == "1d1m");
    CHECK(human_time(-5s) == "0s");
    CHECK(format_uptime(10s) == "0d 0h00m10s");
    CHECK(format_uptime(90061s) == "1d 1h01m01s");
}
