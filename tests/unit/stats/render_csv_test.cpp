// GET /stats.csv: HAProxy 2.6's column layout, and the sample view's rows in it.
#include "proxy/stats/render_csv.hpp"

#include "tests/unit/stats/sample_view.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace patroxy::proxy::stats;
using namespace std::chrono_literals;

namespace {

// HAProxy 2.6.12's `show stat` header up to uweight (management guide 9.1), then patroxy's.
constexpr const char* expected_header =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,"
    "weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,"
    "rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,"
    "hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
    "lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,"
    "agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,"
    "conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,"
    "srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,"
    "used_conn_cur,need_conn_est,uweight,pg_role,pg_state,pg_timeline,pg_lag_bytes,admin,killed,";

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

/// Splits one line as RFC 4180 reads it; the trailing comma HAProxy writes ends the last field.
std::vector<std::string> fields_of(const std::string& line)
{
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            fields.push_back(field);
            field.clear();
        } else {
            field += c;
        }
    }
    return fields;
}

/// Row "pxname/svname" -> column -> value.
std::map<std::string, std::map<std::string, std::string>> table_of(const std::string& csv)
{
    const std::vector<std::string> lines = lines_of(csv);
    std::vector<std::string> names = fields_of(lines.at(0).substr(2));
    std::map<std::string, std::map<std::string, std::string>> rows;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const std::vector<std::string> fields = fields_of(lines[i]);
        REQUIRE(fields.size() == names.size());
        auto& row = rows[fields[0] + "/" + fields[1]];
        for (std::size_t k = 0; k < names.size(); ++k) row[names[k]] = fields[k];
    }
    return rows;
}

} // namespace

TEST_CASE("CSV header: HAProxy's names and order, then patroxy's columns", "[stats][csv]")
{
    const std::vector<std::string> lines = lines_of(render_csv(test::sample_view()));
    REQUIRE_FALSE(lines.empty());
    CHECK(lines[0] == expected_header);
    CHECK(lines_of(render_csv(stats_view{})) == std::vector<std::string>{expected_header});
}

TEST_CASE("CSV rows: per listener FRONTEND, its servers, BACKEND, each with every column", "[stats][csv]")
{
    const std::vector<std::string> lines = lines_of(render_csv(test::sample_view()));
    const std::vector<std::string> header = fields_of(lines[0]);
    std::vector<std::string> order;
    for (std::size_t i = 1; i < lines.size(); ++i) {
        CHECK(lines[i].back() == ',');
        const std::vector<std::string> fields = fields_of(lines[i]);
        CHECK(fields.size() == header.size());
        order.push_back(fields.at(0) + "/" + fields.at(1) + "/" + fields.at(32));
    }
    CHECK(order == std::vector<std::string>{
                       "primary/FRONTEND/0", "primary/node1/2", "primary/node2/2", "primary/node3/2",
                       "primary/BACKEND/1", "replicas/FRONTEND/0", "replicas/node1/2", "replicas/node2/2",
                       "replicas/node3/2", "replicas/BACKEND/1"});
}

TEST_CASE("CSV FRONTEND row: the listener's own counters", "[stats][csv]")
{
    auto rows = table_of(render_csv(test::sample_view()));
    auto& fe = rows.at("primary/FRONTEND");
    CHECK(fe["scur"] == "3");
    CHECK(fe["smax"] == "17");
    CHECK(fe["slim"] == "100");
    CHECK(fe["stot"] == "1520");
    CHECK(fe["bin"] == "5242880");
    CHECK(fe["bout"] == "987654321");
    CHECK(fe["dreq"] == "0");
    CHECK(fe["ereq"] == "2");
    CHECK(fe["status"] == "OPEN");
    CHECK(fe["rate"] == "2");
    CHECK(fe["rate_max"] == "31");
    CHECK(fe["conn_tot"] == "1520");
    CHECK(fe["iid"] == "1");
    CHECK(fe["sid"] == "0");
    CHECK(fe["mode"] == "tcp");
    CHECK(fe["killed"] == "3");
    SECTION("what does not apply to a frontend stays empty, as in HAProxy")
    {
        for (const char* column : {"qcur", "qmax", "econ", "eresp", "weight", "act", "lbtot", "check_status",
                                   "lastsess", "addr", "algo", "pg_role", "admin", "hrsp_2xx"})
            CHECK(fe[column].empty());
    }
    CHECK(rows.at("replicas/FRONTEND")["slim"].empty()); // no max_connections
    CHECK(rows.at("replicas/FRONTEND")["iid"] == "2");
}

TEST_CASE("CSV server rows: HAProxy's server fields and Patroni's", "[stats][csv]")
{
    auto rows = table_of(render_csv(test::sample_view()));
    auto& node2 = rows.at("primary/node2");
    CHECK(node2["scur"] == "0");
    CHECK(node2["smax"] == "9");
    CHECK(node2["stot"] == "20");
    CHECK(node2["bin"] == "42880");
    CHECK(node2["bout"] == "654321");
    CHECK(node2["econ"] == "0");
    CHECK(node2["eresp"] == "1");
    CHECK(node2["status"] == "DOWN");
    CHECK(node2["weight"] == "1");
    CHECK(node2["act"] == "0");
    CHECK(node2["bck"] == "0");
    CHECK(node2["chkfail"] == "4");
    CHECK(node2["chkdown"] == "1");
    CHECK(node2["lastchg"] == "7390");
    CHECK(node2["downtime"] == "7390");
    CHECK(node2["sid"] == "2");
    CHECK(node2["lbtot"] == "20");
    CHECK(node2["check_status"] == "L7TOUT");
    CHECK(node2["check_code"].empty());
    CHECK(node2["check_duration"] == "1001");
    CHECK(node2["lastsess"] == "7400");
    CHECK(node2["last_chk"] == "L7TOUT in 1001ms");
    CHECK(node2["addr"] == "127.0.0.1:5442");
    CHECK(node2["pg_role"] == "replica");
    CHECK(node2["pg_state"] == "streaming");
    CHECK(node2["pg_timeline"] == "3");
    CHECK(node2["pg_lag_bytes"] == "1234567");
    CHECK(node2["admin"] == "ready");
    CHECK(node2["killed"] == "3");
    CHECK(node2["slim"].empty());

    auto& node1 = rows.at("primary/node1");
    CHECK(node1["act"] == "1");
    CHECK(node1["check_status"] == "L7OK");
    CHECK(node1["check_code"] == "200");
    CHECK(node1["check_duration"] == "3");
    CHECK(node1["pg_lag_bytes"].empty());

    auto& node3 = rows.at("primary/node3");
    CHECK(node3["status"] == "MAINT");
    CHECK(node3["admin"] == "maint");
    CHECK(node3["lastsess"] == "-1"); // never, as HAProxy writes it
    CHECK(node3["pg_role"].empty());
    CHECK(node3["pg_timeline"].empty());

    auto& backup = rows.at("replicas/node1");
    CHECK(backup["act"] == "0");
    CHECK(backup["bck"] == "1");
    CHECK(rows.at("replicas/node2")["status"] == "UP 1/3");
    CHECK(rows.at("replicas/node3")["admin"] == "drain");
}

TEST_CASE("CSV BACKEND row: the listener's queue and its servers summed", "[stats][csv]")
{
    auto rows = table_of(render_csv(test::sample_view()));
    auto& be = rows.at("primary/BACKEND");
    CHECK(be["qcur"] == "0");
    CHECK(be["qmax"] == "4");
    CHECK(be["scur"] == "3");
    CHECK(be["stot"] == "1520");
    CHECK(be["bin"] == "5242880");
    CHECK(be["bout"] == "987654321");
    CHECK(be["dreq"] == "1");
    CHECK(be["econ"] == "1");
    CHECK(be["eresp"] == "1");
    CHECK(be["status"] == "UP");
    CHECK(be["weight"] == "1");
    CHECK(be["act"] == "1");
    CHECK(be["bck"] == "0");
    CHECK(be["lbtot"] == "1520");
    CHECK(be["lastsess"] == "2");
    CHECK(be["algo"] == "roundrobin");
    CHECK(be["uweight"] == "3");
    CHECK(be["killed"] == "3");
    CHECK(be["smax"].empty()); // a sum of maxima would be no maximum
    CHECK(be["lastchg"].empty());

    SECTION("with no eligible member it is DOWN since the listener became empty")
    {
        stats_view v = test::sample_view();
        v.listeners[0].servers[0].active = false;
        v.listeners[0].empty_for = 42s;
        auto down = table_of(render_csv(v));
        CHECK(down.at("primary/BACKEND")["status"] == "DOWN");
        CHECK(down.at("primary/BACKEND")["act"] == "0");
        CHECK(down.at("primary/BACKEND")["lastchg"] == "42");
    }
}

TEST_CASE("CSV quotes a field only where it has a comma, a quote or a line break", "[stats][csv]")
{
    stats_view v = test::sample_view();
    v.listeners[0].servers[0].last_check = R"(L7RSP in 5ms, "bad" body)";
    v.listeners[0].servers[1].state = "line\nbreak";
    const std::string csv = render_csv(v);
    CHECK(csv.find(R"(,"L7RSP in 5ms, ""bad"" body",)") != std::string::npos);
    CHECK(csv.find("\"line\nbreak\"") != std::string::npos);
    CHECK(csv.find(",L7OK/200 in 3ms,") != std::string::npos); // spaces alone are not quoted
}

TEST_CASE("CSV: a member's max_connections is its slim, limit rejections count as dreq", "[stats][csv]")
{
    auto rows = table_of(render_csv(test::sample_view_with_limits()));
    CHECK(rows.at("primary/node1")["slim"] == "20");
    CHECK(rows.at("primary/node2")["slim"].empty());
    CHECK(rows.at("primary/FRONTEND")["dreq"] == "5");
    CHECK(rows.at("primary/BACKEND")["dreq"] == "5"); // no server 1, every member full 4
}
