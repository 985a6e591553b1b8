// The `mode http` section with stats on into patroxy's stats listener.
#include "config/haproxy/translation.hpp"

namespace patroxy::config::haproxy {
namespace {

/// stats.uri from `stats uri`: patroxy serves the page at a path, so a query is dropped (with a
/// warning); HAProxy's default "/haproxy?stats" becomes "/haproxy".
std::optional<std::string> page_path(const stats_directives& d, report& r)
{
    if (!d.uri) {
        r.warn(*d.enabled, "no stats uri: HAProxy serves its page at /haproxy?stats; patroxy serves it at /haproxy");
        return "/haproxy";
    }
    const auto& uri = d.uri->value;
    if (uri.empty() || uri.front() != '/' || uri.find_first_of("# ") != std::string::npos) {
        r.error(d.uri->line, "stats uri: expected a path starting with /, such as / or /stats, got '" + uri + "'");
        return std::nullopt;
    }
    const auto query = uri.find('?');
    if (query == std::string::npos) return uri;
    r.warn(d.uri->line, "stats uri " + uri + ": patroxy serves the page at " + uri.substr(0, query) +
                            " and does not match the query");
    return uri.substr(0, query);
}

/// The userlist that `stats http-request auth` names, directly or through an acl; null (with
/// the problem reported) when there is none by that name.
const std::vector<userlist_user>* auth_users(const proxy& p, const translation& t)
{
    const auto& d = p.settings.stats;
    auto& r = t.r;
    const located<std::string>* list = d.auth_userlist ? &*d.auth_userlist : nullptr;
    if (d.auth_acl) {
        const auto acl = p.http_auth_acls.find(d.auth_acl->value);
        if (acl == p.http_auth_acls.end()) {
            r.error(d.auth_acl->line, "no 'acl " + d.auth_acl->value + " http_auth(LIST)' in this section");
            return nullptr;
        }
        list = &acl->second;
    }
    if (list == nullptr) return nullptr;
    const auto users = t.users.find(list->value);
    if (users == t.users.end()) {
        r.error(list->line, "no userlist named '" + list->value + "'");
        return nullptr;
    }
    if (users->second.empty()) {
        r.error(list->line, "userlist " + list->value + " has no user patroxy can check");
        return nullptr;
    }
    return &users->second;
}

/// stats.auth from the userlist `stats http-request auth` names: its first user, as the one
/// stats user patroxy keeps (a later one is warned about, as a second `stats auth` is).
std::optional<stats_auth> userlist_auth(const proxy& p, const translation& t)
{
    const auto* users = auth_users(p, t);
    if (users == nullptr) return std::nullopt;
    const auto& first = users->front();
    for (std::size_t i = 1; i < users->size(); ++i)
        t.r.warn((*users)[i].line, "only one stats user is kept: '" + first.name + "' from " + t.r.where(first.line) +
                                       "; this one cannot log in");
    stats_auth auth;
    auth.user = first.name;
    auth.password = first.password;
    auth.password_hash = first.password_hash;
    return auth;
}

} // namespace

void add_stats_page(const proxy& p, translation& t)
{
    auto& r = t.r;
    if (t.out.stats) {
        r.error(p.sec->line, "a second stats section: patroxy serves one stats page, the one bound at " + r.where(t.stats_line));
        return;
    }
    if (p.binds.empty()) {
        r.error(p.sec->line, "the stats section " + p.sec->name + " has no bind");
        return;
    }
    if (p.binds.size() > 1)
        r.error(p.binds[1].line, "patroxy's stats page listens on one address; the first is " + to_string(p.binds[0].value));
    if (!p.servers.empty())
        r.warn(p.servers.front().line, "the servers of the stats section take no traffic: patroxy's stats listener serves "
                                       "only its page");
    const auto& d = p.settings.stats;
    stats_settings s;
    s.bind = p.binds[0].value;
    if (auto path = page_path(d, r)) s.uri = *path;
    if (d.refresh) s.refresh = d.refresh->value;
    if (d.auth) s.auth = d.auth->value;
    if (auto from_userlist = userlist_auth(p, t)) {
        if (d.auth) r.warn(d.auth->line, "stats auth is overridden by the userlist that stats http-request auth names");
        s.auth = std::move(from_userlist);
    }
    if (d.realm) s.realm = d.realm->value;
    if (d.auth_realm) s.realm = d.auth_realm->value;
    if (d.hide_version) s.hide_version = true;
    if (d.admin && !s.auth)
        r.error(d.admin->line, "stats admin needs stats auth: patroxy gives the admin forms only to an authenticated user");
    else if (d.admin) s.admin = true;
    t.stats_line = p.binds[0].line;
    t.out.stats = std::move(s);
}

} // namespace patroxy::config::haproxy
