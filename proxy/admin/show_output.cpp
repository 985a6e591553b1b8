// The runtime API's show texts. The field names, their order and the numeric codes are HAProxy
// 2.6's (measured against Debian 12's haproxy 2.6.12 over its stats socket).
#include "proxy/admin/show_output.hpp"

#include "proxy/stats/format.hpp" // split_last_check

#include <asio/ip/address.hpp>

#include <cstdio>
#include <string_view>

namespace patroxy::proxy::admin {
namespace {

using std::chrono::seconds;

void field(std::string& out, std::string_view name, std::string_view value)
{
    out.append(name).append(": ").append(value).append("\n");
}

void field(std::string& out, std::string_view name, std::uint64_t value) { field(out, name, std::to_string(value)); }

// HAProxy's check status codes (HCHK_STATUS_* in its check-t.h), for srv_check_status.
constexpr unsigned check_status_unknown = 0;
constexpr unsigned check_status_initial = 1;

unsigned check_status_code(std::string_view status) noexcept
{
    if (status == "L4TOUT") return 7;
    if (status == "L4CON") return 8;
    if (status == "L6TOUT") return 10;
    if (status == "L6RSP") return 11;
    if (status == "L7TOUT") return 12;
    if (status == "L7RSP") return 13;
    if (status == "L7OK") return 15;
    if (status == "L7STS") return 17;
    return check_status_unknown;
}

// srv_check_result (CHK_RES_*): what the last check concluded.
constexpr unsigned check_result_unknown = 0;
constexpr unsigned check_result_failed = 2;
constexpr unsigned check_result_passed = 3;

// srv_check_state (CHK_ST_*): a check is configured and enabled; paused while in maintenance.
constexpr unsigned check_configured_enabled = 0x02 | 0x04;
constexpr unsigned check_paused = 0x08;

// srv_admin_state (SRV_ADMF_*): forced into maintenance, or into drain.
constexpr unsigned admin_forced_maint = 0x01;
constexpr unsigned admin_forced_drain = 0x08;

// srv_op_state (SRV_ST_*).
constexpr unsigned op_stopped = 0;
constexpr unsigned op_running = 2;

/// "127.0.0.1:5432" -> {"127.0.0.1", "5432"}; "[::1]:5432" -> {"::1", "5432"}; a host name
/// stays a name.
std::pair<std::string, std::string> split_address(std::string_view address)
{
    const auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return {std::string(address), "0"};
    std::string_view host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return {std::string(host), std::string(address.substr(colon + 1))};
}

bool is_ip_literal(const std::string& host)
{
    std::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
}

/// A value in a space-separated line: spaces, controls and '%' as %XX, so a user or database
/// name with a space in it stays one token.
std::string token(std::string_view value)
{
    std::string out;
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f || c == '%') {
            char escaped[4];
            std::snprintf(escaped, sizeof escaped, "%%%02X", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out;
}

void server_state_line(std::string& out, const stats::stats_view& view, std::size_t listener_index, std::size_t server_index)
{
    const auto& l = view.listeners[listener_index];
    const auto& s = l.servers[server_index];
    const auto [host, port] = split_address(s.address);
    const bool ip = is_ip_literal(host);
    const bool maint = s.admin == stats::admin_state::maint;
    const auto check = stats::split_last_check(s.last_check);
    const bool checked = s.check_port != 0 || !s.last_check.empty();

    unsigned admin = 0;
    if (maint) admin = admin_forced_maint;
    if (s.admin == stats::admin_state::drain) admin = admin_forced_drain;
    unsigned result = check_result_unknown;
    if (!check.status.empty()) result = check.status == "L7OK" ? check_result_passed : check_result_failed;
    unsigned check_state = 0;
    if (checked) check_state = check_configured_enabled | (maint ? check_paused : 0u);
    // HAProxy counts from its own start when a server never changed state.
    const seconds since_change = s.last_change.value_or(view.uptime);

    out += std::to_string(listener_index + 1) + ' ' + l.name + ' ';
    out += std::to_string(server_index + 1) + ' ' + s.name + ' ' + (ip ? host : std::string("-")) + ' ';
    out += std::to_string(s.eligible && !maint ? op_running : op_stopped) + ' ' + std::to_string(admin) + ' ';
    out += std::to_string(s.weight) + ' ' + std::to_string(s.weight) + ' ' + std::to_string(since_change.count()) + ' ';
    out += std::to_string(check.status.empty() ? (checked ? check_status_initial : check_status_unknown)
                                               : check_status_code(check.status));
    out += ' ' + std::to_string(result) + ' ' + std::to_string(s.check_health) + ' ' + std::to_string(check_state);
    out += " 0 0 0 "; // srv_agent_state bk_f_forced_id srv_f_forced_id: no agent checks, no forced ids
    out += (ip ? std::string("-") : host) + ' ' + port + " - "; // srv_fqdn srv_port srvrecord
    out += (l.server_tls == "disable" || l.server_tls.empty()) ? "0" : "1";
    // srv_check_port srv_check_addr srv_agent_addr srv_agent_port; HAProxy repeats the check port
    // as the agent's when no agent is configured, and so does this.
    const auto check_port = std::to_string(s.check_port);
    out += ' ' + check_port + " - - " + check_port + '\n';
}

} // namespace

std::string human_time(seconds d)
{
    const long long t = d.count() < 0 ? 0 : static_cast<long long>(d.count());
    std::string out;
    int units = 2;
    if (t >= 86400) {
        out += std::to_string(t / 86400) + "d";
        --units;
    }
    if (units && t % 86400 / 3600) {
        out += std::to_string(t % 86400 / 3600) + "h";
        --units;
    }
    if (units && t % 3600 / 60) {
        out += std::to_string(t % 3600 / 60) + "m";
        --units;
    }
    if ((units && t % 60) || t == 0) out += std::to_string(t % 60) + "s";
    return out;
}

std::string format_uptime(seconds uptime)
{
    const auto total = uptime.count() < 0 ? 0 : uptime.count();
    char text[64];
    std::snprintf(text, sizeof text, "%lldd %lldh%02lldm%02llds", static_cast<long long>(total / 86400),
                  static_cast<long long>(total % 86400 / 3600), static_cast<long long>(total % 3600 / 60),
                  static_cast<long long>(total % 60));
    return text;
}

std::string render_info(const stats::stats_view& view, const process_info& process)
{
    std::uint64_t current = 0, cumulated = 0, rate = 0, bytes_out = 0;
    for (const auto& l : view.listeners) {
        current += l.sessions_cur;
        cumulated += l.sessions_total;
        rate += l.rate_cur;
        bytes_out += l.bytes_out;
    }
    const auto started = std::chrono::duration_cast<seconds>(process.started.time_since_epoch()).count();
    std::string out;
    field(out, "Name", "patroxy");
    field(out, "Version", view.version);
    field(out, "Nbthread", process.threads);
    field(out, "Nbproc", 1);
    field(out, "Process_num", 1);
    field(out, "Pid", static_cast<std::uint64_t>(view.pid));
    field(out, "Uptime", format_uptime(view.uptime));
    field(out, "Uptime_sec", static_cast<std::uint64_t>(view.uptime.count()));
    field(out, "Ulimit-n", process.fd_limit);
    field(out, "Maxconn", process.max_connections);
    field(out, "CurrConns", current);
    field(out, "CumConns", cumulated);
    // One session per connection: connections and sessions count alike.
    field(out, "ConnRate", rate);
    field(out, "SessRate", rate);
    field(out, "node", process.node);
    field(out, "Stopping", process.stopping ? 1 : 0);
    field(out, "Listeners", process.listening);
    field(out, "TotalBytesOut", bytes_out);
    field(out, "Start_time_sec", static_cast<std::uint64_t>(started < 0 ? 0 : started));
    return out;
}

std::string render_servers_state(const stats::stats_view& view, std::optional<std::size_t> only)
{
    std::string out =
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        "srv_check_addr srv_agent_addr srv_agent_port\n";
    for (std::size_t i = 0; i < view.listeners.size(); ++i) {
        if (only && *only != i) continue;
        for (std::size_t k = 0; k < view.listeners[i].servers.size(); ++k) server_state_line(out, view, i, k);
    }
    return out;
}

std::string render_sessions(const std::vector<session_row>& sessions)
{
    std::string out;
    for (const auto& s : sessions) {
        char id[32];
        std::snprintf(id, sizeof id, "0x%llx", static_cast<unsigned long long>(s.id));
        out.append(id).append(": proto=").append(s.ipv6 ? "tcpv6" : "tcpv4");
        out.append(" src=").append(s.client);
        out.append(" fe=").append(token(s.listener)).append(" be=").append(token(s.listener));
        out.append(" srv=").append(s.member.empty() ? std::string("<none>") : token(s.member));
        out.append(" age=").append(human_time(s.age));
        if (!s.user.empty()) out.append(" user=").append(token(s.user));
        if (!s.database.empty()) out.append(" db=").append(token(s.database));
        out += '\n';
    }
    return out;
}

} // namespace patroxy::proxy::admin
