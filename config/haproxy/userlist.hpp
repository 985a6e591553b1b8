// userlist sections: the users HAProxy's `stats http-request auth unless { http_auth(LIST) }`
// checks, which become the stats listener's auth.
#pragma once

#include "config/haproxy/report.hpp"
#include "config/haproxy/sections.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::config::haproxy {

/// `user NAME password HASH` (a crypt(3) hash) or `user NAME insecure-password PASSWORD`.
struct userlist_user {
    std::string name;
    std::string password;      ///< insecure-password; empty with a hash
    std::string password_hash; ///< password: a SHA-512 crypt hash, the only kind patroxy checks
    unsigned line = 0;
};

/// userlist sections by name, each with its users in file order.
using userlists = std::map<std::string, std::vector<userlist_user>>;

/// LIST of "http_auth(LIST)", the ACL fetch that checks a request's Basic auth against a userlist;
/// nullopt for any other word.
[[nodiscard]] std::optional<std::string> http_auth_argument(std::string_view word);

/// Reads one userlist section into `out`. A hash of another method than SHA-512 ($6$) is an
/// error (never echoed); `group` lines and `groups` options are warned about: patroxy's stats page
/// has one user and no groups.
void read_userlist(const section& s, userlists& out, report& r);

} // namespace patroxy::config::haproxy
