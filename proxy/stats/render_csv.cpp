// The CSV rendering of a stats_view in HAProxy's column layout.
#include "proxy/stats/render_csv.hpp"

#include "proxy/stats/format.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace patroxy::proxy::stats {

namespace {

// HAProxy 2.6's stat fields 0..99, in order; then patroxy's.
enum column : std::size_t {
    pxname, svname, qcur, qmax, scur, smax, slim, stot, bin, bout,
    dreq, dresp, ereq, econ, eresp, wretr, wredis, status, weight, act,
    bck, chkfail, chkdown, lastchg, downtime, qlimit, pid, iid, sid, throttle,
    lbtot, tracked, type, rate, rate_lim, rate_max, check_status, check_code, check_duration, hrsp_1xx,
    hrsp_2xx, hrsp_3xx, hrsp_4xx, hrsp_5xx, hrsp_other, hanafail, req_rate, req_rate_max, req_tot, cli_abrt,
    srv_abrt, comp_in, comp_out, comp_byp, comp_rsp, lastsess, last_chk, last_agt, qtime, ctime,
    rtime, ttime, agent_status, agent_code, agent_duration, check_desc, agent_desc, check_rise, check_fall, check_health,
    agent_rise, agent_fall, agent_health, addr, cookie, mode, algo, conn_rate, conn_rate_max, conn_tot,
    intercepted, dcon, dses, wrew, connect, reuse, cache_lookups, cache_hits, srv_icur, src_ilim,
    qtime_max, ctime_max, rtime_max, ttime_max, eint, idle_conn_cur, safe_conn_cur, used_conn_cur, need_conn_est, uweight,
    pg_role, pg_state, pg_timeline, pg_lag_bytes, admin, killed,
    column_count
};

constexpr std::array<std::string_view, column_count> column_names{
    "pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout",
    "dreq", "dresp", "ereq", "econ", "eresp", "wretr", "wredis", "status", "weight", "act",
    "bck", "chkfail", "chkdown", "lastchg", "downtime", "qlimit", "pid", "iid", "sid", "throttle",
    "lbtot", "tracked", "type", "rate", "rate_lim", "rate_max", "check_status", "check_code", "check_duration", "hrsp_1xx",
    "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt",
    "srv_abrt", "comp_in", "comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime",
    "rtime", "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc", "check_rise", "check_fall", "check_health",
    "agent_rise", "agent_fall", "agent_health", "addr", "cookie", "mode", "algo", "conn_rate", "conn_rate_max", "conn_tot",
    "intercepted", "dcon", "dses", "wrew", "connect", "reuse", "cache_lookups", "cache_hits", "srv_icur", "src_ilim",
    "qtime_max", "ctime_max", "rtime_max", "ttime_max", "eint", "idle_conn_cur", "safe_conn_cur", "used_conn_cur", "need_conn_est", "uweight",
    "pg_role", "pg_state", "pg_timeline", "pg_lag_bytes", "admin", "killed",
};

/// HAProxy's `type` column.
enum class row_type { frontend = 0, backend = 1, server = 2 };

/// One CSV line under construction: every column empty until set.
class csv_row {
public:
    void set(column c, std::string value) { cells_[c] = std::move(value); }
    void set(column c, std::string_view value) { cells_[c].assign(value); }
    void set(column c, const char* value) { cells_[c].assign(value); }
    void set(column c, std::uint64_t value) { cells_[c] = std::to_string(value); }
    void set(column c, std::int64_t value) { cells_[c] = std::to_string(value); }
    void set(column c, const std::optional<std::uint64_t>& value)
    {
        if (value) set(c, *value);
    }
    void set(column c, const std::optional<std::chrono::seconds>& value)
    {
        if (value) set(c, static_cast<std::int64_t>(value->count()));
    }

    /// Appends the row, quoting a cell only where RFC 4180 needs it (HAProxy's csv_enc does too).
    void append_to(std::string& out) const
    {
        for (const std::string& cell : cells_) {
            if (cell.find_first_of(",\"\r\n") == std::string::npos) {
                out += cell;
            } else {
                out += '"';
                for (char ch : cell) {
                    if (ch == '"') out += '"';
                    out += ch;
                }
                out += '"';
            }
            out += ',';
        }
        out += '\n';
    }

private:
    std::array<std::string, column_count> cells_{};
};

/// The columns every row of a listener shares.
csv_row start_row(const listener_row& l, std::size_t listener_index, std::string_view name, row_type t, std::uint64_t server_id)
{
    csv_row row;
    row.set(pxname, l.name);
    row.set(svname, name);
    row.set(pid, std::uint64_t{1}); // HAProxy's relative process number: patroxy is one process
    row.set(iid, static_cast<std::uint64_t>(listener_index + 1));
    row.set(sid, server_id);
    row.set(type, static_cast<std::uint64_t>(t));
    row.set(mode, "tcp");
    return row;
}

void frontend_row(const listener_row& l, std::size_t index, std::string& out)
{
    csv_row row = start_row(l, index, "FRONTEND", row_type::frontend, 0);
    row.set(scur, l.sessions_cur);
    row.set(smax, l.sessions_max);
    if (l.sessions_limit > 0) row.set(slim, l.sessions_limit);
    row.set(stot, l.sessions_total);
    row.set(bin, l.bytes_in);
    row.set(bout, l.bytes_out);
    row.set(dreq, l.denied_limit + l.denied_global_limit); // the listener's or the global max_connections
    row.set(ereq, l.errors_startup);
    row.set(status, l.status);
    row.set(rate, l.rate_cur);
    row.set(rate_max, l.rate_max);
    // patroxy accepts one session per connection, so connections and sessions count alike.
    row.set(conn_rate, l.rate_cur);
    row.set(conn_rate_max, l.rate_max);
    row.set(conn_tot, l.sessions_total);
    row.set(killed, l.killed.total());
    row.append_to(out);
}

void server_csv_row(const listener_row& l, std::size_t index, std::size_t server_index, std::string& out)
{
    const server_row& s = l.servers[server_index];
    csv_row row = start_row(l, index, s.name, row_type::server, server_index + 1);
    row.set(scur, s.sessions_cur);
    row.set(smax, s.sessions_max);
    if (s.sessions_limit > 0) row.set(slim, s.sessions_limit);
    row.set(stot, s.sessions_total);
    row.set(bin, s.bytes_in);
    row.set(bout, s.bytes_out);
    row.set(econ, s.errors_conn);
    row.set(eresp, s.errors_resp);
    row.set(status, s.status);
    row.set(weight, std::uint64_t{s.weight});
    row.set(act, std::uint64_t{s.active && !s.backup ? 1u : 0u});
    row.set(bck, std::uint64_t{s.backup ? 1u : 0u});
    row.set(chkfail, s.checks_failed);
    row.set(chkdown, s.downs);
    row.set(lastchg, s.last_change);
    row.set(downtime, static_cast<std::int64_t>(s.downtime.count()));
    row.set(lbtot, s.lb_total);
    row.set(rate, s.rate_cur);
    row.set(rate_max, s.rate_max);
    const check_parts check = split_last_check(s.last_check);
    row.set(check_status, check.status);
    row.set(check_code, check.code);
    row.set(check_duration, check.duration_ms);
    // HAProxy writes -1 for a server that never had a session.
    row.set(lastsess, s.last_session ? static_cast<std::int64_t>(s.last_session->count()) : std::int64_t{-1});
    row.set(last_chk, s.last_check);
    row.set(addr, s.address);
    row.set(uweight, std::uint64_t{s.weight});
    row.set(pg_role, s.role);
    row.set(pg_state, s.state);
    row.set(pg_timeline, s.timeline);
    row.set(pg_lag_bytes, s.lag_bytes);
    row.set(admin, to_string(s.admin));
    row.set(killed, s.killed);
    row.append_to(out);
}

void backend_row(const listener_row& l, std::size_t index, std::string& out)
{
    const backend_totals t = sum_servers(l);
    csv_row row = start_row(l, index, "BACKEND", row_type::backend, 0);
    // patroxy queues per listener, before a server is chosen: HAProxy's backend queue.
    row.set(qcur, l.queue_cur);
    row.set(qmax, l.queue_max);
    row.set(scur, t.sessions_cur);
    row.set(stot, t.sessions_total);
    row.set(bin, t.bytes_in);
    row.set(bout, t.bytes_out);
    // Turned away after the queue: no eligible member, or every one full, within queue_timeout.
    row.set(dreq, l.denied_no_server + l.denied_member_limit);
    row.set(econ, t.errors_conn);
    row.set(eresp, t.errors_resp);
    row.set(status, t.status());
    row.set(weight, t.weight);
    row.set(act, t.active);
    row.set(bck, t.backup);
    if (!t.up()) row.set(lastchg, l.empty_for);
    row.set(lbtot, t.lb_total);
    row.set(rate, t.rate_cur);
    row.set(lastsess, t.last_session ? static_cast<std::int64_t>(t.last_session->count()) : std::int64_t{-1});
    row.set(algo, l.balance);
    row.set(uweight, t.user_weight);
    row.set(killed, t.killed);
    row.append_to(out);
}

/// Whether `filter` keeps server row `s`, the `sid`th of its listener.
bool keeps_server(const csv_filter& filter, const server_row& s, std::size_t sid)
{
    if (!(filter.types & 4u) || (filter.server && *filter.server != sid)) return false;
    if (filter.hide_maint && s.admin == admin_state::maint) return false;
    return !(filter.hide_down && (s.admin == admin_state::maint || !s.eligible));
}

} // namespace

std::string render_csv(const stats_view& view, const csv_filter& filter)
{
    std::string out = "# ";
    for (std::string_view name : column_names) {
        out += name;
        out += ',';
    }
    out += '\n';
    for (std::size_t i = 0; i < view.listeners.size(); ++i) {
        if (filter.listener && *filter.listener != i) continue;
        const listener_row& l = view.listeners[i];
        if (filter.types & 1u) frontend_row(l, i, out);
        for (std::size_t k = 0; k < l.servers.size(); ++k)
            if (keeps_server(filter, l.servers[k], k + 1)) server_csv_row(l, i, k, out);
        if (filter.types & 2u) backend_row(l, i, out);
    }
    return out;
}

} // namespace patroxy::proxy::stats
