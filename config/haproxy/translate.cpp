// haproxy.cfg sections into a config; see translate.hpp. Three passes: read every section (a
// section's defaults are the ones before it, as in HAProxy), join frontends to backends into
// listeners, then settle what patroxy has once and check the whole.
#include "config/haproxy/translate.hpp"

#include "config/haproxy/translation.hpp"
#include "config/tls_reader.hpp"

#include <algorithm>
#include <deque>

namespace patroxy::config::haproxy {
namespace {

using duration_choice = one_value<duration>;

class translator {
public:
    translator(const env_lookup& env, report& r) : env_(env), t_(r)
    {
        // HAProxy logs no session lines without `option tcplog`; a drop-in keeps it that way.
        t_.out.log.sessions = false;
    }

    config run(const std::vector<section>& sections)
    {
        for (const auto& s : sections) read(s);
        check_names();
        route();
        check_role_listings();
        settle_shared();
        settle_global();
        check_whole();
        return std::move(t_.out);
    }

private:
    void read(const section& s);
    const proxy_settings* defaults_for(const section& s);
    void read_proxy(const section& s, std::deque<proxy>& into);
    void check_names();
    const proxy* find_backend(const std::string& name) const;
    void route();
    void route_frontend(const proxy& p, std::vector<const proxy*>& used);
    void check_role_listings();
    void settle_health();
    void settle_shared();
    void settle_global();
    void check_whole();

    const env_lookup& env_;
    translation t_;
    global_settings global_;
    std::deque<proxy> defaults_; ///< a deque: sections point at their defaults' settings
    const proxy* last_defaults_ = nullptr;
    std::deque<proxy> proxies_; ///< listen, frontend and backend sections in file order
    std::vector<const proxy*> duplicates_; ///< sections whose name is taken: reported, not routed
};

void translator::read(const section& s)
{
    if (!s.header_ok) return;
    switch (s.kind) {
    case section_kind::global: read_global(s, global_, env_, t_.r); break;
    case section_kind::defaults:
        read_proxy(s, defaults_);
        last_defaults_ = &defaults_.back(); // named or not, the latest one is the implicit one
        break;
    case section_kind::listen:
    case section_kind::frontend:
    case section_kind::backend: read_proxy(s, proxies_); break;
    case section_kind::resolvers: read_resolvers(s, t_.resolvers, t_.r); break;
    case section_kind::userlist: read_userlist(s, t_.users, t_.r); break;
    case section_kind::other: t_.r.warn(s.line, "the " + s.keyword + " section has no effect on patroxy"); break;
    }
}

const proxy_settings* translator::defaults_for(const section& s)
{
    if (!s.from.empty()) {
        for (auto it = defaults_.rbegin(); it != defaults_.rend(); ++it)
            if (it->sec->name == s.from) return &it->settings;
        t_.r.error(s.line, "no defaults section named '" + s.from + "' before this section");
        return nullptr;
    }
    // A defaults section without "from" starts from HAProxy's documented defaults.
    if (s.kind == section_kind::defaults || last_defaults_ == nullptr) return nullptr;
    return &last_defaults_->settings;
}

void translator::read_proxy(const section& s, std::deque<proxy>& into)
{
    proxy p;
    p.sec = &s;
    if (const auto* base = defaults_for(s)) p.settings = *base;
    p.settings.stats = {};
    for (const auto& d : s.directives) apply_proxy_directive(d, p, env_, t_.r);
    if (s.kind == section_kind::defaults && p.settings.stats.enabled)
        t_.r.warn(*p.settings.stats.enabled, "stats lines in a defaults section are not carried into other sections "
                                             "by patroxy: write them in the stats section");
    into.push_back(std::move(p));
}

void translator::check_names()
{
    for (auto a = proxies_.begin(); a != proxies_.end(); ++a) {
        for (auto b = proxies_.begin(); b != a; ++b) {
            const auto ka = a->sec->kind;
            const auto kb = b->sec->kind;
            // A frontend and a backend may share a name (HAProxy allows it); any other pair may not.
            if (a->sec->name == b->sec->name && (ka == kb || ka == section_kind::listen || kb == section_kind::listen)) {
                t_.r.error(a->sec->line, "a " + b->sec->keyword + " section named '" + b->sec->name + "' is already at " +
                                             t_.r.where(b->sec->line));
                duplicates_.push_back(&*a); // not routed: its listeners would only repeat the error
                break;
            }
        }
    }
}

const proxy* translator::find_backend(const std::string& name) const
{
    for (const auto& p : proxies_)
        if (p.sec->name == name && (p.sec->kind == section_kind::backend || p.sec->kind == section_kind::listen)) return &p;
    return nullptr;
}

void translator::route_frontend(const proxy& p, std::vector<const proxy*>& used)
{
    auto& r = t_.r;
    const auto& choice = p.use_backend ? p.use_backend : p.settings.default_backend;
    const proxy* back = nullptr;
    if (choice) {
        back = find_backend(choice->value);
        if (back == nullptr) r.error(choice->line, "no backend named '" + choice->value + "'");
        else if (back->disabled) r.error(choice->line, "backend '" + choice->value + "' is disabled at " + r.where(*back->disabled));
        if (back != nullptr && p.sec->kind == section_kind::listen && !p.servers.empty())
            r.warn(p.servers.front().line, "the servers of listen " + p.sec->name + " take no traffic: " +
                                               (p.use_backend ? "use_backend" : "default_backend") + " sends it all to " +
                                               choice->value);
    } else if (p.sec->kind == section_kind::listen) {
        back = &p;
    } else if (!p.binds.empty()) {
        r.error(p.sec->line, "frontend " + p.sec->name + " has no default_backend: it would route nowhere");
    }
    if (back == nullptr || back->disabled) return;
    if (p.binds.empty()) {
        if (p.sec->kind == section_kind::frontend) r.warn(p.sec->line, "frontend " + p.sec->name + " has no bind: it opens no listener");
        return; // a listen without bind serves only as a backend
    }
    used.push_back(back);
    add_listeners(p, *back, t_);
}

void translator::route()
{
    std::vector<const proxy*> used;
    for (const auto& p : proxies_) {
        if (p.sec->kind == section_kind::backend) continue;
        if (std::find(duplicates_.begin(), duplicates_.end(), &p) != duplicates_.end()) continue;
        if (p.disabled) {
            t_.r.warn(*p.disabled, p.sec->keyword + " " + p.sec->name + " is disabled: it opens no listener");
            continue;
        }
        const bool http = p.settings.mode && p.settings.mode->value == "http";
        if (http && p.settings.stats.enabled) add_stats_page(p, t_);
        else route_frontend(p, used);
    }
    for (const auto& p : proxies_) {
        const bool backend_only = p.sec->kind == section_kind::backend || (p.sec->kind == section_kind::listen && p.binds.empty());
        const bool duplicate = std::find(duplicates_.begin(), duplicates_.end(), &p) != duplicates_.end();
        if (backend_only && !p.disabled && !duplicate && std::find(used.begin(), used.end(), &p) == used.end())
            t_.r.warn(p.sec->line, p.sec->keyword + " " + p.sec->name + " is used by no frontend: its servers take no traffic");
    }
}

void translator::check_role_listings()
{
    const auto polled = t_.members.polled();
    for (const auto& l : t_.role_listings) {
        std::vector<std::string> missing;
        for (const auto& m : polled)
            if (std::find(l.members.begin(), l.members.end(), m) == l.members.end()) missing.push_back(m);
        if (!missing.empty())
            t_.r.error(l.line, "section " + l.section + " routes by Patroni role but does not list " + comma_list(missing) +
                                   ": patroxy routes such a listener among every member it polls, so " +
                                   (missing.size() > 1 ? "they" : "it") +
                                   " would take its sessions when the role fits; list every member in each section "
                                   "checked with option httpchk");
    }
}

void translator::settle_health()
{
    auto& r = t_.r;
    auto& h = t_.out.health;
    using rule = duration_choice::rule;
    if (auto v = t_.shared.interval.choose(r, rule::smallest, time_text)) h.interval = v->value;
    if (auto v = t_.shared.fast_interval.choose(r, rule::smallest, time_text)) {
        h.fast_interval = v->value;
        if (v->value > h.interval)
            r.warn(v->line, "fastinter " + time_text(v->value) + " is longer than inter " + time_text(h.interval) +
                                ": patroxy polls fast at the inter interval instead");
    }
    h.fast_interval = std::min(h.fast_interval, h.interval); // patroxy's default 100ms, or what was given
    auto count_text = [](const unsigned& n) { return std::to_string(n); };
    if (auto v = t_.shared.fall.choose(r, one_value<unsigned>::rule::smallest, count_text)) h.fall = v->value;
    if (auto v = t_.shared.rise.choose(r, one_value<unsigned>::rule::smallest, count_text)) h.rise = v->value;
    if (auto v = t_.shared.check_timeout.choose(r, rule::largest, time_text)) h.timeout = v->value;
}

void translator::settle_shared()
{
    auto& r = t_.r;
    auto& c = t_.out;
    using rule = duration_choice::rule;
    settle_health();
    if (auto v = t_.shared.connect.choose(r, rule::largest, time_text)) c.timeouts.connect = v->value;
    if (auto v = t_.shared.client.choose(r, rule::largest, time_text)) c.timeouts.client_idle = v->value;
    if (auto v = t_.shared.server.choose(r, rule::largest, time_text)) c.timeouts.server_idle = v->value;
    auto count_text = [](const unsigned& n) { return std::to_string(n); };
    if (auto v = t_.shared.retries.choose(r, one_value<unsigned>::rule::largest, count_text)) c.retries = v->value;
    if (auto v = t_.shared.resolve.choose(r, rule::smallest, time_text)) c.resolve_interval = v->value;
    auto quoted = [](const std::string& s) { return "'" + s + "'"; };
    if (auto v = t_.shared.api_ca.choose(r, one_value<std::string>::rule::first, quoted)) c.tls.api_ca = v->value;
    if (auto v = t_.shared.api_cert.choose(r, one_value<std::string>::rule::first, quoted)) {
        c.tls.api_cert = v->value; // HAProxy's crt file holds the certificate and its key
        c.tls.api_key = v->value;
    }
    // A listener's and the stats page's copy of the tls object leave out the API's files, as the
    // JSON reader does, so a reload that changes only those replaces no listener.
    for (auto& l : c.listeners) {
        l.tls_options = c.tls;
        detail::drop_api_material(l.tls_options);
    }
    if (c.stats) {
        c.stats->tls_options = c.tls;
        detail::drop_api_material(c.stats->tls_options);
    }
}

void translator::settle_global()
{
    auto& c = t_.out;
    if (global_.maxconn) c.max_connections = global_.maxconn->value;
    if (global_.admin_socket) {
        c.admin_socket = global_.admin_socket->value;
        if (global_.stats_timeout) c.admin_socket->timeout = global_.stats_timeout->value;
    } else if (global_.stats_timeout) {
        t_.r.warn(global_.stats_timeout->line, "stats timeout has no effect without a stats socket");
    }
    c.members = t_.members.take();
}

void translator::check_whole()
{
    auto& r = t_.r;
    const auto& c = t_.out;
    if (c.listeners.empty() && !r.has_errors())
        r.error(0, "no listener: patroxy needs a listen (or frontend and backend) section with a bind and servers, "
                   "besides the stats page");
    struct use {
        std::string name;
        unsigned line;
    };
    std::map<std::string, use> binds;
    if (c.stats) binds.emplace(to_string(c.stats->bind), use{"the stats page", t_.stats_line});
    for (const auto& l : c.listeners) {
        const auto line = t_.listener_lines.at(l.name);
        const auto [first, added] = binds.emplace(to_string(l.bind), use{"listener " + l.name, line});
        if (!added)
            r.error(line, "bind address " + to_string(l.bind) + " is already used by " + first->second.name + " (" +
                              r.where(first->second.line) + ")");
    }
}

} // namespace

config translate(const std::vector<section>& sections, const env_lookup& env, report& r)
{
    return translator(env, r).run(sections);
}

} // namespace patroxy::config::haproxy
