// The lines of defaults, listen, frontend and backend sections: listening, balancing, limits,
// timeouts, servers and routing between frontends and backends. The check and stats keywords
// live in check_directives.cpp and stats_directives.cpp.
#include "config/haproxy/keyword_notes.hpp"
#include "config/haproxy/userlist.hpp"
#include "config/haproxy/proxy.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace patroxy::config::haproxy {
namespace {

constexpr unsigned with_frontend = in_defaults | in_frontend | in_listen;
constexpr unsigned with_backend = in_defaults | in_listen | in_backend;

constexpr std::string_view why_sticky = why::no_stickiness;

/// Keywords patroxy reads past, with why they change nothing.
constexpr std::array ignored_keywords{
    keyword_note{"log", why::own_logs},
    keyword_note{"log-format", why::own_logs},
    keyword_note{"log-format-sd", why::own_logs},
    keyword_note{"error-log-format", why::own_logs},
    keyword_note{"log-tag", why::own_logs},
    keyword_note{"unique-id-format", why::own_logs},
    keyword_note{"unique-id-header", why::own_logs},
    keyword_note{"description", "patroxy's stats page does not show section descriptions"},
    keyword_note{"id", "patroxy knows listeners by name"},
    keyword_note{"capture", why::http_only},
    keyword_note{"compression", why::http_only},
    keyword_note{"errorfile", why::http_only},
    keyword_note{"errorfiles", why::http_only},
    keyword_note{"errorloc", why::http_only},
    keyword_note{"errorloc302", why::http_only},
    keyword_note{"errorloc303", why::http_only},
    keyword_note{"http-error", why::http_only},
    keyword_note{"http-reuse", why::http_only},
    keyword_note{"http-request", why::http_only},
    keyword_note{"http-response", why::http_only},
    keyword_note{"http-after-response", why::http_only},
    keyword_note{"redirect", why::http_only},
    keyword_note{"monitor-uri", why::http_only},
    keyword_note{"monitor", why::http_only},
    keyword_note{"max-keep-alive-queue", why::http_only},
    keyword_note{"retry-on", "patroxy retries a failed connect on the next member, whatever the failure"},
    keyword_note{"fullconn", "patroxy has no dynamic server limits: maxconn is the limit"},
    keyword_note{"hash-balance-factor", "patroxy's source hash has no load bound"},
    keyword_note{"rate-limit", "patroxy does not limit the rate of new sessions"},
    keyword_note{"backlog", "patroxy sets its own listen backlog"},
    keyword_note{"bind-process", "patroxy runs its own worker threads"},
    keyword_note{"cookie", why_sticky},
    keyword_note{"dynamic-cookie-key", why_sticky},
    keyword_note{"persist", why_sticky},
    keyword_note{"force-persist", why_sticky},
    keyword_note{"ignore-persist", why_sticky},
    keyword_note{"stick-table", why_sticky},
    keyword_note{"stick", why_sticky},
    keyword_note{"email-alert", "patroxy sends no email; its events are on the stats page and in /metrics"},
    keyword_note{"load-server-state-from-file", "patroxy does not load server states from a file"},
    keyword_note{"server-state-file-name", "patroxy does not load server states from a file"},
    keyword_note{"filter", "patroxy has no stream filters"},
    keyword_note{"declare", "patroxy has no captures"},
    keyword_note{"acl", "an ACL alone decides nothing, and patroxy honours no conditions"},
    keyword_note{"external-check", "patroxy runs no external check commands"},
    keyword_note{"tcp-response", "patroxy relays server data without inspecting rules"},
};

/// Keywords that would change who is routed where and that patroxy cannot honour.
constexpr std::array refused_keywords{
    keyword_note{"use-server", "it pins sessions to a server by condition; patroxy routes by role only"},
    keyword_note{"dispatch", "it sends sessions to a fixed address; list it as a server"},
    keyword_note{"server-template", "list each server on its own `server` line"},
    keyword_note{"source", "patroxy connects from the address the system picks"},
    keyword_note{"tcp-request", "its rules accept or reject clients by condition, which patroxy does not evaluate"},
};

/// Bind options that change nothing (with the number of values they take).
struct bind_option {
    std::string_view name;
    unsigned args;
};

constexpr std::array ignored_bind_options{
    bind_option{"name", 1},   bind_option{"id", 1},      bind_option{"process", 1},    bind_option{"thread", 1},
    bind_option{"v4v6", 0},   bind_option{"v6only", 0},  bind_option{"defer-accept", 0}, bind_option{"tfo", 0},
    bind_option{"backlog", 1}, bind_option{"interface", 1}, bind_option{"nice", 1},   bind_option{"maxconn", 1},
    bind_option{"mss", 1},    bind_option{"tcp-ut", 1},  bind_option{"user", 1},       bind_option{"group", 1},
    bind_option{"mode", 1},   bind_option{"uid", 1},     bind_option{"gid", 1},
};

constexpr std::array refused_bind_options{
    std::string_view("ssl"),  std::string_view("crt"),   std::string_view("crt-list"), std::string_view("accept-proxy"),
    std::string_view("transparent"), std::string_view("namespace"), std::string_view("proto"),
    std::string_view("accept-netscaler-cip"),
};

bool allowed(const proxy& p, unsigned mask)
{
    return (section_bit(p.sec->kind) & mask) != 0;
}

/// Whether `keyword` can act in this section. HAProxy refuses a listening or server keyword in a
/// defaults section, and ignores a keyword the section's side (frontend, backend) has no use for.
bool check_allowed(const proxy& p, unsigned mask, const std::string& keyword, unsigned line, report& r)
{
    if (allowed(p, mask)) return true;
    if (p.sec->kind == section_kind::defaults) r.error(line, "'" + keyword + "' is not allowed in a defaults section");
    else r.warn(line, "'" + keyword + "' has no effect in a " + p.sec->keyword + " section");
    return false;
}

void read_bind(const std::vector<std::string>& w, unsigned line, proxy& p, const env_lookup& env, report& r)
{
    if (w.size() < 2) {
        r.error(line, "expected 'bind ADDRESS[:PORT] [options]'");
        return;
    }
    std::string why;
    const auto addresses = parse_bind_addresses(expand_address_env(w[1], env), why);
    if (addresses.empty()) r.error(line, "bind: " + why);
    for (const auto& a : addresses) p.binds.push_back({a, line});
    for (std::size_t i = 2; i < w.size(); ++i) {
        if (const auto* ignored = find_keyword(ignored_bind_options, w[i])) {
            if (i + ignored->args >= w.size()) {
                r.error(line, "bind option '" + w[i] + "' needs a value");
                return;
            }
            r.warn(line, "bind option '" + w[i] + "' has no effect on patroxy's listening socket");
            i += ignored->args;
            continue;
        }
        for (const auto o : refused_bind_options) {
            if (o == w[i]) {
                r.error(line, "bind option '" + w[i] +
                                  "' is not supported: TLS towards clients is patroxy's `tls: terminate` in the native "
                                  "config (PostgreSQL clients negotiate TLS inside the protocol), and patroxy reads no "
                                  "PROXY headers");
                return;
            }
        }
        r.error(line, "unknown bind option '" + w[i] + "'");
        return;
    }
}

void read_balance(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    if (w.size() < 2) {
        r.error(line, "expected 'balance ALGORITHM'");
        return;
    }
    const auto& a = w[1];
    auto set = [&](balance_mode m) { p.settings.balance = located<balance_mode>{m, line}; };
    if (a == "roundrobin") set(balance_mode::roundrobin);
    else if (a == "leastconn") set(balance_mode::leastconn);
    else if (a == "first") set(balance_mode::first);
    else if (a == "source") set(balance_mode::source);
    else if (a == "static-rr") {
        set(balance_mode::roundrobin);
        r.warn(line, "balance static-rr is balanced as roundrobin (patroxy applies weight changes at once)");
    } else if (a == "random" || a.starts_with("random(")) {
        set(balance_mode::roundrobin);
        r.warn(line, "balance " + a + " is balanced as roundrobin (the same long-run share, without the randomness)");
    } else {
        r.error(line, "balance " + a + " is not supported: patroxy balances roundrobin, leastconn, first or source "
                                       "(by the client's address)");
    }
}

void read_limit(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    const auto n = w.size() == 2 ? parse_count(w[1], 1000000) : std::nullopt;
    if (!n) {
        r.error(line, w[0] + ": expected a whole number from 0 to 1000000");
        return;
    }
    if (w[0] == "maxconn") p.settings.maxconn = located<std::uint32_t>{static_cast<std::uint32_t>(*n), line};
    else if (*n > 100) r.error(line, "retries: expected a whole number from 0 to 100");
    else p.settings.retries = located<unsigned>{static_cast<unsigned>(*n), line};
}

void read_timeout(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    if (w.size() != 3) {
        r.error(line, "expected 'timeout NAME TIME'");
        return;
    }
    const auto& name = w[1];
    std::optional<located<duration>>* field = nullptr;
    if (name == "connect") field = &p.settings.timeout_connect;
    else if (name == "client") field = &p.settings.timeout_client;
    else if (name == "server") field = &p.settings.timeout_server;
    else if (name == "check") field = &p.settings.timeout_check;
    else if (name == "queue") field = &p.settings.timeout_queue;
    std::string why;
    const auto t = parse_time(w[2], time_unit::milliseconds, why);
    if (!t) {
        r.error(line, "timeout " + name + ": " + why);
    } else if (field != nullptr) {
        *field = located<duration>{*t, line};
    } else if (name == "client-fin" || name == "server-fin") {
        r.warn(line, "timeout " + name + " has no effect: patroxy closes both sides of a session together, so no half-closed "
                     "side waits");
    } else if (name == "tunnel" || name == "http-request" || name == "http-keep-alive" || name == "tarpit") {
        r.warn(line, "timeout " + name + " has no effect: it applies to HTTP, and patroxy's idle timeouts are timeout client "
                     "and timeout server");
    } else {
        r.error(line, "unknown timeout '" + name + "'");
    }
}

void read_server(const std::vector<std::string>& w, unsigned line, proxy& p, const env_lookup& env, report& r)
{
    if (w[0] == "default-server") {
        server_options own;
        read_server_options(w, 1, line, own, r);
        merge(p.settings.default_server, own);
        return;
    }
    if (w.size() < 3) {
        r.error(line, "expected 'server NAME ADDRESS:PORT [options]'");
        return;
    }
    for (const auto& s : p.servers) {
        if (s.name == w[1]) {
            r.error(line, "server '" + w[1] + "' is already defined in this section at " + r.where(s.line));
            return;
        }
    }
    std::string why;
    const auto address = parse_server_address(expand_address_env(w[2], env), why);
    if (!address) r.error(line, "server " + w[1] + ": " + why);
    server_line s{w[1], address.value_or(endpoint{}), p.settings.default_server, line};
    server_options own;
    read_server_options(w, 3, line, own, r);
    merge(s.options, own);
    if (address) p.servers.push_back(std::move(s));
}

void read_backend_choice(const std::vector<std::string>& w, unsigned line, proxy& p, report& r)
{
    if (w.size() < 2) {
        r.error(line, "expected '" + w[0] + " BACKEND'");
        return;
    }
    if (w[0] == "default_backend") {
        if (w.size() > 2) r.error(line, "expected 'default_backend BACKEND'");
        else p.settings.default_backend = located<std::string>{w[1], line};
        return;
    }
    if (w.size() > 2) {
        r.error(line, "use_backend with a condition ('" + w[2] +
                          " …') is not supported: patroxy routes each listener to one backend; write one frontend per "
                          "backend");
        return;
    }
    if (!p.use_backend) p.use_backend = located<std::string>{w[1], line}; // the first one always wins
    else r.warn(line, "use_backend " + w[1] + " is never used: the unconditional use_backend at " +
                          r.where(p.use_backend->line) + " always wins");
}

/// The keywords with their own readers; false when words[0] is none of them.
bool read_known(const std::vector<std::string>& w, unsigned line, proxy& p, const env_lookup& env, report& r)
{
    const auto& k = w[0];
    if (k == "mode") {
        if (w.size() == 2 && (w[1] == "tcp" || w[1] == "http")) p.settings.mode = located<std::string>{w[1], line};
        else r.error(line, "expected 'mode tcp' or 'mode http'");
    } else if (k == "bind") {
        if (check_allowed(p, in_frontend | in_listen, k, line, r)) read_bind(w, line, p, env, r);
    } else if (k == "balance") {
        if (check_allowed(p, with_backend, k, line, r)) read_balance(w, line, p, r);
    } else if (k == "maxconn" || k == "retries") {
        read_limit(w, line, p, r);
        if (k == "maxconn" && p.sec->kind == section_kind::backend)
            r.warn(line, "maxconn in a backend has no effect: the frontend's maxconn limits its listener");
    } else if (k == "timeout") {
        read_timeout(w, line, p, r);
    } else if (k == "server" || k == "default-server") {
        const unsigned mask = k == "server" ? (in_listen | in_backend) : with_backend;
        if (check_allowed(p, mask, k, line, r)) read_server(w, line, p, env, r);
    } else if (k == "default_backend" || k == "use_backend") {
        const unsigned mask = k == "use_backend" ? (in_frontend | in_listen) : with_frontend;
        if (check_allowed(p, mask, k, line, r)) read_backend_choice(w, line, p, r);
    } else if (k == "disabled" || k == "enabled") {
        if (k == "disabled") p.disabled = line;
        else p.disabled.reset();
    } else {
        return false;
    }
    return true;
}

} // namespace

unsigned section_bit(section_kind kind) noexcept
{
    switch (kind) {
    case section_kind::defaults: return in_defaults;
    case section_kind::frontend: return in_frontend;
    case section_kind::listen: return in_listen;
    case section_kind::backend: return in_backend;
    default: return 0;
    }
}

void apply_proxy_directive(const directive& d, proxy& p, const env_lookup& env, report& r)
{
    // "no option X" (HAProxy takes the prefix on options and log only).
    const bool negated = d.words[0] == "no";
    if (d.words[0] == "default") {
        r.error(d.line, "'default …' (back to the defaults section's value) is not supported: write the option, or "
                        "'no option NAME'");
        return;
    }
    std::vector<std::string> w(d.words.begin() + (negated ? 1 : 0), d.words.end());
    if (w.empty() || (negated && w[0] != "option" && w[0] != "log")) {
        r.error(d.line, "'no' applies to options only ('no option NAME')");
        return;
    }
    if (apply_option_directive(w, negated, d.line, p, r)) return;
    if (apply_check_directive(w, d.line, p, r)) return;
    if (apply_stats_directive(w, d.line, p, r)) return;
    if (read_known(w, d.line, p, env, r)) return;
    if (w[0] == "acl" && w.size() == 3) {
        if (auto list = http_auth_argument(w[2])) { // the stats page's auth (stats_page.cpp)
            p.http_auth_acls[w[1]] = located<std::string>{std::move(*list), d.line};
            return;
        }
    }
    if (const auto* k = find_keyword(ignored_keywords, w[0])) {
        r.warn(d.line, "'" + w[0] + "' has no effect: " + std::string(k->why));
        return;
    }
    if (const auto* k = find_keyword(refused_keywords, w[0])) {
        if (w[0] == "tcp-request" && w.size() >= 2 && w[1] == "inspect-delay")
            r.warn(d.line, "'tcp-request inspect-delay' has no effect: patroxy inspects no content rules");
        else r.error(d.line, "'" + w[0] + "' is not supported: " + std::string(k->why));
        return;
    }
    r.error(d.line, "unknown keyword '" + w[0] + "' in a " + p.sec->keyword + " section");
}

} // namespace patroxy::config::haproxy
