// Native JSON config -> config structs: one reader per JSON object of the format (DESIGN.md
// "Configuration (native JSON)"), fields through the shared readers of json_reader.hpp, so every
// error is collected with its path and nothing throws past parse_config().
#include "config/config.hpp"
#include "config/json_reader.hpp"
#include "config/names.hpp"
#include "config/secret_reader.hpp"
#include "config/tls_reader.hpp"

#include <algorithm>
#include <exception>
#include <map>

namespace patroxy::config {
namespace {

using detail::child_path;
using detail::describe;
using detail::diagnostics;
using detail::integer_in;
using detail::json;
using detail::list_of;
using detail::object_reader;
using detail::one_of;
using detail::read_bool;
using detail::read_duration;
using detail::read_endpoint;
using detail::read_object;
using detail::read_positive_duration;
using detail::read_size;
using detail::read_string;
using detail::size_in;
using detail::uniqueness;

constexpr std::uint32_t max_message_limit = 1024u * 1024u * 1024u; // PostgreSQL's own 1 GB

/// cluster.members[].api: the Patroni REST base URL.
std::optional<std::string> read_api_url(const json& value, const std::string& path, diagnostics& d)
{
    auto url = read_string(value, path, d);
    if (!url) {
        return std::nullopt;
    }
    for (const std::string_view scheme : {"http://", "https://"})
        if (url->starts_with(scheme) && url->size() > scheme.size()) return url;
    // A URL may carry a password (https://user:password@host): never echo one.
    const bool credentials = url->find('@') != std::string::npos;
    d.error(path, "expected a URL starting with http:// or https://, such as \"http://10.0.1.10:8008\", got " +
                      (credentials ? std::string("a URL with credentials, not shown") : describe(value)));
    return std::nullopt;
}

std::optional<member> read_member(const json& value, const std::string& path, diagnostics& d,
                                  uniqueness& names)
{
    return read_object<member>(value, path, d, [&names](object_reader& obj, member& m) {
        obj.require("name", m.name, read_string);
        obj.require("host", m.host, read_string);
        obj.get("port", m.port, integer_in<std::uint16_t>(1, 65535));
        obj.get("api", m.api, read_api_url);
        obj.get("weight", m.weight, integer_in<std::uint32_t>(0, 256));
        if (!m.name.empty()) {
            names.check(m.name, obj.path_of("name"), obj.diag());
        }
    });
}

std::optional<api_auth> read_api_auth(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<api_auth>(value, path, d, [](object_reader& obj, api_auth& a) {
        obj.require("user", a.user, read_string);
        detail::read_password(obj, {a.password, a.password_origin}, true);
    });
}

/// The "cluster" object, before its fields move into config.
struct cluster_section {
    std::string scope;
    std::vector<member> members;
    bool discover = false;
    std::optional<api_auth> auth;
    std::optional<duration> resolve_interval;
};

std::optional<cluster_section> read_cluster(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<cluster_section>(value, path, d, [](object_reader& obj, cluster_section& c) {
        uniqueness names("member name");
        obj.get("scope", c.scope, read_string);
        obj.require("members", c.members,
                    list_of("members", [&names](const json& v, const std::string& p, diagnostics& dd) {
                        return read_member(v, p, dd, names);
                    }));
        obj.get("discover", c.discover, read_bool);
        obj.get("api_auth", c.auth, read_api_auth);
        obj.get("resolve_interval", c.resolve_interval, read_positive_duration);
    });
}

std::optional<sql_check_settings> read_sql_check(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<sql_check_settings>(value, path, d, [](object_reader& obj, sql_check_settings& s) {
        obj.require("user", s.user, read_string);
        detail::read_password(obj, {s.password, s.password_origin}, false);
        obj.get("database", s.database, read_string);
    });
}

std::optional<health_settings> read_health(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<health_settings>(value, path, d, [](object_reader& obj, health_settings& h) {
        obj.get("interval", h.interval, read_positive_duration);
        obj.get("fast_interval", h.fast_interval, read_positive_duration);
        obj.get("timeout", h.timeout, read_positive_duration);
        obj.get("fall", h.fall, integer_in(1u, 100u));
        obj.get("rise", h.rise, integer_in(1u, 100u));
        obj.get("sql_check", h.sql_check, read_sql_check);
        // fast_interval is the quicker polling after a change; slower than normal makes no sense.
        if (h.fast_interval > h.interval) {
            obj.diag().error(obj.path_of("fast_interval"), "must not be longer than interval");
        }
    });
}

/// Reader of a listener's "servers": names of cluster members, each at most once.
auto server_names(const std::vector<member>& members)
{
    return [&members](const json& value, const std::string& path, diagnostics& d) {
        uniqueness seen("server");
        return detail::read_list(
            value, path, d, "member names",
            [&](const json& v, const std::string& p, diagnostics& dd) -> std::optional<std::string> {
                auto name = read_string(v, p, dd);
                if (!name) {
                    return std::nullopt;
                }
                const bool known = std::any_of(members.begin(), members.end(),
                                               [&](const member& m) { return m.name == *name; });
                if (!known) {
                    dd.error(p, "no member named '" + *name + "' in /cluster/members");
                    return std::nullopt;
                }
                seen.check(*name, p, dd);
                return name;
            });
    };
}

/// A listener routes either to a static list of servers or to a role, never both or neither.
void check_routing_choice(object_reader& obj)
{
    const bool servers = obj.has("servers");
    const bool role = obj.has("role");
    if (servers && role) {
        obj.diag().error(obj.path(), "set either \"servers\" or \"role\", not both");
    } else if (!servers && !role) {
        obj.diag().error(obj.path(),
                         "missing \"servers\" (a list of member names) or \"role\"; set one of them");
    }
}

/// max_lag and fallback_to_primary describe replica selection, so only read roles take them.
void check_replica_only_keys(object_reader& obj, const listener& l)
{
    if (obj.has("role") && !l.role) {
        return; // the role itself is wrong; an error about it is already recorded
    }
    // sync and async pick among replicas too, and Patroni bounds /sync and /async with ?lag= as well.
    const bool reads_replicas = l.role == listener_role::replica || l.role == listener_role::read_only ||
                                l.role == listener_role::sync || l.role == listener_role::async;
    for (const std::string_view key : {"max_lag", "fallback_to_primary", "on_lag"}) {
        if (obj.has(key) && !reads_replicas) {
            obj.diag().error(obj.path_of(key),
                             "only applies to a listener with role \"replica\", \"read-only\", \"sync\" or \"async\"");
        }
    }
}

/// A terminating listener's TLS choices, checked against the material they need.
void check_listener_tls(object_reader& obj, listener& l)
{
    if (!obj.has("server_tls"))
        l.server_tls = l.tls == tls_mode::terminate ? server_tls_mode::prefer : server_tls_mode::disable;
    if (obj.has("client_tls") && l.tls != tls_mode::terminate)
        obj.diag().error(obj.path_of("client_tls"), "only applies to a listener with \"tls\": \"terminate\"");
    const std::string where = obj.has("tls_options") ? "in /tls or in this listener's tls_options"
                                                     : "in the top-level \"tls\" object";
    if (l.tls == tls_mode::terminate) detail::check_server_material(obj.diag(), obj.path_of("tls"), l.tls_options, where);
    if ((l.server_tls == server_tls_mode::verify_ca || l.server_tls == server_tls_mode::verify_full) &&
        l.tls_options.server_ca.empty())
        obj.diag().error(obj.path_of("server_tls"), std::string(to_string(l.server_tls)) +
                                                        " needs the CA the servers' certificates chain to: set "
                                                        "\"server_ca\" " + where);
}

/// listener.tags: Patroni's tag filter, tag name -> value as published ("true" for true).
std::optional<std::map<std::string, std::string>> read_tags(const json& value, const std::string& path, diagnostics& d)
{
    if (!value.is_object()) {
        d.error(path, "expected an object of tag name -> value, such as {\"datacenter\": \"east\"}, got " +
                          describe(value));
        return std::nullopt;
    }
    std::map<std::string, std::string> out;
    for (const auto& [key, v] : value.items()) {
        // Patroni compares the published text, so true and 3 are spelled as they are published.
        if (v.is_string() || v.is_boolean() || v.is_number_integer()) {
            out[key] = v.is_string() ? v.get<std::string>() : v.dump();
        } else {
            d.error(child_path(path, key), "expected a string, true/false or an integer, got " + describe(v));
        }
    }
    return out;
}

std::optional<member_options> read_member_options(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<member_options>(value, path, d, [](object_reader& obj, member_options& o) {
        obj.get("weight", o.weight, integer_in<std::uint32_t>(0, 256));
        obj.get("backup", o.backup, read_bool);
        obj.get("max_connections", o.max_connections, integer_in<std::uint32_t>(0, 1000000));
        obj.get("disabled", o.disabled, read_bool);
    });
}

/// listener.member_options: member name -> its settings on this listener. A name must be a
/// configured member unless members are discovered (then it may join later).
auto member_options_map(const std::vector<member>& members, bool discover)
{
    return [&members, discover](const json& value, const std::string& path,
                                diagnostics& d) -> std::optional<std::map<std::string, member_options>> {
        if (!value.is_object()) {
            d.error(path, "expected an object of member name -> options, got " + describe(value));
            return std::nullopt;
        }
        std::map<std::string, member_options> out;
        for (const auto& item : value.items()) {
            // Not a structured binding: clang 14 cannot capture one in the lambda below.
            const std::string& name = item.key();
            const json& v = item.value();
            const auto p = child_path(path, name);
            const bool known = std::any_of(members.begin(), members.end(), [&](const member& m) { return m.name == name; });
            if (!known && !discover) {
                d.error(p, "no member named '" + name + "' in /cluster/members");
                continue;
            }
            if (auto o = read_member_options(v, p, d)) out[name] = *o;
        }
        return out;
    };
}

/// What a listener is checked against besides itself.
struct listener_context {
    const std::vector<member>& members;
    bool discover; ///< members may join later: member_options may name one not configured
    const tls_settings& tls; ///< the top-level tls object, which tls_options overrides
    uniqueness& names; ///< listener names
    uniqueness& binds; ///< addresses of listeners and stats
};

std::optional<listener> read_listener(const json& value, const std::string& path, diagnostics& d,
                                      const listener_context& ctx)
{
    return read_object<listener>(value, path, d, [&ctx](object_reader& obj, listener& l) {
        obj.require("name", l.name, read_string);
        obj.require("bind", l.bind, read_endpoint);
        obj.get("servers", l.servers, server_names(ctx.members));
        obj.get("role", l.role, one_of(detail::listener_role_names));
        obj.get("balance", l.balance, one_of(detail::balance_mode_names));
        obj.get("tls", l.tls, one_of(detail::tls_mode_names));
        obj.get("client_tls", l.client_tls, one_of(detail::client_tls_mode_names));
        obj.get("server_tls", l.server_tls, one_of(detail::server_tls_mode_names));
        l.tls_options = ctx.tls;
        obj.get("tls_options", l.tls_options, detail::tls_overrides(ctx.tls));
        detail::drop_api_material(l.tls_options);
        obj.get("max_connections", l.max_connections, integer_in<std::uint32_t>(1, 1000000));
        obj.get("queue_timeout", l.queue_timeout, read_duration); // 0 = fail at once
        obj.get("max_lag", l.max_lag, read_size);
        obj.get("fallback_to_primary", l.fallback_to_primary, read_bool);
        obj.get("on_lag", l.on_lag, one_of(detail::lag_action_names));
        obj.get("tags", l.tags, read_tags);
        obj.get("standby_leader", l.standby_leader, read_bool);
        obj.get("member_options", l.member_settings, member_options_map(ctx.members, ctx.discover));
        obj.get("shutdown_backup_sessions", l.shutdown_backup_sessions, read_bool);
        if (obj.has("standby_leader") && l.role && l.role != listener_role::primary)
            obj.diag().error(obj.path_of("standby_leader"), "only applies to a listener with role \"primary\"");
        if (obj.has("tags") && obj.has("servers"))
            obj.diag().error(obj.path_of("tags"), "only applies to a listener with a \"role\"; a static listener has no Patroni tags to filter on");
        check_routing_choice(obj);
        check_replica_only_keys(obj, l);
        check_listener_tls(obj, l);
        if (!l.name.empty()) {
            ctx.names.check(l.name, obj.path_of("name"), obj.diag());
        }
        if (l.bind.port != 0) {
            ctx.binds.check(to_string(l.bind), obj.path_of("bind"), obj.diag());
        }
    });
}

std::optional<stats_auth> read_stats_auth(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<stats_auth>(value, path, d, [](object_reader& obj, stats_auth& a) {
        obj.require("user", a.user, read_string);
        detail::read_password(obj, {a.password, a.password_origin, &a.password_hash}, true);
    });
}

/// stats.uri: an absolute path without query ("/", "/stats", "/haproxy").
std::optional<std::string> read_stats_uri(const json& value, const std::string& path, diagnostics& d)
{
    auto uri = read_string(value, path, d);
    if (uri && (!uri->starts_with('/') || uri->find_first_of("?# ") != std::string::npos)) {
        d.error(path, "expected a path starting with /, without query or spaces, such as \"/\" or \"/stats\", got " +
                          describe(value));
        return std::nullopt;
    }
    return uri;
}

/// admin_socket.mode: permission bits in octal, as chmod and HAProxy write them ("660", "0600").
std::optional<unsigned> read_octal_mode(const json& value, const std::string& path, diagnostics& d)
{
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        unsigned mode = 0;
        bool ok = !text.empty() && text.size() <= 4;
        for (char c : text) {
            ok = ok && c >= '0' && c <= '7';
            mode = mode * 8 + static_cast<unsigned>(c - '0');
        }
        if (ok) return mode;
    }
    d.error(path, "expected permission bits in octal as a string, such as \"660\", got " + describe(value));
    return std::nullopt;
}

std::optional<admin_socket_settings> read_admin_socket(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<admin_socket_settings>(value, path, d, [](object_reader& obj, admin_socket_settings& a) {
        obj.require("path", a.path, read_string);
        obj.get("mode", a.mode, read_octal_mode);
        obj.get("user", a.user, read_string);
        obj.get("group", a.group, read_string);
        obj.get("level", a.level, one_of(detail::admin_level_names));
        obj.get("timeout", a.timeout, read_positive_duration);
        // sun_path holds 108 bytes with the terminating zero.
        if (a.path.size() > 107) obj.diag().error(obj.path_of("path"), "a Unix socket path is at most 107 bytes");
    });
}

std::optional<stats_settings> read_stats(const json& value, const std::string& path, diagnostics& d,
                                         uniqueness& binds, const tls_settings& tls)
{
    return read_object<stats_settings>(value, path, d, [&binds, &tls](object_reader& obj, stats_settings& s) {
        obj.require("bind", s.bind, read_endpoint);
        obj.get("uri", s.uri, read_stats_uri);
        obj.get("refresh", s.refresh, read_positive_duration);
        obj.get("auth", s.auth, read_stats_auth);
        obj.get("realm", s.realm, read_string);
        obj.get("admin", s.admin, read_bool);
        obj.get("hide_version", s.hide_version, read_bool);
        if (s.admin == true && !s.auth)
            obj.diag().error(obj.path_of("admin"), "admin actions need \"auth\": set a user and password, or leave admin out");
        obj.get("tls", s.tls, read_bool);
        s.tls_options = tls;
        obj.get("tls_options", s.tls_options, detail::tls_overrides(tls));
        detail::drop_api_material(s.tls_options);
        if (s.tls)
            detail::check_server_material(obj.diag(), obj.path_of("tls"), s.tls_options,
                                          "in the top-level \"tls\" object or in stats.tls_options");
        if (s.bind.port != 0) {
            binds.check(to_string(s.bind), obj.path_of("bind"), obj.diag());
        }
    });
}

std::optional<timeouts> read_timeouts(const json& value, const std::string& path, diagnostics& d)
{
    // All must be > 0: the proxy gives no meaning to a zero (such as "never") for these.
    return read_object<timeouts>(value, path, d, [](object_reader& obj, timeouts& t) {
        obj.get("connect", t.connect, read_positive_duration);
        obj.get("startup", t.startup, read_positive_duration);
        obj.get("client_idle", t.client_idle, read_positive_duration);
        obj.get("server_idle", t.server_idle, read_positive_duration);
    });
}

std::optional<limits> read_limits(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<limits>(value, path, d, [](object_reader& obj, limits& l) {
        obj.get("max_message", l.max_message,
                size_in<std::uint32_t>(1024, max_message_limit, "1kB to 1GB"));
    });
}

std::optional<log_settings> read_log(const json& value, const std::string& path, diagnostics& d)
{
    return read_object<log_settings>(value, path, d, [](object_reader& obj, log_settings& l) {
        obj.get("level", l.level, one_of(detail::log_level_names));
        obj.get("format", l.format, one_of(detail::log_format_names));
        obj.get("sessions", l.sessions, read_bool);
        obj.get("no_primary_alarm", l.no_primary_alarm, read_positive_duration);
    });
}

std::optional<config> read_document(const json& doc, diagnostics& d)
{
    return read_object<config>(doc, "", d, [](object_reader& obj, config& c) {
        cluster_section cluster;
        obj.require("cluster", cluster, read_cluster);
        c.scope = std::move(cluster.scope);
        c.members = std::move(cluster.members);
        c.discover = cluster.discover;
        c.api_auth = std::move(cluster.auth);
        c.resolve_interval = cluster.resolve_interval;

        obj.get("health", c.health, read_health);
        obj.get("tls", c.tls, detail::tls_overrides(tls_settings{}));

        uniqueness listener_names("listener name");
        uniqueness binds("bind address");
        const listener_context ctx{c.members, c.discover, c.tls, listener_names, binds};
        obj.require("listeners", c.listeners,
                    list_of("listeners", [&ctx](const json& v, const std::string& p, diagnostics& dd) {
                        return read_listener(v, p, dd, ctx);
                    }));
        obj.get("stats", c.stats, [&binds, &c](const json& v, const std::string& p, diagnostics& dd) {
            return read_stats(v, p, dd, binds, c.tls);
        });

        obj.get("timeouts", c.timeouts, read_timeouts);
        obj.get("limits", c.limits, read_limits);
        obj.get("admin_socket", c.admin_socket, read_admin_socket);
        obj.get("log", c.log, read_log);
        obj.get("max_connections", c.max_connections, integer_in<std::uint32_t>(0, 10000000)); // 0 = no global limit
        obj.get("workers", c.workers, integer_in(0u, 256u)); // 0 = one per core
        obj.get("retries", c.retries, integer_in(0u, 100u));
    });
}


} // namespace

load_result parse_config(std::string_view json_text)
{
    diagnostics d;
    std::optional<config> parsed;
    try {
        if (auto doc = detail::parse_json(json_text, d)) {
            parsed = read_document(*doc, d);
        }
    } catch (const std::exception& e) {
        // The readers check every type before access, so this is a bug (or out of memory); it
        // still becomes an error rather than an exception escaping to the caller.
        d.error("", std::string("internal error while reading the config: ") + e.what());
    }
    load_result result;
    result.errors = d.take();
    if (result.errors.empty()) {
        result.value = std::move(parsed);
    }
    return result;
}

} // namespace patroxy::config
