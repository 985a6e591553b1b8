// config -> native JSON text (see json_writer.hpp). One writer per JSON object of the format,
// each the mirror of its reader in parse.cpp and tls_reader.cpp, with the keys in the same order.
#include "config/json_writer.hpp"
#include "config/tls_reader.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>

namespace patroxy::config {
namespace {

/// Keeps keys in insertion order, so the text follows the reader's order.
using json = nlohmann::ordered_json;

// Each put*() sets `key` unless the value equals `fallback`: the default the reader would use when
// the key is absent, so leaving it out reads back the same.

template <class T>
void put(json& o, const char* key, const T& value, const T& fallback)
{
    if (value != fallback) {
        o[key] = value;
    }
}

/// An optional text key; the reader takes only non-empty strings, so empty means absent.
void put(json& o, const char* key, const std::string& value)
{
    if (!value.empty()) {
        o[key] = value;
    }
}

void put_duration(json& o, const char* key, duration value, duration fallback)
{
    if (value != fallback) {
        o[key] = duration_text(value);
    }
}

/// An enum by its canonical name (names.hpp).
template <class E>
void put_name(json& o, const char* key, E value, E fallback)
{
    if (value != fallback) {
        o[key] = std::string(to_string(value));
    }
}

/// A nested object, unless it has no key left to say.
void put_object(json& o, const char* key, json value)
{
    if (!value.empty()) {
        o[key] = std::move(value);
    }
}

/// The keys of `t` that differ from `base`: the whole top-level tls object against the defaults,
/// or a listener's tls_options against the top-level object it overrides.
json tls_object(const tls_settings& t, const tls_settings& base)
{
    json o = json::object();
    put(o, "cert", t.cert, base.cert);
    put(o, "key", t.key, base.key);
    put(o, "client_ca", t.client_ca, base.client_ca);
    put_name(o, "client_verify", t.client_verify, base.client_verify);
    put(o, "server_ca", t.server_ca, base.server_ca);
    put(o, "server_cert", t.server_cert, base.server_cert);
    put(o, "server_key", t.server_key, base.server_key);
    put(o, "server_name", t.server_name, base.server_name);
    put_name(o, "min_version", t.min_version, base.min_version);
    put(o, "ciphers", t.ciphers, base.ciphers);
    put(o, "ciphersuites", t.ciphersuites, base.ciphersuites);
    put(o, "session_tickets", t.session_tickets, base.session_tickets);
    put_duration(o, "ticket_lifetime", t.ticket_lifetime, base.ticket_lifetime);
    put(o, "api_ca", t.api_ca, base.api_ca);
    put(o, "api_cert", t.api_cert, base.api_cert);
    put(o, "api_key", t.api_key, base.api_key);
    return o;
}

/// What a listener's (or the stats listener's) tls_options override: the reader starts from the
/// top-level object without the API material, so that is the base to differ from.
json tls_overrides_object(const tls_settings& own, const tls_settings& top_level)
{
    tls_settings base = top_level;
    detail::drop_api_material(base);
    return tls_object(own, base);
}

// Secrets (cluster.api_auth, health.sql_check, stats.auth) are printed as they were given. The
// point of --print-config is a file the operator can switch to; with the passwords masked it would
// start, and then fail every authenticated check and stats login until someone noticed. The text
// goes only to the operator's own stdout, and the file it came from holds the same passwords in
// clear. A password read from a file or the environment is printed as that key again, never its
// content, and a hash as the hash.

/// The key that gave the password and its value: "password", "password_file" or "password_env".
void put_password(json& o, const std::string& password, const secret_origin& origin)
{
    switch (origin.from) {
    case secret_origin::kind::inline_text: put(o, "password", password); return;
    case secret_origin::kind::file: o["password_file"] = origin.name; return;
    case secret_origin::kind::env: o["password_env"] = origin.name; return;
    }
}

json cluster_object(const config& c)
{
    json o = json::object();
    put(o, "scope", c.scope);
    json members = json::array();
    const member defaults{};
    for (const member& m : c.members) {
        // The address is always shown in full: it is what an operator checks first.
        json e = {{"name", m.name}, {"host", m.host}, {"port", m.port}};
        put(e, "api", m.api);
        put(e, "weight", m.weight, defaults.weight);
        members.push_back(std::move(e));
    }
    o["members"] = std::move(members);
    put(o, "discover", c.discover, false);
    if (c.api_auth) {
        json a = {{"user", c.api_auth->user}};
        put_password(a, c.api_auth->password, c.api_auth->password_origin);
        o["api_auth"] = std::move(a);
    }
    if (c.resolve_interval) {
        o["resolve_interval"] = duration_text(*c.resolve_interval);
    }
    return o;
}

json health_object(const health_settings& h)
{
    const health_settings defaults{};
    json o = json::object();
    put_duration(o, "interval", h.interval, defaults.interval);
    put_duration(o, "fast_interval", h.fast_interval, defaults.fast_interval);
    put_duration(o, "timeout", h.timeout, defaults.timeout);
    put(o, "fall", h.fall, defaults.fall);
    put(o, "rise", h.rise, defaults.rise);
    if (h.sql_check) {
        const sql_check_settings sql_defaults{};
        json s = {{"user", h.sql_check->user}};
        put_password(s, h.sql_check->password, h.sql_check->password_origin);
        put(s, "database", h.sql_check->database, sql_defaults.database);
        o["sql_check"] = std::move(s);
    }
    return o;
}

json member_options_object(const member_options& m)
{
    const member_options defaults{};
    json o = json::object();
    if (m.weight) {
        o["weight"] = *m.weight;
    }
    put(o, "backup", m.backup, defaults.backup);
    put(o, "max_connections", m.max_connections, defaults.max_connections);
    put(o, "disabled", m.disabled, defaults.disabled);
    return o;
}

json listener_object(const listener& l, const tls_settings& top_level_tls)
{
    const listener defaults{};
    json o = {{"name", l.name}, {"bind", to_string(l.bind)}};
    if (l.role) {
        o["role"] = std::string(to_string(*l.role));
    } else {
        o["servers"] = l.servers;
    }
    put_name(o, "balance", l.balance, defaults.balance);
    put_name(o, "tls", l.tls, defaults.tls);
    put_name(o, "client_tls", l.client_tls, defaults.client_tls);
    // The reader's default depends on the tls mode (check_listener_tls in parse.cpp).
    const auto server_tls_default = l.tls == tls_mode::terminate ? server_tls_mode::prefer : server_tls_mode::disable;
    put_name(o, "server_tls", l.server_tls, server_tls_default);
    put_object(o, "tls_options", tls_overrides_object(l.tls_options, top_level_tls));
    put(o, "max_connections", l.max_connections, defaults.max_connections);
    put_duration(o, "queue_timeout", l.queue_timeout, defaults.queue_timeout);
    if (l.max_lag) {
        o["max_lag"] = size_text(*l.max_lag);
    }
    put(o, "fallback_to_primary", l.fallback_to_primary, defaults.fallback_to_primary);
    put_name(o, "on_lag", l.on_lag, defaults.on_lag);
    if (!l.tags.empty()) {
        o["tags"] = l.tags; // values are the published text; a string reads back as the same text
    }
    put(o, "standby_leader", l.standby_leader, defaults.standby_leader);
    if (!l.member_settings.empty()) {
        json members = json::object();
        for (const auto& [name, options] : l.member_settings) {
            members[name] = member_options_object(options); // {} too: the entry itself is the setting
        }
        o["member_options"] = std::move(members);
    }
    put(o, "shutdown_backup_sessions", l.shutdown_backup_sessions, defaults.shutdown_backup_sessions);
    return o;
}

json stats_object(const stats_settings& s, const tls_settings& top_level_tls)
{
    const stats_settings defaults{};
    json o = {{"bind", to_string(s.bind)}};
    put(o, "uri", s.uri, defaults.uri);
    put_duration(o, "refresh", s.refresh, defaults.refresh);
    if (s.auth) {
        json a = {{"user", s.auth->user}};
        if (s.auth->password_hash.empty())
            put_password(a, s.auth->password, s.auth->password_origin);
        else
            a["password_hash"] = s.auth->password_hash;
        o["auth"] = std::move(a);
    }
    put(o, "realm", s.realm, defaults.realm);
    if (s.admin) {
        o["admin"] = *s.admin;
    }
    put(o, "hide_version", s.hide_version, defaults.hide_version);
    put(o, "tls", s.tls, defaults.tls);
    put_object(o, "tls_options", tls_overrides_object(s.tls_options, top_level_tls));
    return o;
}

json timeouts_object(const timeouts& t)
{
    const timeouts defaults{};
    json o = json::object();
    put_duration(o, "connect", t.connect, defaults.connect);
    put_duration(o, "startup", t.startup, defaults.startup);
    put_duration(o, "client_idle", t.client_idle, defaults.client_idle);
    put_duration(o, "server_idle", t.server_idle, defaults.server_idle);
    return o;
}

json limits_object(const limits& l)
{
    json o = json::object();
    if (l.max_message != limits{}.max_message) {
        o["max_message"] = size_text(l.max_message);
    }
    return o;
}

json log_object(const log_settings& l)
{
    const log_settings defaults{};
    json o = json::object();
    put_name(o, "level", l.level, defaults.level);
    put_name(o, "format", l.format, defaults.format);
    put(o, "sessions", l.sessions, defaults.sessions);
    put_duration(o, "no_primary_alarm", l.no_primary_alarm, defaults.no_primary_alarm);
    return o;
}

/// Permission bits in octal, as chmod writes them ("660").
std::string octal_text(unsigned mode)
{
    std::string digits;
    do {
        digits.insert(digits.begin(), static_cast<char>('0' + mode % 8));
        mode /= 8;
    } while (mode != 0);
    return digits;
}

json admin_socket_object(const admin_socket_settings& a)
{
    const admin_socket_settings defaults{};
    json o = {{"path", a.path}};
    if (a.mode) {
        o["mode"] = octal_text(*a.mode);
    }
    put(o, "user", a.user);
    put(o, "group", a.group);
    put_name(o, "level", a.level, defaults.level);
    put_duration(o, "timeout", a.timeout, defaults.timeout);
    return o;
}

// The layout of the hand-written examples (config/examples): 2-space indent, and an object or
// list of plain values on one line when it fits, so a member or an auth object is one line.

constexpr std::size_t line_width = 100;

/// A scalar as JSON text. A string that is not UTF-8 (possible from haproxy.cfg, never from JSON)
/// cannot be written in JSON at all: its bad bytes become U+FFFD rather than an exception, and
/// reading the text back shows the difference (--print-config checks that).
std::string scalar_text(const json& value)
{
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// How deeply containers nest in `value`: 0 for a scalar or an empty container.
std::size_t depth(const json& value)
{
    if (!value.is_structured() || value.empty()) {
        return 0;
    }
    std::size_t inner = 0;
    for (const auto& element : value) {
        inner = std::max(inner, depth(element));
    }
    return 1 + inner;
}

/// `value` on one line: `{ "a": 1, "b": ["x", "y"] }`.
std::string one_line(const json& value)
{
    if (!value.is_structured()) {
        return scalar_text(value);
    }
    if (value.empty()) {
        return value.is_object() ? "{}" : "[]";
    }
    const bool object = value.is_object();
    std::string out = object ? "{ " : "[";
    for (auto it = value.begin(); it != value.end(); ++it) {
        out += it == value.begin() ? "" : ", ";
        if (object) {
            out += scalar_text(it.key()) + ": ";
        }
        out += one_line(*it);
    }
    return out + (object ? " }" : "]");
}

/// Appends `value`, which starts at `column` of a line indented by `indent`. Up to two levels
/// (an object holding a list or an object of plain values) stay on one line when they fit.
void write(std::string& out, const json& value, std::size_t indent, std::size_t column)
{
    if (depth(value) <= 2) {
        std::string line = one_line(value);
        if (!value.is_structured() || column + line.size() < line_width) {
            out += line;
            return;
        }
    }
    const bool object = value.is_object();
    out += object ? "{\n" : "[\n";
    for (auto it = value.begin(); it != value.end(); ++it) {
        out.append(indent + 2, ' ');
        std::size_t start = indent + 2;
        if (object) {
            const std::string key = scalar_text(it.key()) + ": ";
            out += key;
            start += key.size();
        }
        write(out, *it, indent + 2, start);
        out += std::next(it) == value.end() ? "\n" : ",\n";
    }
    out.append(indent, ' ');
    out += object ? "}" : "]";
}

} // namespace

std::string to_json_text(const config& c)
{
    const config defaults{};
    json doc = json::object();
    doc["cluster"] = cluster_object(c);
    put_object(doc, "health", health_object(c.health));
    put_object(doc, "tls", tls_object(c.tls, tls_settings{}));
    json listeners = json::array();
    for (const listener& l : c.listeners) {
        listeners.push_back(listener_object(l, c.tls));
    }
    doc["listeners"] = std::move(listeners);
    if (c.stats) {
        doc["stats"] = stats_object(*c.stats, c.tls);
    }
    put_object(doc, "timeouts", timeouts_object(c.timeouts));
    put_object(doc, "limits", limits_object(c.limits));
    if (c.admin_socket) {
        doc["admin_socket"] = admin_socket_object(*c.admin_socket);
    }
    put_object(doc, "log", log_object(c.log));
    put(doc, "max_connections", c.max_connections, defaults.max_connections);
    put(doc, "workers", c.workers, defaults.workers);
    put(doc, "retries", c.retries, defaults.retries);
    std::string text;
    write(text, doc, 0, 0);
    return text + "\n";
}

} // namespace patroxy::config
