// GET /: the HTML stats page of the sample view: its sections, rows, colours, forms and escaping.
#include "proxy/stats/render_html.hpp"

#include "tests/unit/stats/sample_view.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <string>
#include <vector>

using namespace patroxy::proxy::stats;
using namespace std::chrono_literals;

namespace {

std::size_t count_of(const std::string& text, const std::string& what)
{
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
    return n;
}

/// The text from the first `start` up to the next `end` (included); empty when absent.
std::string slice(const std::string& text, const std::string& start, const std::string& end)
{
    const auto from = text.find(start);
    if (from == std::string::npos) return {};
    const auto to = text.find(end, from);
    return to == std::string::npos ? std::string{} : text.substr(from, to + end.size() - from);
}

std::string table_of(const std::string& page, const std::string& id)
{
    return slice(page, "<table class=\"tbl\" id=\"" + id + "\">", "</table>");
}

/// The `<tr ...>...</tr>` of a member in a table.
std::string row_of(const std::string& table, const std::string& member)
{
    const auto attr = table.find("data-member=\"" + member + "\"");
    if (attr == std::string::npos) return {};
    const auto from = table.rfind("<tr", attr);
    return table.substr(from, table.find("</tr>", attr) + 5 - from);
}

/// The value of the first class attribute of a row.
std::string row_class(const std::string& row)
{
    const auto from = row.find("class=\"");
    if (from == std::string::npos) return {};
    return row.substr(from + 7, row.find('"', from + 7) - from - 7);
}

/// The text of each cell of a row, with colspans expanded to empty cells.
std::vector<std::string> cells_of(const std::string& row)
{
    std::vector<std::string> cells;
    for (auto at = row.find("<td"); at != std::string::npos; at = row.find("<td", at + 3)) {
        const auto open_end = row.find('>', at);
        const std::string open = row.substr(at, open_end - at);
        std::size_t span = 1;
        if (const auto c = open.find("colspan=\""); c != std::string::npos) span = std::stoul(open.substr(c + 9));
        const auto close = row.find("</td>", open_end);
        cells.push_back(row.substr(open_end + 1, close - open_end - 1));
        for (std::size_t k = 1; k < span; ++k) cells.emplace_back();
    }
    return cells;
}

/// Every `<tr ...</tr>` of a table.
std::vector<std::string> rows_of(const std::string& table)
{
    std::vector<std::string> rows;
    for (auto at = table.find("<tr"); at != std::string::npos; at = table.find("<tr", at + 3))
        rows.push_back(table.substr(at, table.find("</tr>", at) + 5 - at));
    return rows;
}

// Columns of a listener table, as the page's header names them.
enum col : std::size_t {
    name, q_cur, q_max, q_limit, rate_cur, rate_max, s_cur, s_max, s_limit, s_total, lb_tot, s_last,
    bytes_in, bytes_out, denied, err_req, err_conn, err_resp, status, last_chk, wght, act, bck, chk, dwn,
    dwntme, pg_role, pg_state, pg_tl, pg_lag, admin_form
};

} // namespace

TEST_CASE("HTML: one self-contained, refreshing page without JavaScript", "[stats][html]")
{
    const std::string page = render_html(test::sample_view());
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("<meta http-equiv=\"refresh\" content=\"10\">") != std::string::npos);
    CHECK(page.find("<style>") != std::string::npos);
    CHECK(page.find("<script") == std::string::npos);
    CHECK_FALSE(std::regex_search(page, std::regex(R"(\son[a-z]+=)"))); // no onclick= and the like
    CHECK(page.find("src=") == std::string::npos);
    CHECK(page.find("</html>") != std::string::npos);
    CHECK(page.size() < 25 * 1000);
}

TEST_CASE("HTML stays under 25 kB with 20 events", "[stats][html]")
{
    stats_view v = test::sample_view();
    while (v.events.size() < 20) v.events.push_back(v.events[v.events.size() % 5]);
    CHECK(render_html(v).size() < 25 * 1000);
}

TEST_CASE("HTML sections come in order: header, cluster, incidents, events, listeners, legend", "[stats][html]")
{
    const std::string page = render_html(test::sample_view());
    const std::vector<std::string> marks{"<h1>patroxy 0.1.0</h1>", "id=\"cluster\"", "<ul class=\"inc\">",
                                         "id=\"events\"", "id=\"listener-primary\"", "id=\"listener-replicas\"",
                                         "<h3>Legend</h3>", "</body>"};
    std::size_t last = 0;
    for (const std::string& mark : marks) {
        INFO(mark);
        const auto at = page.find(mark);
        REQUIRE(at != std::string::npos);
        CHECK(at > last);
        last = at;
    }
}

TEST_CASE("HTML header line: version, pid, uptime, scope, leader, generation, time", "[stats][html]")
{
    const std::string header = slice(render_html(test::sample_view()), "<h1>", "</p>");
    CHECK(header.find("pid <b>4242</b>") != std::string::npos);
    CHECK(header.find("uptime <b>2h05m</b>") != std::string::npos);
    CHECK(header.find("scope <b>demo</b>") != std::string::npos);
    CHECK(header.find("leader <b>node1</b>") != std::string::npos);
    CHECK(header.find("snapshot generation <b>42</b>") != std::string::npos);
    CHECK(header.find("2026-11-22 10:15:03 UTC") != std::string::npos);

    stats_view leaderless = test::sample_view();
    leaderless.leader.clear();
    leaderless.primary.clear();
    const std::string none = slice(render_html(leaderless), "<h1>", "</p>");
    CHECK(none.find("leader <b>none</b>") != std::string::npos);
    CHECK(none.find("primary <b>none</b>") != std::string::npos);
}

TEST_CASE("HTML second header line: leader changes, cancels, reloads, relay buffers, TLS failures", "[stats][html]")
{
    const std::string html = render_html(test::sample_view());
    const auto second = html.find("<p>leader changes");
    REQUIRE(second != std::string::npos);
    const std::string line = html.substr(second, html.find("</p>", second) - second);
    CHECK(line.find("cancel requests <b>7</b> forwarded, <b>3</b> broadcast, <b>2</b> unknown key, <b>1</b> failed") !=
          std::string::npos);
    CHECK(line.find("config reloads <b>1</b>") != std::string::npos);
    CHECK(line.find("relay buffers <b>6</b> in use, <b>58</b> free (") != std::string::npos);
    CHECK(line.find("failed TLS handshakes (stats listener) <b>10</b>") != std::string::npos);

    stats_view plain = test::sample_view();
    plain.stats_listener.tls = false; // nothing to say about TLS on a plain listener
    CHECK(render_html(plain).find("TLS handshakes") == std::string::npos);
}

TEST_CASE("HTML cluster panel: patronictl's columns, coloured by check status", "[stats][html]")
{
    const std::string page = render_html(test::sample_view());
    const std::string cluster = table_of(page, "cluster");
    REQUIRE_FALSE(cluster.empty());
    CHECK(cluster.find("<th>Member</th><th>Host</th><th>Role</th><th>State</th><th>TL</th><th>Lag in MB</th>"
                       "<th>Check</th><th>LastChk</th><th>Admin</th>") != std::string::npos);

    const std::string node2 = row_of(cluster, "node2");
    CHECK(row_class(node2) == "active_going_down");
    CHECK(node2.find("data-role=\"sync_standby\"") != std::string::npos);
    const std::vector<std::string> cells = cells_of(node2);
    REQUIRE(cells.size() == 9);
    CHECK(cells[0] == "node2");
    CHECK(cells[1] == "127.0.0.1:5442");
    CHECK(cells[2] == "Sync Standby");
    CHECK(cells[3] == "streaming");
    CHECK(cells[4] == "3");
    CHECK(cells[5] == "1"); // 1234567 bytes, in MiB as patronictl rounds it
    CHECK(cells[6] == "UP 1/3");
    CHECK(cells[7] == "L7TOUT in 1001ms");

    CHECK(row_class(row_of(cluster, "node1")) == "active_up");
    CHECK(row_class(row_of(cluster, "node3")) == "active_down");
    CHECK(cells_of(row_of(cluster, "node3"))[4].empty()); // timeline unknown

    const std::string incidents = slice(page, "<ul class=\"inc\">", "</ul>");
    CHECK(incidents == "<ul class=\"inc\"><li>node3: GET /patroni refused &lt;127.0.0.1:8010&gt; &amp; no SQL "
                       "check</li></ul>");
    stats_view calm = test::sample_view();
    calm.incidents.clear();
    CHECK(render_html(calm).find("<ul class=\"inc\">") == std::string::npos);
}

TEST_CASE("HTML events: newest first with UTC timestamps, text escaped", "[stats][html]")
{
    const std::string events = table_of(render_html(test::sample_view()), "events");
    const std::vector<std::string> rows = rows_of(events);
    REQUIRE(rows.size() == 6);
    CHECK(cells_of(rows[1]) == std::vector<std::string>{"2026-11-22 10:14:58", "admin", "node3 set to drain on replicas"});
    CHECK(cells_of(rows[3])[0] == "2026-11-22 08:12:03");
    CHECK(cells_of(rows[4])[2] == "3 sessions of primary on node2 closed: &lt;role lost&gt; &amp; &quot;reconnect&quot;");
    CHECK(cells_of(rows[5])[0] == "2026-11-22 08:11:53");

    stats_view quiet = test::sample_view();
    quiet.events.clear();
    const std::string page = render_html(quiet);
    CHECK(page.find("id=\"events\"") == std::string::npos);
    CHECK(page.find("No events yet.") != std::string::npos);
}

TEST_CASE("HTML listener table: HAProxy's grouped two-row header plus Patroni's", "[stats][html]")
{
    const std::string table = table_of(render_html(test::sample_view()), "listener-primary");
    CHECK(table.find("<th colspan=\"3\">Queue</th><th colspan=\"2\">Session rate</th><th colspan=\"6\">Sessions</th>"
                     "<th colspan=\"2\">Bytes</th><th rowspan=\"2\">Denied</th><th colspan=\"3\">Errors</th>"
                     "<th colspan=\"8\">Server</th><th colspan=\"4\">Patroni</th><th rowspan=\"2\">Admin</th>") !=
          std::string::npos);
    CHECK(table.find("<th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Cur</th><th>Max</th>"
                     "<th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th>"
                     "<th>Conn</th><th>Resp</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th>"
                     "<th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Role</th><th>State</th><th>TL</th><th>Lag</th>") !=
          std::string::npos);
    const std::vector<std::string> rows = rows_of(table);
    REQUIRE(rows.size() == 2 + 1 + 3 + 1);
    CHECK(rows[2].rfind("<tr class=\"frontend\">", 0) == 0);
    CHECK(rows[6].rfind("<tr class=\"backend\">", 0) == 0);
    for (std::size_t i = 2; i < rows.size(); ++i) {
        INFO(rows[i]);
        CHECK(cells_of(rows[i]).size() == 31);
    }
    CHECK(slice(table, "<caption>", "</caption>") ==
          "<caption>primary <span>127.0.0.1:5000 &middot; role primary &middot; roundrobin &middot; queue timeout 30s"
          " &middot; queued 12 &middot; killed 3 (role lost 2, member down 1, over lag 0, maint 0, backup replaced 0)"
          " &middot; tls terminate, server_tls verify-full &middot; client handshakes 1510 (3 failed: timeout 1"
          " no_client_certificate 2) &middot; server handshakes 1500 (1 failed: certificate_rejected 1)"
          " &middot; plaintext refused 4 &middot; accepts paused (out of descriptors) 3</span></caption>");
}

TEST_CASE("HTML: a server row says when legs to it are encrypted", "[stats][html]")
{
    const std::string html = render_html(test::sample_view());
    CHECK(html.find("node1 <span class=\"tls\" title=\"3 of 3 live sessions encrypted to this server (3 by patroxy, 0 "
                    "by the client)\">TLS</span>") != std::string::npos);
    CHECK(html.find("node2 <span class=\"tls\" title=\"2 of 5 live sessions encrypted to this server (0 by patroxy, 2 "
                    "by the client)\">TLS</span>") != std::string::npos);
    CHECK(html.find("node3 <span class=\"tls\"") == std::string::npos);
}

TEST_CASE("HTML FRONTEND, server and BACKEND rows in human units", "[stats][html]")
{
    const std::string table = table_of(render_html(test::sample_view()), "listener-primary");
    const std::vector<std::string> rows = rows_of(table);

    const std::vector<std::string> fe = cells_of(rows[2]);
    CHECK(fe[name] == "Frontend");
    CHECK(fe[rate_cur] == "2");
    CHECK(fe[s_cur] == "3");
    CHECK(fe[s_limit] == "100");
    CHECK(fe[s_total] == "1520");
    CHECK(fe[bytes_in] == "5.2 MB");
    CHECK(fe[bytes_out] == "987.7 MB");
    CHECK(fe[err_req] == "2");
    CHECK(fe[status] == "OPEN");

    const std::vector<std::string> node2 = cells_of(row_of(table, "node2"));
    CHECK(node2[s_max] == "9");
    CHECK(node2[s_last] == "2h03m");
    CHECK(node2[bytes_in] == "42.9 kB");
    CHECK(node2[err_resp] == "1");
    CHECK(node2[status] == "2h03m DOWN");
    CHECK(node2[last_chk] == "L7TOUT in 1001ms");
    CHECK(node2[act] == "-");
    CHECK(node2[chk] == "4");
    CHECK(node2[dwn] == "1");
    CHECK(node2[dwntme] == "2h03m");
    CHECK(node2[pg_role] == "replica");
    CHECK(node2[pg_state] == "streaming");
    CHECK(node2[pg_tl] == "3");
    CHECK(node2[pg_lag] == "1.2 MB");
    CHECK(row_of(table, "node2").find("title=\"sessions killed: 3\"") != std::string::npos);

    const std::vector<std::string> node1 = cells_of(row_of(table, "node1"));
    CHECK(node1[act] == "Y");
    CHECK(node1[bck] == "-");
    CHECK(node1[s_last] == "2s");
    CHECK(cells_of(row_of(table, "node3"))[s_last] == "?"); // never

    const std::vector<std::string> be = cells_of(rows[6]);
    CHECK(be[name] == "Backend");
    CHECK(be[q_max] == "4");
    CHECK(be[q_limit] == "30s");
    CHECK(be[s_cur] == "3");
    CHECK(be[s_total] == "1520");
    CHECK(be[lb_tot] == "1520");
    CHECK(be[s_last] == "2s");
    CHECK(be[bytes_out] == "987.7 MB");
    CHECK(be[denied] == "1");
    CHECK(be[err_conn] == "1");
    CHECK(be[err_resp] == "1");
    CHECK(be[status] == "UP");
    CHECK(be[wght] == "1");
    CHECK(be[act] == "1");
    CHECK(be[bck] == "0");
}

TEST_CASE("HTML: a listener with no eligible member shows NO SERVER and a DOWN backend", "[stats][html]")
{
    stats_view v = test::sample_view();
    v.listeners[0].servers[0].active = false;
    v.listeners[0].status = "NO SERVER";
    v.listeners[0].empty_for = 5s;
    const std::string table = table_of(render_html(v), "listener-primary");
    const std::vector<std::string> rows = rows_of(table);
    CHECK(cells_of(rows[2])[status] == "5s NO SERVER");
    CHECK(cells_of(rows[6])[status] == "5s DOWN");
    CHECK(rows[6].find("<td class=\"down\">5s DOWN</td>") != std::string::npos);
    CHECK(cells_of(rows[6])[act] == "0");
    CHECK(slice(table, "<caption>", "</caption>").find("no eligible member for 5s") != std::string::npos);
}

TEST_CASE("HTML server rows carry their state as a class, and data-member/data-role", "[stats][html]")
{
    const std::string page = render_html(test::sample_view());
    const std::string primary = table_of(page, "listener-primary");
    const std::string replicas = table_of(page, "listener-replicas");
    CHECK(row_class(row_of(primary, "node1")) == "active_up");
    CHECK(row_class(row_of(primary, "node2")) == "active_down");
    CHECK(row_class(row_of(primary, "node3")) == "maint");
    CHECK(row_class(row_of(replicas, "node1")) == "backup_up");
    CHECK(row_class(row_of(replicas, "node2")) == "active_going_down");
    CHECK(row_class(row_of(replicas, "node3")) == "drain");
    CHECK(row_of(replicas, "node2").find("data-role=\"replica\"") != std::string::npos);
    CHECK(row_of(primary, "node1").find("data-role=\"primary\"") != std::string::npos);
    CHECK(row_of(primary, "node1").find("title=\"127.0.0.1:5441\"") != std::string::npos);
}

TEST_CASE("server_row_class follows HAProxy's legend", "[stats][html]")
{
    const auto cls = [](const char* status, bool active, bool backup, admin_state admin = admin_state::ready) {
        server_row s;
        s.status = status;
        s.active = active;
        s.backup = backup;
        s.admin = admin;
        return std::string(server_row_class(s));
    };
    CHECK(cls("UP", true, false) == "active_up");
    CHECK(cls("UP", false, false) == "active_down"); // answers, but not eligible here
    CHECK(cls("UP 1/3", true, false) == "active_going_down");
    CHECK(cls("UP 1/3", false, false) == "active_down");
    CHECK(cls("DOWN 1/2", false, false) == "active_going_up");
    CHECK(cls("DOWN", false, false) == "active_down");
    CHECK(cls("UP", false, true) == "backup_up");
    CHECK(cls("UP", true, true) == "backup_up");
    CHECK(cls("UP 2/3", false, true) == "backup_going_down");
    CHECK(cls("DOWN 1/2", false, true) == "backup_going_up");
    CHECK(cls("DOWN", false, true) == "backup_down");
    CHECK(cls("no check", false, false) == "no_check");
    CHECK(cls("MAINT", false, false) == "maint");
    CHECK(cls("UP", true, false, admin_state::maint) == "maint");
    CHECK(cls("DRAIN", true, false) == "drain");
    CHECK(cls("UP", true, false, admin_state::drain) == "drain");

    cluster_member m;
    m.check_status = "DOWN 1/2";
    CHECK(member_row_class(m) == "active_going_up");
    m.check_status = "no check";
    CHECK(member_row_class(m) == "no_check");
}

TEST_CASE("HTML: every row class has a colour and a legend entry", "[stats][html]")
{
    const std::string page = render_html(test::sample_view());
    const std::string legend = slice(page, "<h3>Legend</h3>", "</table>");
    for (const char* cls : {"active_up", "active_going_down", "active_going_up", "active_down", "backup_up",
                            "backup_going_down", "backup_going_up", "no_check", "maint", "drain"}) {
        INFO(cls);
        CHECK(page.find("." + std::string(cls) + "{background:#") != std::string::npos);
        CHECK(legend.find("<td class=\"" + std::string(cls) + "\">") != std::string::npos);
    }
    // HAProxy 2.6's own colours.
    CHECK(page.find(".active_up{background:#c0ffc0}") != std::string::npos);
    CHECK(page.find(".maint{background:#c07820}") != std::string::npos);
    CHECK(page.find(".drain{background:#20a0ff}") != std::string::npos);
}

TEST_CASE("HTML admin forms: per server row, and per member for all listeners", "[stats][html]")
{
    const std::string page = render_html(test::sample_view());
    CHECK(count_of(page, "<form method=\"post\" action=\"/admin\">") == 3 + 2 * 3);

    const std::string node3 = row_of(table_of(page, "listener-primary"), "node3");
    CHECK(node3.find("<input type=\"hidden\" name=\"listener\" value=\"primary\">") != std::string::npos);
    CHECK(node3.find("<input type=\"hidden\" name=\"member\" value=\"node3\">") != std::string::npos);
    CHECK(node3.find("<select name=\"state\" required>") != std::string::npos);
    CHECK(node3.find("<option value=\"maint\" selected>maint</option>") != std::string::npos);
    CHECK(count_of(node3, " selected") == 1);
    CHECK(node3.find("<button type=\"submit\">") != std::string::npos);

    const std::string cluster = table_of(page, "cluster");
    const std::string all_node1 = row_of(cluster, "node1");
    CHECK(all_node1.find("name=\"listener\" value=\"*\"") != std::string::npos);
    CHECK(all_node1.find("<option value=\"ready\" selected>ready</option>") != std::string::npos);
    // node3 is in maint on one listener and drain on the other: nothing is preselected.
    const std::string all_node3 = row_of(cluster, "node3");
    CHECK(all_node3.find("<option value=\"\" selected disabled>mixed</option>") != std::string::npos);
    CHECK(count_of(all_node3, " selected") == 1);
}

TEST_CASE("HTML without admin: no forms and no Admin column", "[stats][html]")
{
    stats_view v = test::sample_view();
    v.admin_enabled = false;
    const std::string page = render_html(v);
    CHECK(page.find("<form") == std::string::npos);
    CHECK(page.find(">Admin</th>") == std::string::npos);
    for (const std::string& row : rows_of(table_of(page, "listener-replicas"))) {
        if (row.find("<td") == std::string::npos) continue;
        INFO(row);
        CHECK(cells_of(row).size() == 30);
    }
}

TEST_CASE("HTML escapes every string taken from the view", "[stats][html]")
{
    stats_view v = test::sample_view();
    const std::string evil = "<b onmouseover=\"x\">&'";
    v.version = v.scope = v.leader = evil;
    v.cluster[0].name = v.cluster[0].host = v.cluster[0].role = v.cluster[0].state = evil;
    v.cluster[0].last_check = evil;
    listener_row& l = v.listeners[0];
    l.name = l.bind = l.routes = l.balance = l.status = evil;
    server_row& s = l.servers[0];
    s.name = s.address = s.role = s.state = s.status = s.last_check = evil;
    v.events[0].kind = evil;
    const std::string page = render_html(v);
    CHECK(page.find("<b onmouseover") == std::string::npos);
    CHECK(page.find("=\"x\">&'") == std::string::npos);
    CHECK(page.find("&lt;b onmouseover=&quot;x&quot;&gt;&amp;&#39;") != std::string::npos);
}

TEST_CASE("HTML: a member's max_connections, the limit rejections and stats.hide_version", "[stats][html]")
{
    stats_view v = test::sample_view_with_limits();
    const std::string page = render_html(v);
    const std::string table = table_of(page, "listener-primary");
    CHECK(cells_of(row_of(table, "node1"))[s_limit] == "20");
    CHECK(cells_of(row_of(table, "node2"))[s_limit].empty()); // no limit
    const std::vector<std::string> rows = rows_of(table);
    CHECK(cells_of(rows[2])[denied] == "5"); // the listener's and the global max_connections
    CHECK(rows[2].find("title=\"over max_connections: listener 2, global 3\"") != std::string::npos);
    CHECK(cells_of(rows[6])[denied] == "5"); // no server 1, every member full 4
    CHECK(rows[6].find("every eligible member at its max_connections: 4") != std::string::npos);
    CHECK(slice(table, "<caption>", "</caption>").find("killed 8 (") != std::string::npos);
    CHECK(slice(table, "<caption>", "</caption>").find("backup replaced 5)") != std::string::npos);

    CHECK(slice(page, "<h1>", "</h1>") == "<h1>patroxy " + v.version + "</h1>");
    v.version.clear(); // what the collector leaves with stats.hide_version
    CHECK(slice(render_html(v), "<h1>", "</h1>") == "<h1>patroxy</h1>");
}

TEST_CASE("HTML links and admin forms are absolute, so the page works at any stats.uri", "[stats][html]")
{
    const std::string page = render_html(test::sample_view());
    CHECK(page.find("<a href=\"/stats.json\">") != std::string::npos);
    CHECK(page.find("<a href=\"/stats.csv\">") != std::string::npos);
    CHECK(page.find("<a href=\"/metrics\">") != std::string::npos);
    CHECK(count_of(page, "action=\"admin\"") == 0);
}
