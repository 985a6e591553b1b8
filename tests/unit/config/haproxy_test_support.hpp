// Helpers of the haproxy.cfg drop-in tests: reading a file of the corpus, a fixed environment,
// and the whole translated config as text, so that a test compares every field at once and a
// failure shows which one differs.
#pragma once

#include "config/config.hpp"
#include "config/haproxy/haproxy_reader.hpp"
#include "config_test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace patroxy::config::test {

inline const std::string haproxy_data = std::string(PATROXY_TEST_DATA) + "/haproxy";

/// An environment of exactly these variables, so tests do not depend on the machine's.
inline haproxy::env_lookup fixed_env(std::map<std::string, std::string> vars = {})
{
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        const auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

inline std::string file_text(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

/// haproxy.cfg text read as the file "haproxy.cfg", so messages say "haproxy.cfg:LINE".
inline load_result read_cfg(const std::string& text, const haproxy::env_lookup& env = fixed_env())
{
    return haproxy::parse_haproxy_config(text, "haproxy.cfg", env);
}

/// A corpus file read under its own name ("primary_replica.cfg:12: …").
inline load_result read_corpus(const std::string& name, const haproxy::env_lookup& env = fixed_env())
{
    return haproxy::parse_haproxy_config(file_text(haproxy_data + "/" + name), name, env);
}

inline std::string ms(duration d)
{
    return std::to_string(d.count()) + "ms";
}

inline std::string dump(const tls_settings& t)
{
    if (t == tls_settings{}) return "default";
    return "cert=" + t.cert + " key=" + t.key + " client_ca=" + t.client_ca + " server_ca=" + t.server_ca +
           " api_ca=" + t.api_ca + " api_cert=" + t.api_cert + " api_key=" + t.api_key + " (and more)";
}

inline std::string dump(const member_options& o)
{
    std::string out = o.weight ? "weight=" + std::to_string(*o.weight) : "weight=-";
    return out + " backup=" + (o.backup ? "yes" : "no") + " maxconn=" + std::to_string(o.max_connections) +
           " disabled=" + (o.disabled ? "yes" : "no");
}

inline std::string dump(const listener& l)
{
    std::ostringstream out;
    out << "listener " << l.name << " bind=" << to_string(l.bind);
    if (l.role) out << " role=" << to_string(*l.role);
    if (!l.servers.empty()) {
        out << " servers=";
        for (std::size_t i = 0; i < l.servers.size(); ++i) out << (i ? "," : "") << l.servers[i];
    }
    out << " balance=" << to_string(l.balance) << " maxconn=" << l.max_connections
        << " queue=" << ms(l.queue_timeout);
    if (l.max_lag) out << " max_lag=" << *l.max_lag;
    for (const auto& [k, v] : l.tags) out << " tag:" << k << "=" << v;
    if (l.standby_leader) out << " standby_leader";
    if (l.shutdown_backup_sessions) out << " shutdown_backup_sessions";
    if (l.fallback_to_primary) out << " fallback_to_primary";
    out << " on_lag=" << to_string(l.on_lag) << " tls=" << to_string(l.tls) << "/" << to_string(l.client_tls) << "/"
        << to_string(l.server_tls) << " tls_options=" << dump(l.tls_options) << "\n";
    for (const auto& [name, o] : l.member_settings) out << "  " << name << ": " << dump(o) << "\n";
    return out.str();
}

/// Every field of a config, one thing per line.
inline std::string dump(const config& c)
{
    std::ostringstream out;
    out << "scope=" << c.scope << " discover=" << (c.discover ? "yes" : "no")
        << " resolve_interval=" << (c.resolve_interval ? ms(*c.resolve_interval) : "-")
        << " api_auth=" << (c.api_auth ? c.api_auth->user : "-") << " workers=" << c.workers
        << " retries=" << c.retries << " max_connections=" << c.max_connections
        << " max_message=" << c.limits.max_message << "\n";
    for (const auto& m : c.members)
        out << "member " << m.name << " " << m.host << ":" << m.port << " api=" << m.api << " weight=" << m.weight << "\n";
    out << "tls " << dump(c.tls) << "\n";
    const auto& h = c.health;
    out << "health interval=" << ms(h.interval) << " fast=" << ms(h.fast_interval) << " timeout=" << ms(h.timeout)
        << " fall=" << h.fall << " rise=" << h.rise << " sql_check=" << (h.sql_check ? h.sql_check->user : "-") << "\n";
    const auto& t = c.timeouts;
    out << "timeouts connect=" << ms(t.connect) << " startup=" << ms(t.startup) << " client_idle=" << ms(t.client_idle)
        << " server_idle=" << ms(t.server_idle) << "\n";
    for (const auto& l : c.listeners) out << dump(l);
    if (c.stats) {
        const auto& s = *c.stats;
        out << "stats bind=" << to_string(s.bind) << " uri=" << s.uri << " refresh=" << ms(s.refresh)
            << " auth=" << (s.auth ? s.auth->user + ":" + s.auth->password : "-") << " realm=" << s.realm
            << " admin=" << (s.admin ? (*s.admin ? "yes" : "no") : "-") << " hide_version=" << (s.hide_version ? "yes" : "no")
            << " tls=" << (s.tls ? "yes" : "no") << " tls_options=" << dump(s.tls_options) << "\n";
    }
    if (c.admin_socket) {
        const auto& a = *c.admin_socket;
        out << "admin_socket " << a.path << " mode=" << (a.mode ? std::to_string(*a.mode) : "-") << " user=" << a.user
            << " group=" << a.group << " level=" << to_string(a.level) << " timeout=" << ms(a.timeout) << "\n";
    }
    return out.str();
}

/// The config of `r`, after checking that it has no errors.
inline const config& translated(const load_result& r)
{
    INFO("errors: " << Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.errors.empty());
    REQUIRE(r.value);
    return *r.value;
}

/// The one error of `text`, as "path: message".
inline std::string only_haproxy_error(const std::string& text, const haproxy::env_lookup& env = fixed_env())
{
    const auto r = read_cfg(text, env);
    INFO("config:\n" << text);
    INFO("errors: " << Catch::Detail::stringify(error_lines(r)));
    REQUIRE(r.errors.size() == 1);
    CHECK_FALSE(r.value);
    return to_string(r.errors.front());
}

} // namespace patroxy::config::test
