// A defaults, listen, frontend or backend section as patroxy reads it. A section starts from a
// copy of its defaults section's settings and each of its lines overrides them, as in HAProxy;
// every value keeps the line that set it, so messages can point at a defaults section.
#pragma once

#include "config/haproxy/report.hpp"
#include "config/haproxy/sections.hpp"
#include "config/haproxy/server_options.hpp"
#include "config/haproxy/tokenizer.hpp"
#include "config/haproxy/values.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace patroxy::config::haproxy {

/// How the section's servers are checked.
enum class check_kind {
    none,  ///< no check option: `check` on a server is a TCP connect
    http,  ///< option httpchk: the URI selects a Patroni role
    other, ///< option tcp-check, pgsql-check, …: no role, a static server list
};

struct check_settings {
    check_kind kind = check_kind::none;
    unsigned line = 0;          ///< of the line that chose the kind
    std::string other_name;     ///< the option for check_kind::other ("tcp-check", "pgsql-check")
    std::string method = "OPTIONS"; ///< HAProxy's default check request is "OPTIONS / HTTP/1.0"
    std::string uri = "/";
    /// `http-check send meth … uri …` overrides what `option httpchk` says.
    std::optional<located<std::string>> send_method;
    std::optional<located<std::string>> send_uri;

    [[nodiscard]] const std::string& effective_method() const { return send_method ? send_method->value : method; }
    [[nodiscard]] const std::string& effective_uri() const { return send_uri ? send_uri->value : uri; }
    /// The line to point at for the request: the send line when it decides, else the option's.
    [[nodiscard]] unsigned request_line() const
    {
        return send_uri ? send_uri->line : send_method ? send_method->line : line;
    }
};

/// The `stats …` lines of a section (patroxy's stats listener when the section is `mode http`).
struct stats_directives {
    std::optional<unsigned> enabled; ///< the first line that turns the page on (any stats keyword does)
    std::optional<located<std::string>> uri;
    std::optional<located<duration>> refresh;
    std::optional<located<stats_auth>> auth;
    std::optional<located<std::string>> realm;
    std::optional<located<bool>> admin;
    std::optional<located<bool>> hide_version;
    /// `stats http-request auth [realm R] unless { http_auth(LIST) }` (or `unless ACL`, an acl
    /// of this section testing http_auth(LIST)): the userlist or the acl named, and the realm.
    std::optional<located<std::string>> auth_userlist;
    std::optional<located<std::string>> auth_acl;
    std::optional<located<std::string>> auth_realm;
};

/// What a section sets that a defaults section can set for it.
struct proxy_settings {
    std::optional<located<std::string>> mode; ///< "tcp" or "http"
    std::optional<located<balance_mode>> balance;
    std::optional<located<std::uint32_t>> maxconn;
    std::optional<located<unsigned>> retries;
    std::optional<located<duration>> timeout_connect;
    std::optional<located<duration>> timeout_client;
    std::optional<located<duration>> timeout_server;
    std::optional<located<duration>> timeout_check;
    std::optional<located<duration>> timeout_queue;
    check_settings check;
    server_options default_server;
    /// Not carried from a defaults section: a stats page belongs to the section that serves it.
    stats_directives stats;
    std::optional<located<std::string>> default_backend; ///< a defaults section may set it too
    /// `option tcplog` (false: `no option tcplog`): a listener from the section logs its sessions.
    std::optional<located<bool>> tcplog;
};

/// One `server` line with its effective options (defaults' and section's default-server merged).
struct server_line {
    std::string name;
    endpoint address;
    server_options options;
    unsigned line = 0;
};

/// A listen, frontend or backend section (or a defaults section, which has only `settings`).
struct proxy {
    const section* sec = nullptr;
    proxy_settings settings;
    std::vector<located<endpoint>> binds;
    std::vector<server_line> servers;
    /// The first `use_backend` (without a condition, the only kind patroxy reads): it always wins
    /// over default_backend.
    std::optional<located<std::string>> use_backend;
    std::optional<unsigned> disabled; ///< the line of `disabled`: the section does not run
    /// `acl NAME http_auth(LIST)` lines, the only acls patroxy reads: NAME -> LIST.
    std::map<std::string, located<std::string>> http_auth_acls;
};

/// Applies one line of a defaults, listen, frontend or backend section to `p`. Lines that change
/// nothing for patroxy are warnings; lines it cannot honour (ACL conditions, other check
/// expectations, access rules, unknown keywords) are errors.
void apply_proxy_directive(const directive& d, proxy& p, const env_lookup& env, report& r);

// The families of keywords, each in its own file. Each returns false when words[0] is not its
// keyword. `negated`: the line started with "no" (which the words no longer hold).
/// option … (option_directives.cpp)
bool apply_option_directive(const std::vector<std::string>& words, bool negated, unsigned line, proxy& p, report& r);
/// http-check …, tcp-check … (check_directives.cpp)
bool apply_check_directive(const std::vector<std::string>& words, unsigned line, proxy& p, report& r);
/// stats … (stats_directives.cpp)
bool apply_stats_directive(const std::vector<std::string>& words, unsigned line, proxy& p, report& r);

/// Whether a section of `kind` may hold a keyword usable in `mask` (HAProxy's "may be used in
/// sections" column), as bits of section_bit().
enum section_bits : unsigned { in_defaults = 1, in_frontend = 2, in_listen = 4, in_backend = 8 };
[[nodiscard]] unsigned section_bit(section_kind kind) noexcept;

} // namespace patroxy::config::haproxy
