// Check URI -> listener role with Patroni 3.0.2's rules; see check_uri.hpp. The order of the tests
// on the path is Patroni's: "/standby-leader" must not be read as "/leader", nor "/read-only-sync"
// as "/read-only".
#include "config/haproxy/check_uri.hpp"

#include "config/haproxy/patroni_size.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace patroxy::config::haproxy {
namespace {

bool contains(std::string_view path, std::string_view word)
{
    return path.find(word) != std::string_view::npos;
}

/// Python's unquote_plus(), which parse_qs() applies to keys and values.
std::string unquote_plus(std::string_view s)
{
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

/// parse_qs(query) with Patroni's use of it: pairs split on '&', pairs without '=' or with an
/// empty value dropped (keep_blank_values is off), the first value of a repeated key kept.
std::vector<std::pair<std::string, std::string>> query_pairs(std::string_view query)
{
    std::vector<std::pair<std::string, std::string>> out;
    for (std::size_t start = 0; start <= query.size();) {
        auto end = query.find('&', start);
        if (end == std::string_view::npos) end = query.size();
        const auto pair = query.substr(start, end - start);
        start = end + 1;
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos || eq + 1 == pair.size()) continue;
        auto key = unquote_plus(pair.substr(0, eq));
        bool seen = false;
        for (const auto& [k, v] : out) seen = seen || k == key;
        if (!seen) out.emplace_back(std::move(key), unquote_plus(pair.substr(eq + 1)));
        if (end == query.size()) break;
    }
    return out;
}

/// Endpoints that GET reaches through their own handlers (do_GET_<name>): none of them says
/// anything about the member's role.
constexpr std::array own_handlers{"liveness", "readiness", "patroni", "cluster", "history",
                                  "config",   "metrics",   "failsafe"};

constexpr std::string_view role_endpoints =
    "/primary (or /, /master, /read-write), /leader, /standby-leader, /replica, /read-only, /sync, /async, /health";

struct path_match {
    std::optional<listener_role> role;
    bool standby_leader = false;
    bool ignores_tags = false; ///< Patroni skips the tag_ filters on the leader endpoints
    bool applies_lag = false;  ///< the endpoint's answer depends on the replica status code
    std::string error;
};

/// The leader endpoints: Patroni ignores tag filters there, and lag means nothing.
path_match leader_endpoint(listener_role role, bool standby_leader = false)
{
    return {role, standby_leader, true, false, {}};
}

/// Endpoints whose answer on a replica is the replica status code, which ?lag= bounds.
path_match replica_endpoint(listener_role role)
{
    return {role, false, false, true, {}};
}

path_match refused(std::string why)
{
    return {std::nullopt, false, false, false, std::move(why)};
}

path_match match_path(std::string_view method, std::string_view path)
{
    // parse_request(): path.lstrip('/').split('/')[0] names the handler.
    auto rest = path.substr(std::min(path.size(), path.find_first_not_of('/')));
    const auto first_segment = rest.substr(0, rest.find('/'));
    if (method == "GET") {
        for (const std::string_view h : own_handlers)
            if (first_segment == h)
                return refused("GET " + std::string(path) +
                               " is not a role check: Patroni answers it from its own handler whatever the member's "
                               "role. Role endpoints: " + std::string(role_endpoints));
    }
    if (path == "/") path = "/primary"; // as Patroni does
    if (contains(path, "standby_leader") || contains(path, "standby-leader"))
        return leader_endpoint(listener_role::standby_leader);
    if (contains(path, "leader")) return leader_endpoint(listener_role::primary, true);
    if (contains(path, "master") || contains(path, "primary") || contains(path, "read-write"))
        return leader_endpoint(listener_role::primary);
    if (contains(path, "replica")) return replica_endpoint(listener_role::replica);
    if (contains(path, "read-only") && !contains(path, "sync")) return replica_endpoint(listener_role::read_only);
    if (contains(path, "health")) return {listener_role::any, false, false, false, {}};
    if (path == "/sync" || path == "/synchronous") return replica_endpoint(listener_role::sync);
    if (path == "/async" || path == "/asynchronous") return replica_endpoint(listener_role::async);
    if (path == "/read-only-sync" || path == "/read-only-synchronous")
        return refused(std::string(path) +
                       " (the leader and the synchronous standbys) has no patroxy role; use /sync or /read-only");
    return refused("Patroni 3.0.2 answers " + std::string(method) + " " + std::string(path) +
                   " with 503 on every member, so this section would route nowhere. Role endpoints: " +
                   std::string(role_endpoints));
}

/// Applies ?lag= to `out`; false with `error` set for a lag no replica can meet.
bool apply_lag(const std::string& text, const path_match& m, check_role& out, std::string& error)
{
    if (!m.applies_lag) {
        out.notes.push_back("lag=" + text + " has no meaning on this endpoint (Patroni applies it to replicas only)");
        return true;
    }
    const auto bytes = patroni_lag_bytes(text);
    if (!bytes) {
        out.notes.push_back("lag=" + text + " is not a size Patroni reads (bytes, or B, kB, MB, GB, TB): Patroni applies "
                            "no lag limit, and neither does patroxy");
        return true;
    }
    if (*bytes < 0) {
        error = "lag=" + text + " is negative: Patroni would take every replica for lagging";
        return false;
    }
    // Beyond 63 bits Patroni's comparison never finds a replica lagging: the same as no limit.
    if (*bytes < std::ldexp(1.0L, 63)) out.max_lag = static_cast<std::uint64_t>(*bytes);
    return true;
}

} // namespace

check_role_result role_for_check(std::string_view method, std::string_view uri)
{
    if (method != "GET" && method != "HEAD" && method != "OPTIONS")
        return {std::nullopt, "Patroni answers only OPTIONS, GET and HEAD on its health endpoints; " +
                                  std::string(method) + " " + std::string(uri) + " never passes"};
    if (uri.empty() || uri.front() != '/')
        return {std::nullopt, "expected a check URI starting with /, got '" + std::string(uri) + "'"};
    const auto fragment = uri.find('#');
    if (fragment != std::string_view::npos) uri = uri.substr(0, fragment);
    const auto question = uri.find('?');
    const auto path = uri.substr(0, question);
    const auto query = question == std::string_view::npos ? std::string_view() : uri.substr(question + 1);

    const auto m = match_path(method, path);
    if (!m.role) return {std::nullopt, m.error};
    check_role out;
    out.role = *m.role;
    out.standby_leader = m.standby_leader;
    for (const auto& [key, value] : query_pairs(query)) {
        std::string error;
        if (key == "lag") {
            if (!apply_lag(value, m, out, error)) return {std::nullopt, error};
        } else if (key.starts_with("tag_")) {
            if (m.ignores_tags) {
                out.notes.push_back(key + "=" + value + " has no effect: Patroni ignores tag filters on this endpoint");
            } else if (key.size() == 4) {
                return {std::nullopt, "'" + key + "=" + value + "' names no tag: Patroni would answer 503 on every member"};
            } else {
                out.tags[key.substr(4)] = value;
            }
        } else {
            out.notes.push_back("query parameter '" + key + "' has no meaning to Patroni");
        }
    }
    return {std::move(out), {}};
}

} // namespace patroxy::config::haproxy
