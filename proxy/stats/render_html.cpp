// The HTML stats page. Row classes and colours are HAProxy 2.6's (src/stats.c's page CSS and
// legend), except that maint, drain and no_check are named for the state alone, since patroxy
// draws active and backup members in those states alike.
#include "proxy/stats/render_html.hpp"

#include "proxy/stats/format.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

namespace patroxy::proxy::stats {

namespace {

constexpr std::string_view page_style =
    "body{font-family:arial,helvetica,sans-serif;font-size:12px;color:#000;background:#fff}"
    "h1{font-size:x-large;margin:0 0 .2em}"
    "h3{font-size:16px;color:#b00040;background:#e8e8d0;margin:1em 0 .3em}"
    "p{margin:.2em 0}"
    "table.tbl{border-collapse:collapse;margin-bottom:1em}"
    ".tbl th,.tbl td{border:1px solid gray;padding:2px 3px;font-size:11px;white-space:nowrap}"
    ".tbl td{text-align:right}"
    ".tbl td.l{text-align:left}"
    ".tbl caption{text-align:left;background:#b00040;color:#ffff40;font-weight:bold;padding:2px 3px}"
    ".tbl caption span{color:#fff;font-weight:normal}"
    ".tbl span.tls{font-size:80%;color:#060;border:1px solid #060;border-radius:2px;padding:0 2px}"
    ".titre{background:#20d0d0}"
    ".frontend,.backend{background:#e8e8d0}"
    ".active_up{background:#c0ffc0}"
    ".active_going_down{background:#ffffa0}"
    ".active_going_up{background:#ffd020}"
    ".active_down{background:#ff9090}"
    ".backup_down{background:#ff9090}"
    ".backup_up{background:#b0d0ff}"
    ".backup_going_down{background:#c060ff}"
    ".backup_going_up{background:#ff80ff}"
    ".no_check{background:#e0e0e0}"
    ".maint{background:#c07820}"
    ".drain{background:#20a0ff}"
    ".down{color:red;font-weight:bold}"
    "ul.inc{color:#b00040;margin:.3em 0}"
    "table.lgd td{padding:2px 6px}"
    "form{margin:0}";

/// HAProxy's legend, in its order.
constexpr std::array<std::array<std::string_view, 2>, 11> legend{{
    {"active_up", "active UP"},
    {"backup_up", "backup UP"},
    {"active_going_down", "active UP, going down"},
    {"backup_going_down", "backup UP, going down"},
    {"active_going_up", "active DOWN, going up"},
    {"backup_going_up", "backup DOWN, going up"},
    {"active_down", "active or backup DOWN, or UP but not eligible on this listener"},
    {"no_check", "not checked"},
    {"maint", "active or backup DOWN for maintenance (MAINT)"},
    {"drain", "active or backup SOFT STOPPED for maintenance (DRAIN)"},
    {"frontend", "listener (FRONTEND) and its servers summed (BACKEND)"},
}};

constexpr std::array all_admin_states{admin_state::ready, admin_state::drain, admin_state::maint};

/// Appends escaped text and table cells to the page.
class writer {
public:
    explicit writer(std::string& out) : out_(out) {}

    writer& raw(std::string_view html)
    {
        out_ += html;
        return *this;
    }
    writer& text(std::string_view text)
    {
        out_ += html_escape(text);
        return *this;
    }
    writer& number(std::uint64_t v)
    {
        out_ += std::to_string(v);
        return *this;
    }
    /// `<td>text</td>`, or `<td class="cls">` when cls is given.
    writer& td(std::string_view text, std::string_view cls = {})
    {
        if (cls.empty()) {
            raw("<td>");
        } else {
            raw("<td class=\"").raw(cls).raw("\">");
        }
        return this->text(text).raw("</td>");
    }
    writer& td(std::uint64_t v) { return raw("<td>").number(v).raw("</td>"); }
    writer& td(const std::optional<std::uint64_t>& v) { return v ? td(*v) : empty(); }
    /// Empty cells, merged into one.
    writer& empty(unsigned columns = 1)
    {
        if (columns == 1) return raw("<td></td>");
        return raw("<td colspan=\"").number(columns).raw("\"></td>");
    }
    /// A cell with a tooltip.
    writer& td_titled(std::string_view text, std::string_view title)
    {
        return raw("<td title=\"").text(title).raw("\">").text(text).raw("</td>");
    }

private:
    std::string& out_;
};

std::string age_or(const std::optional<std::chrono::seconds>& age, std::string_view never)
{
    return age ? format_duration(*age) : std::string(never);
}

/// HAProxy's Status cell: the time since the last change, then the state ("2h03m UP").
std::string status_with_age(const std::optional<std::chrono::seconds>& since, std::string_view status)
{
    if (!since) return std::string(status);
    return format_duration(*since) + " " + std::string(status);
}

/// The drain/maint form posted to the stats listener's `admin` path.
void admin_form(writer& w, std::string_view listener, std::string_view member, std::optional<admin_state> current)
{
    w.raw("<td><form method=\"post\" action=\"/admin\"><input type=\"hidden\" name=\"listener\" value=\"")
        .text(listener)
        .raw("\"><input type=\"hidden\" name=\"member\" value=\"")
        .text(member)
        .raw("\"><select name=\"state\" required>");
    // Listeners that disagree (the cluster panel's "*" row): no state is preselected, so that
    // pressing Set without choosing changes nothing by accident.
    if (!current) w.raw("<option value=\"\" selected disabled>mixed</option>");
    for (admin_state s : all_admin_states) {
        w.raw("<option value=\"").raw(to_string(s)).raw(current == s ? "\" selected>" : "\">").raw(to_string(s)).raw(
            "</option>");
    }
    w.raw("</select> <button type=\"submit\">Set</button></form></td>");
}

/// The state a member has on every listener, when they agree (the cluster panel's form then
/// shows it); nullopt when they differ or no listener lists the member.
std::optional<admin_state> common_admin_state(const stats_view& view, std::string_view member)
{
    std::optional<admin_state> common;
    for (const listener_row& l : view.listeners) {
        for (const server_row& s : l.servers) {
            if (s.name != member) continue;
            if (common && *common != s.admin) return std::nullopt;
            common = s.admin;
        }
    }
    return common;
}

void header(writer& w, const stats_view& v)
{
    const auto none_if_empty = [](const std::string& s) -> std::string_view {
        if (s.empty()) return "none";
        return s;
    };
    w.raw("<h1>patroxy");
    if (!v.version.empty()) w.raw(" ").text(v.version); // stats.hide_version leaves it empty
    w.raw("</h1>\n<p>pid <b>").raw(std::to_string(v.pid));
    w.raw("</b> &middot; uptime <b>").text(format_duration(v.uptime));
    w.raw("</b> &middot; scope <b>").text(v.scope.empty() ? "-" : v.scope);
    w.raw("</b> &middot; leader <b>").text(none_if_empty(v.leader));
    w.raw("</b> &middot; primary <b>").text(none_if_empty(v.primary));
    w.raw("</b> &middot; snapshot generation <b>").number(v.generation);
    w.raw("</b> &middot; ").text(format_utc(v.now)).raw(" UTC</p>\n<p>leader changes <b>").number(v.leader_changes);
    w.raw("</b> &middot; cancel requests <b>").number(v.cancels.forwarded).raw("</b> forwarded, <b>");
    w.number(v.cancels.broadcast).raw("</b> broadcast, <b>");
    w.number(v.cancels.unknown_key).raw("</b> unknown key, <b>").number(v.cancels.failed);
    w.raw("</b> failed &middot; config reloads <b>").number(v.reloads);
    w.raw("</b> &middot; relay buffers <b>").number(v.relay_buffers.in_use).raw("</b> in use, <b>");
    w.number(v.relay_buffers.free).raw("</b> free (").raw(format_bytes(v.relay_buffers.bytes_each)).raw(" each)");
    if (v.stats_listener.tls) {
        w.raw(" &middot; failed TLS handshakes (stats listener) <b>");
        w.number(v.stats_listener.tls_handshake_failures_total()).raw("</b>");
    }
    // Absolute: the page may be served at any stats.uri, these routes stay at the root.
    w.raw(" &middot; <a href=\"/stats.json\">JSON</a> <a href=\"/stats.csv\">CSV</a> "
          "<a href=\"/metrics\">metrics</a></p>\n");
}

/// patronictl's "Lag in MB": mebibytes, rounded.
std::string lag_in_mb(const std::optional<std::uint64_t>& lag)
{
    if (!lag) return {};
    return std::to_string(static_cast<std::uint64_t>(std::llround(static_cast<double>(*lag) / (1024.0 * 1024.0))));
}

void cluster_panel(writer& w, const stats_view& v)
{
    w.raw("<h3>Cluster ").text(v.scope).raw("</h3>\n<table class=\"tbl\" id=\"cluster\"><tr class=\"titre\">"
                                            "<th>Member</th><th>Host</th><th>Role</th><th>State</th><th>TL</th>"
                                            "<th>Lag in MB</th><th>Check</th><th>LastChk</th>");
    if (v.admin_enabled) w.raw("<th>Admin</th>");
    w.raw("</tr>\n");
    for (const cluster_member& m : v.cluster) {
        w.raw("<tr class=\"").raw(member_row_class(m)).raw("\" data-member=\"").text(m.name);
        w.raw("\" data-role=\"").text(member_role_label(m.role)).raw("\">");
        w.td(m.name, "l").td(m.host, "l").td(m.role, "l").td(m.state, "l").td(m.timeline);
        if (m.lag_bytes) {
            w.td_titled(lag_in_mb(m.lag_bytes), std::to_string(*m.lag_bytes) + " bytes");
        } else {
            w.empty();
        }
        w.td(m.check_status, "l").td(m.last_check, "l");
        if (v.admin_enabled) admin_form(w, "*", m.name, common_admin_state(v, m.name));
        w.raw("</tr>\n");
    }
    w.raw("</table>\n");
    if (v.incidents.empty()) return;
    w.raw("<ul class=\"inc\">");
    for (const std::string& incident : v.incidents) w.raw("<li>").text(incident).raw("</li>");
    w.raw("</ul>\n");
}

void events_panel(writer& w, const stats_view& v)
{
    w.raw("<h3>Recent events</h3>\n");
    if (v.events.empty()) {
        w.raw("<p>No events yet.</p>\n");
        return;
    }
    w.raw("<table class=\"tbl\" id=\"events\"><tr class=\"titre\"><th>Time (UTC)</th><th>Kind</th><th>Event</th></tr>\n");
    for (const event& e : v.events) {
        w.raw("<tr>").td(format_utc(e.at), "l").td(e.kind, "l").td(e.text, "l").raw("</tr>\n");
    }
    w.raw("</table>\n");
}

/// The listener's TLS in its caption: the modes, and the handshakes of each leg it does TLS on.
void tls_caption(writer& w, const listener_row& l)
{
    if (l.tls.empty()) return;
    w.raw(" &middot; tls ").text(l.tls);
    if (l.server_tls != "disable") w.raw(", server_tls ").text(l.server_tls);
    for (const auto& [leg, counts] : {std::pair{"client", &l.tls_client}, std::pair{"server", &l.tls_server}}) {
        if (!counts->active) continue;
        w.raw(" &middot; ").raw(leg).raw(" handshakes ").number(counts->done);
        if (counts->failed() == 0) continue;
        w.raw(" (").number(counts->failed()).raw(" failed:");
        for (const auto& [reason, n] : counts->failures)
            if (n > 0) w.raw(" ").text(reason).raw(" ").number(n);
        w.raw(")");
    }
    if (l.denied_plaintext > 0) w.raw(" &middot; plaintext refused ").number(l.denied_plaintext);
    if (l.denied_direct_tls > 0) w.raw(" &middot; direct TLS refused ").number(l.denied_direct_tls);
    if (l.accept_pauses > 0) w.raw(" &middot; accepts paused (out of descriptors) ").number(l.accept_pauses);
}

/// The caption above a listener's table: what it is and what it turned away or killed.
void listener_caption(writer& w, const listener_row& l)
{
    w.raw("<caption>").text(l.name).raw(" <span>").text(l.bind).raw(" &middot; ").text(l.routes);
    w.raw(" &middot; ").text(l.balance).raw(" &middot; queue timeout ").text(format_timeout(l.queue_timeout));
    w.raw(" &middot; queued ").number(l.queued_total).raw(" &middot; killed ").number(l.killed.total());
    if (l.killed.total() > 0) {
        w.raw(" (role lost ").number(l.killed.role_lost).raw(", member down ").number(l.killed.member_down);
        w.raw(", over lag ").number(l.killed.over_lag).raw(", maint ").number(l.killed.maint);
        w.raw(", backup replaced ").number(l.killed.backup_replaced).raw(")");
    }
    if (l.empty_for) w.raw(" &middot; no eligible member for ").text(format_duration(*l.empty_for));
    tls_caption(w, l);
    w.raw("</span></caption>\n");
}

void listener_header(writer& w, bool admin)
{
    w.raw("<tr class=\"titre\"><th rowspan=\"2\"></th><th colspan=\"3\">Queue</th><th colspan=\"2\">Session rate</th>"
          "<th colspan=\"6\">Sessions</th><th colspan=\"2\">Bytes</th><th rowspan=\"2\">Denied</th>"
          "<th colspan=\"3\">Errors</th><th colspan=\"8\">Server</th><th colspan=\"4\">Patroni</th>");
    if (admin) w.raw("<th rowspan=\"2\">Admin</th>");
    w.raw("</tr>\n<tr class=\"titre\"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th>"
          "<th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th>"
          "<th>Req</th><th>Conn</th><th>Resp</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th>"
          "<th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Role</th><th>State</th><th>TL</th><th>Lag</th>"
          "</tr>\n");
}

void frontend_row(writer& w, const listener_row& l, bool admin)
{
    w.raw("<tr class=\"frontend\"><td class=\"l\">Frontend</td>").empty(3);
    w.td(l.rate_cur).td(l.rate_max).td(l.sessions_cur).td(l.sessions_max);
    if (l.sessions_limit > 0) {
        w.td(l.sessions_limit);
    } else {
        w.td("-");
    }
    w.td(l.sessions_total).empty(2).td(format_bytes(l.bytes_in)).td(format_bytes(l.bytes_out));
    w.td_titled(std::to_string(l.denied_limit + l.denied_global_limit),
                "over max_connections: listener " + std::to_string(l.denied_limit) + ", global " +
                    std::to_string(l.denied_global_limit));
    w.td_titled(std::to_string(l.errors_startup), "malformed or timed-out startups").empty(2);
    w.td(status_with_age(l.status == "OPEN" ? std::nullopt : l.empty_for, l.status), l.status == "OPEN" ? "" : "down");
    w.empty(admin ? 12 : 11).raw("</tr>\n");
}

void server_html_row(writer& w, const listener_row& l, const server_row& s, bool admin)
{
    w.raw("<tr class=\"").raw(server_row_class(s)).raw("\" data-member=\"").text(s.name);
    w.raw("\" data-role=\"").text(s.role).raw("\"><td class=\"l\" title=\"").text(s.address).raw("\">");
    w.text(s.name);
    // Whether the leg to this server is encrypted, for the sessions open now.
    if (const auto encrypted = s.tls_by_patroxy + s.tls_by_client; encrypted > 0) {
        w.raw(" <span class=\"tls\" title=\"").number(encrypted).raw(" of ").number(s.sessions_cur);
        w.raw(" live sessions encrypted to this server (").number(s.tls_by_patroxy).raw(" by patroxy, ");
        w.number(s.tls_by_client).raw(" by the client)\">TLS</span>");
    }
    w.raw("</td>").empty(3);
    w.td(s.rate_cur).td(s.rate_max).td(s.sessions_cur).td(s.sessions_max);
    if (s.sessions_limit > 0) {
        w.td(s.sessions_limit);
    } else {
        w.empty();
    }
    w.td(s.sessions_total);
    w.td(s.lb_total).td(age_or(s.last_session, "?")).td(format_bytes(s.bytes_in)).td(format_bytes(s.bytes_out));
    w.empty(2).td(s.errors_conn);
    if (s.killed > 0) {
        w.td_titled(std::to_string(s.errors_resp), "sessions killed: " + std::to_string(s.killed));
    } else {
        w.td(s.errors_resp);
    }
    w.td(status_with_age(s.last_change, s.status)).td(s.last_check).td(s.weight);
    w.td(s.active && !s.backup ? "Y" : "-").td(s.backup ? "Y" : "-");
    w.td(s.checks_failed).td(s.downs).td(format_duration(s.downtime));
    w.td(s.role, "l").td(s.state, "l").td(s.timeline).td(s.lag_bytes ? format_bytes(*s.lag_bytes) : "");
    if (admin) admin_form(w, l.name, s.name, s.admin);
    w.raw("</tr>\n");
}

void backend_row(writer& w, const listener_row& l, bool admin)
{
    const backend_totals t = sum_servers(l);
    w.raw("<tr class=\"backend\"><td class=\"l\">Backend</td>");
    w.td(l.queue_cur).td(l.queue_max).td(format_timeout(l.queue_timeout)).td(t.rate_cur).empty();
    w.td(t.sessions_cur).empty(2).td(t.sessions_total).td(t.lb_total).td(age_or(t.last_session, "?"));
    w.td(format_bytes(t.bytes_in)).td(format_bytes(t.bytes_out));
    w.td_titled(std::to_string(l.denied_no_server + l.denied_member_limit),
                "within queue_timeout, no eligible member: " + std::to_string(l.denied_no_server) +
                    "; every eligible member at its max_connections: " + std::to_string(l.denied_member_limit));
    w.empty().td(t.errors_conn).td(t.errors_resp);
    w.td(status_with_age(t.up() ? std::nullopt : l.empty_for, t.status()), t.up() ? "" : "down").empty();
    w.td(t.weight).td(t.active).td(t.backup).empty(admin ? 8 : 7).raw("</tr>\n");
}

void listener_table(writer& w, const listener_row& l, bool admin)
{
    w.raw("<table class=\"tbl\" id=\"listener-").text(l.name).raw("\">");
    listener_caption(w, l);
    listener_header(w, admin);
    frontend_row(w, l, admin);
    for (const server_row& s : l.servers) server_html_row(w, l, s, admin);
    backend_row(w, l, admin);
    w.raw("</table>\n");
}

void legend_table(writer& w)
{
    w.raw("<h3>Legend</h3>\n<table class=\"lgd\">");
    for (const auto& [cls, meaning] : legend) {
        w.raw("<tr><td class=\"").raw(cls).raw("\">&nbsp;&nbsp;&nbsp;</td><td>").raw(meaning).raw("</td></tr>");
    }
    w.raw("</table>\n");
}

} // namespace

std::string_view server_row_class(const server_row& s) noexcept
{
    switch (read_status(s.status, s.admin)) {
    case health_reading::maint: return "maint";
    case health_reading::drain: return "drain";
    case health_reading::no_check: return "no_check";
    case health_reading::up:
        if (s.backup) return "backup_up";
        return s.active ? "active_up" : "active_down";
    case health_reading::going_down:
        if (s.backup) return "backup_going_down";
        return s.active ? "active_going_down" : "active_down";
    case health_reading::going_up: return s.backup ? "backup_going_up" : "active_going_up";
    case health_reading::down: break;
    }
    return s.backup ? "backup_down" : "active_down";
}

std::string_view member_row_class(const cluster_member& m) noexcept
{
    switch (read_status(m.check_status)) {
    case health_reading::up: return "active_up";
    case health_reading::going_down: return "active_going_down";
    case health_reading::going_up: return "active_going_up";
    case health_reading::no_check: return "no_check";
    case health_reading::maint: return "maint";
    case health_reading::drain: return "drain";
    case health_reading::down: break;
    }
    return "active_down";
}

std::string render_html(const stats_view& view)
{
    std::string page;
    page.reserve(16384);
    writer w(page);
    w.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta http-equiv=\"refresh\" content=\"")
        .raw(std::to_string(std::max<long long>(view.refresh.count(), 1)))
        .raw("\"><title>patroxy ")
        .text(view.scope)
        .raw(" statistics</title><style>")
        .raw(page_style)
        .raw("</style></head><body>\n");
    header(w, view);
    cluster_panel(w, view);
    events_panel(w, view);
    for (const listener_row& l : view.listeners) listener_table(w, l, view.admin_enabled);
    legend_table(w);
    w.raw("</body></html>\n");
    return page;
}

} // namespace patroxy::proxy::stats
