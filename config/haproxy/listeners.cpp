// A frontend and its backend into listeners: the role from the check URI, the servers into
// members (with their Patroni API from `check port`), per-listener member settings, and the values
// offered to the settings patroxy has once (shared_settings).
#include "config/haproxy/check_uri.hpp"
#include "config/haproxy/translation.hpp"

#include <algorithm>
#include <set>

namespace patroxy::config::haproxy {
namespace {

/// Offers a timeout to `into`; HAProxy's 0 means "never", which patroxy does not have.
void offer_timeout(one_value<duration>& into, const std::optional<located<duration>>& t, const std::string& name,
                   const std::string& kept, report& r)
{
    if (!t) return;
    if (t->value.count() == 0) r.warn(t->line, name + " 0 (no timeout in HAProxy) is not used: patroxy keeps " + kept);
    else into.offer(*t);
}

/// The role the backend's check selects; nullopt (with the error reported) when it has none.
std::optional<check_role> role_of(const proxy& back, report& r)
{
    const auto& c = back.settings.check;
    auto result = role_for_check(c.effective_method(), c.effective_uri());
    if (!result.role) {
        r.error(c.request_line(), result.error);
        return std::nullopt;
    }
    for (const auto& note : result.role->notes) r.warn(c.request_line(), note);
    return result.role;
}

/// The check leg's TLS options of one server of a role section.
void read_api_tls(const server_options& o, translation& t)
{
    const bool tls = o.check_ssl && o.check_ssl->value;
    if (!tls) {
        for (const auto* f : {&o.ca_file, &o.crt, &o.verify})
            if (*f) t.r.warn((*f)->line, "'" + (*f)->value + "' has no effect without check-ssl (the check is plain HTTP)");
        return;
    }
    t.shared.api_ca.offer(o.ca_file);
    t.shared.api_cert.offer(o.crt);
    if (o.verify && o.verify->value == "none")
        t.r.warn(o.verify->line, "verify none is not honoured: patroxy verifies the Patroni API's certificate against "
                                 "ca-file, or the system's trust store");
}

/// Builds the parts of one listener that come from the backend's servers.
class server_reader {
public:
    server_reader(const proxy& back, bool by_role, listener& l, translation& t)
        : back_(back), by_role_(by_role), l_(l), t_(t)
    {
        for (const auto& s : back.servers) any_weight_ = any_weight_ || s.options.weight.has_value();
    }

    void read(const server_line& s);
    void finish();

private:
    void read_role_check(const server_line& s, const std::string& member);
    void read_member_options(const server_line& s, const std::string& member);

    const proxy& back_;
    bool by_role_;
    listener& l_;
    translation& t_;
    bool any_weight_ = false;
    std::set<std::string> seen_;
    std::vector<std::string> listed_;
    std::vector<std::string> without_shutdown_;
    std::vector<std::string> tcp_checked_;
    unsigned first_tcp_checked_line_ = 0;
    unsigned backup_shutdown_ = 0; ///< non-backup servers with on-marked-up shutdown-backup-sessions
    unsigned non_backup_ = 0;
};

void server_reader::read_role_check(const server_line& s, const std::string& member)
{
    const auto& o = s.options;
    auto& r = t_.r;
    if (!o.check || !o.check->value) {
        r.error(s.line, "server " + s.name + " has no 'check' in a section that routes by Patroni role: HAProxy would "
                        "send it sessions whatever its role; add 'check port <its Patroni REST API port>'");
        return;
    }
    if (!o.port) {
        r.error(s.line, "server " + s.name + ": 'check' without 'port' checks PostgreSQL's own port; patroxy needs the "
                        "port of the member's Patroni REST API ('check port 8008')");
        return;
    }
    const bool tls = o.check_ssl && o.check_ssl->value;
    const auto host = o.addr ? o.addr->value : s.address.host;
    t_.members.set_api(member, std::string(tls ? "https://" : "http://") + url_host(host) + ":" +
                                   std::to_string(o.port->value), s.line, r);
    t_.shared.interval.offer(o.inter);
    t_.shared.fast_interval.offer(o.fastinter);
    t_.shared.fall.offer(o.fall);
    t_.shared.rise.offer(o.rise);
    read_api_tls(o, t_);
    if (!o.shutdown_sessions) without_shutdown_.push_back(s.name);
}

void server_reader::read_member_options(const server_line& s, const std::string& member)
{
    const auto& o = s.options;
    member_options mo;
    mo.backup = o.backup && o.backup->value;
    mo.disabled = o.disabled && o.disabled->value;
    if (o.maxconn) mo.max_connections = o.maxconn->value;
    // HAProxy's weights are relative with a default of 1; patroxy's default is 100. Once one
    // server of the section has a weight, every server gets its HAProxy weight so the shares stay.
    if (any_weight_) mo.weight = o.weight ? o.weight->value : 1u;
    if (mo != member_options{}) l_.member_settings[member] = mo;
    if (!mo.backup) {
        ++non_backup_;
        if (o.shutdown_backup_sessions) ++backup_shutdown_;
    }
    if (o.resolvers) {
        const auto it = t_.resolvers.find(o.resolvers->value);
        if (it == t_.resolvers.end()) t_.r.error(o.resolvers->line, "no resolvers section named '" + o.resolvers->value + "'");
        else t_.shared.resolve.offer(it->second.hold_valid);
    }
}

void server_reader::read(const server_line& s)
{
    const auto member = t_.members.add(s.name, s.address, s.line, t_.r);
    if (!seen_.insert(member).second) {
        t_.r.error(s.line, "server " + s.name + " is the member '" + member + "' a second time in this section (same address)");
        return;
    }
    const auto& o = s.options;
    if (o.ssl && o.ssl->value)
        t_.r.error(o.ssl->line, "server option 'ssl' is not supported: HAProxy would open TLS straight to PostgreSQL; "
                                "patroxy's TLS towards the servers is a listener's server_tls in the native config");
    if (by_role_) {
        read_role_check(s, member);
        listed_.push_back(member);
    } else {
        l_.servers.push_back(member);
        if (o.check && o.check->value) {
            if (tcp_checked_.empty()) first_tcp_checked_line_ = s.line;
            tcp_checked_.push_back(s.name);
        }
    }
    read_member_options(s, member);
}

void server_reader::finish()
{
    auto& r = t_.r;
    const auto& sec = *back_.sec;
    if (!without_shutdown_.empty())
        r.warn(sec.line, "server" + std::string(without_shutdown_.size() > 1 ? "s " : " ") + comma_list(without_shutdown_) +
                             " without 'on-marked-down shutdown-sessions': HAProxy keeps their sessions when it marks "
                             "them down; patroxy closes the sessions of a member that is marked down or leaves the role");
    if (!tcp_checked_.empty()) {
        const auto how = back_.settings.check.kind == check_kind::other ? "option " + back_.settings.check.other_name
                                                                        : std::string("a TCP connect");
        r.warn(first_tcp_checked_line_, "'check' (" + how + ") has no effect on " + comma_list(tcp_checked_) +
                                            ": patroxy checks members through Patroni only, so a static server takes "
                                            "sessions unless a role section's check marks its member down");
    }
    l_.shutdown_backup_sessions = backup_shutdown_ > 0;
    if (backup_shutdown_ > 0 && backup_shutdown_ < non_backup_)
        r.warn(sec.line, "on-marked-up shutdown-backup-sessions is set on some servers only: patroxy applies it to the "
                         "whole listener");
    if (by_role_) t_.role_listings.push_back({sec.name, sec.line, listed_});
}

/// The listener settings that come from the sections rather than from the servers.
void read_listener_settings(const proxy& front, const proxy& back, listener& l, translation& t)
{
    if (back.settings.balance) l.balance = back.settings.balance->value;
    if (front.settings.maxconn && front.settings.maxconn->value > 0) l.max_connections = front.settings.maxconn->value;
    if (const auto& q = back.settings.timeout_queue) {
        if (q->value.count() == 0)
            t.r.warn(q->line, "timeout queue 0 (wait without limit in HAProxy) is not used: patroxy keeps " + time_text(l.queue_timeout));
        else l.queue_timeout = q->value;
    }
    const timeouts defaults;
    offer_timeout(t.shared.connect, back.settings.timeout_connect, "timeout connect", time_text(defaults.connect), t.r);
    offer_timeout(t.shared.client, front.settings.timeout_client, "timeout client", time_text(defaults.client_idle), t.r);
    offer_timeout(t.shared.server, back.settings.timeout_server, "timeout server", time_text(defaults.server_idle), t.r);
    t.shared.retries.offer(back.settings.retries);
}

} // namespace

void add_listeners(const proxy& front, const proxy& back, translation& t)
{
    auto& r = t.r;
    for (const proxy* p : {&front, &back}) {
        const auto& mode = p->settings.mode;
        if (mode && mode->value == "http")
            r.error(mode->line, "mode http outside the stats section: patroxy relays PostgreSQL (mode tcp); only a section "
                                "with 'stats enable' may be mode http");
    }
    if (const auto& stats = front.settings.stats.enabled)
        r.warn(*stats, "stats lines have no effect in a mode tcp section: the stats page is a mode http section with "
                       "'stats enable'");
    // patroxy has one log.sessions switch: on when any listener's frontend asks for tcplog.
    if (front.settings.tcplog && front.settings.tcplog->value) t.out.log.sessions = true;
    listener l;
    const bool by_role = back.settings.check.kind == check_kind::http;
    if (by_role) {
        if (auto role = role_of(back, r)) {
            l.role = role->role;
            l.standby_leader = role->standby_leader;
            l.max_lag = role->max_lag;
            l.tags = role->tags;
        }
        offer_timeout(t.shared.check_timeout, back.settings.timeout_check, "timeout check",
                      time_text(health_settings{}.timeout), r);
    }
    const bool has_server_lines = std::any_of(back.sec->directives.begin(), back.sec->directives.end(),
                                              [](const directive& d) { return d.words[0] == "server"; });
    if (!has_server_lines)
        r.error(back.sec->line, "section " + back.sec->name + " has no server: its listeners would route nowhere");
    server_reader servers(back, by_role, l, t);
    for (const auto& s : back.servers) servers.read(s);
    servers.finish();
    read_listener_settings(front, back, l, t);
    for (std::size_t i = 0; i < front.binds.size(); ++i) {
        listener each = l;
        each.name = front.sec->name + (i == 0 ? "" : "-" + std::to_string(i + 1));
        each.bind = front.binds[i].value;
        const auto [taken, added] = t.listener_lines.emplace(each.name, front.binds[i].line);
        if (!added) {
            r.error(front.binds[i].line, "listener name '" + each.name + "' is taken by the listener bound at " +
                                             r.where(taken->second) + " (a section's listeners are named after it, then "
                                             "<section>-2, -3, … for further bind addresses)");
            continue;
        }
        t.out.listeners.push_back(std::move(each));
    }
}

} // namespace patroxy::config::haproxy
