// The global and resolvers sections; see global_section.hpp.
#include "config/haproxy/global_section.hpp"

#include "config/haproxy/keyword_notes.hpp"

#include <array>
#include <string_view>

namespace patroxy::config::haproxy {
namespace {

/// Why a global keyword changes nothing for patroxy, by keyword or keyword prefix.
std::string_view why_global_has_no_effect(std::string_view k)
{
    struct group {
        std::string_view prefix; ///< a whole keyword, or a prefix ending in '.' or '-'
        std::string_view why;
    };
    static constexpr std::array groups{
        group{"log", why::own_logs},
        group{"log-tag", why::own_logs},
        group{"log-send-hostname", why::own_logs},
        group{"tune.", "patroxy sizes its own buffers and threads"},
        group{"ssl-", why::tls_settings},
        group{"ca-base", why::tls_settings},
        group{"crt-base", why::tls_settings},
        group{"issuers-chain-path", why::tls_settings},
        group{"lua-", "patroxy runs no Lua"},
        group{"h1-", why::http_only},
        group{"h2-", why::http_only},
        group{"server-state-", "patroxy does not save server states to a file"},
        group{"setenv", "patroxy sets no environment variables: set them before it starts"},
        group{"presetenv", "patroxy sets no environment variables: set them before it starts"},
        group{"resetenv", "patroxy sets no environment variables: set them before it starts"},
        group{"unsetenv", "patroxy sets no environment variables: set them before it starts"},
    };
    for (const auto& g : groups) {
        const bool prefix = g.prefix.back() == '.' || g.prefix.back() == '-';
        if (prefix ? k.starts_with(g.prefix) : k == g.prefix) return g.why;
    }
    return "the process is placed, run and tuned by its service manager (systemd unit, container), not by this file";
}

bool is_octal_mode(std::string_view text)
{
    if (text.empty() || text.size() > 4) return false;
    for (char c : text)
        if (c < '0' || c > '7') return false;
    return true;
}

/// stats socket ADDRESS [mode M] [level L] [user U] [group G] […]
void read_stats_socket(const std::vector<std::string>& w, unsigned line, global_settings& g, const env_lookup& env,
                       report& r)
{
    if (w.size() < 3) {
        r.error(line, "expected 'stats socket PATH [options]'");
        return;
    }
    std::string path = expand_address_env(w[2], env);
    if (path.starts_with("unix@")) path.erase(0, 5);
    if (path.empty() || (path.front() != '/' && w[2].find("unix@") == std::string::npos)) {
        r.warn(line, "stats socket " + w[2] + " is not opened: patroxy's runtime API listens on a Unix socket path only");
        return;
    }
    if (g.admin_socket) {
        r.warn(line, "only one runtime API socket is opened: the one at " + r.where(g.admin_socket->line));
        return;
    }
    if (path.size() > 107) {
        r.error(line, "stats socket: a Unix socket path is at most 107 bytes");
        return;
    }
    admin_socket_settings a;
    a.path = path;
    a.level = admin_level::operator_; // HAProxy 2.6's default for a stats socket ("show cli level" says operator)
    for (std::size_t i = 3; i < w.size(); i += 2) {
        const auto& k = w[i];
        if (i + 1 >= w.size()) {
            r.error(line, "stats socket: '" + k + "' needs a value");
            return;
        }
        const auto& v = w[i + 1];
        if (k == "mode" && is_octal_mode(v)) a.mode = static_cast<unsigned>(std::stoul(v, nullptr, 8));
        else if (k == "mode") r.error(line, "stats socket mode: expected permission bits in octal such as 660, got '" + v + "'");
        else if (k == "level" && v == "admin") a.level = admin_level::admin;
        else if (k == "level" && v == "operator") a.level = admin_level::operator_;
        else if (k == "level" && v == "user") a.level = admin_level::user;
        else if (k == "level") r.error(line, "stats socket level: expected admin, operator or user, got '" + v + "'");
        else if (k == "user") a.user = v;
        else if (k == "group") a.group = v;
        else if (k == "uid" || k == "gid")
            r.warn(line, "stats socket " + k + " is not applied: give the owner by name with user/group");
        else if (k == "expose-fd" || k == "process" || k == "thread" || k == "name" || k == "severity-output" ||
                 k == "maxconn" || k == "backlog" || k == "id" || k == "nice")
            r.warn(line, "stats socket " + k + " has no effect on patroxy's runtime API socket");
        else {
            r.warn(line, "stats socket: unknown option '" + k + "' is ignored, and the options after it with it");
            break;
        }
    }
    g.admin_socket = located<admin_socket_settings>{std::move(a), line};
}

} // namespace

void read_global(const section& s, global_settings& g, const env_lookup& env, report& r)
{
    for (const auto& d : s.directives) {
        const auto& w = d.words;
        if (w[0] == "maxconn") {
            const auto n = w.size() == 2 ? parse_count(w[1], 10000000) : std::nullopt;
            if (n) g.maxconn = located<std::uint32_t>{static_cast<std::uint32_t>(*n), d.line};
            else r.error(d.line, "maxconn: expected a whole number from 0 to 10000000");
        } else if (w[0] == "stats" && w.size() >= 2 && w[1] == "socket") {
            read_stats_socket(w, d.line, g, env, r);
        } else if (w[0] == "stats" && w.size() >= 2 && w[1] == "timeout") {
            std::string why;
            const auto t = w.size() == 3 ? parse_time(w[2], time_unit::milliseconds, why) : std::nullopt;
            if (!t || t->count() == 0) r.error(d.line, "stats timeout: " + (why.empty() ? "expected a time longer than 0" : why));
            else g.stats_timeout = located<duration>{*t, d.line};
        } else {
            const std::string k = w[0] == "stats" && w.size() >= 2 ? "stats " + w[1] : w[0];
            r.warn(d.line, "'" + k + "' has no effect: " + std::string(why_global_has_no_effect(w[0])));
        }
    }
}

void read_resolvers(const section& s, std::map<std::string, resolvers_settings>& out, report& r)
{
    if (out.count(s.name) != 0) {
        r.error(s.line, "a second resolvers section named '" + s.name + "'");
        return;
    }
    resolvers_settings res{located<duration>{std::chrono::seconds(10), s.line}};
    bool nameservers_said = false;
    for (const auto& d : s.directives) {
        const auto& w = d.words;
        if (w[0] == "hold" && w.size() == 3 && w[1] == "valid") {
            std::string why;
            const auto t = parse_time(w[2], time_unit::milliseconds, why);
            if (!t || t->count() == 0) r.error(d.line, "hold valid: " + (why.empty() ? "expected a time longer than 0" : why));
            else res.hold_valid = located<duration>{*t, d.line};
        } else if (w[0] == "nameserver") {
            if (!nameservers_said)
                r.warn(d.line, "nameserver has no effect: patroxy asks the system resolver (/etc/resolv.conf, "
                               "/etc/hosts) again every hold valid");
            nameservers_said = true;
        } else if (w[0] != "parse-resolv-conf") { // what patroxy does anyway
            r.warn(d.line, "'" + w[0] + (w.size() > 1 ? " " + w[1] : std::string()) +
                               "' has no effect: patroxy takes from a resolvers section only how long an answer holds (hold valid)");
        }
    }
    out.emplace(s.name, res);
}

} // namespace patroxy::config::haproxy
