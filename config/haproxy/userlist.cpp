// userlist NAME / user NAME password HASH | insecure-password PW [groups …] / group NAME [users …]
#include "config/haproxy/userlist.hpp"

#include "config/secret_reader.hpp"

namespace patroxy::config::haproxy {
namespace {

void read_user(const std::vector<std::string>& w, unsigned line, std::vector<userlist_user>& users, report& r)
{
    // A user whose line is wrong is still listed (with no password): the error already fails the
    // file, and the stats section naming the list should not add a second one about it.
    if (w.size() < 4 || (w[2] != "password" && w[2] != "insecure-password")) {
        r.error(line, "expected 'user NAME password HASH' or 'user NAME insecure-password PASSWORD'");
        if (w.size() >= 2) users.push_back({w[1], "", "", line});
        return;
    }
    if (w.size() > 4)
        r.warn(line, "the options after the password have no effect: patroxy's stats page has one user and no groups");
    userlist_user u{w[1], "", "", line};
    if (w[2] == "insecure-password") {
        u.password = w[3];
    } else if (detail::is_sha512_crypt(w[3])) {
        u.password_hash = w[3];
    } else {
        // Whatever it is (another crypt method, a password by mistake), it is not shown.
        r.error(line, "user " + w[1] + ": patroxy checks SHA-512 crypt hashes only (\"$6$…\", from `openssl passwd "
                                       "-6` or `mkpasswd -m sha-512`), or use insecure-password");
    }
    users.push_back(std::move(u));
}

} // namespace

std::optional<std::string> http_auth_argument(std::string_view word)
{
    constexpr std::string_view fetch = "http_auth(";
    if (!word.starts_with(fetch) || !word.ends_with(')') || word.size() == fetch.size() + 1) return std::nullopt;
    return std::string(word.substr(fetch.size(), word.size() - fetch.size() - 1));
}

void read_userlist(const section& s, userlists& out, report& r)
{
    if (out.count(s.name)) r.error(s.line, "a userlist named '" + s.name + "' is already defined");
    auto& users = out[s.name];
    for (const auto& d : s.directives) {
        const auto& w = d.words;
        if (w[0] == "user") read_user(w, d.line, users, r);
        else if (w[0] == "group") r.warn(d.line, "'group' has no effect: patroxy's stats page has one user and no groups");
        else r.error(d.line, "unknown userlist keyword '" + w[0] + "'; expected user or group");
    }
}

} // namespace patroxy::config::haproxy
