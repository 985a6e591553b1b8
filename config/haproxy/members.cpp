// Servers folded into members by address; see members.hpp.
#include "config/haproxy/members.hpp"

#include <algorithm>
#include <cctype>

namespace patroxy::config::haproxy {
namespace {

bool same_text_without_case(const std::string& a, const std::string& b)
{
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
    });
}

/// Host names compare without case (DNS does); addresses are compared as written.
bool same_address(const endpoint& a, const endpoint& b)
{
    return a.port == b.port && same_text_without_case(a.host, b.host);
}

} // namespace

member_table::entry* member_table::find_by_name(const std::string& name)
{
    const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.m.name == name; });
    return it == entries_.end() ? nullptr : &*it;
}

std::string member_table::add(const std::string& server_name, const endpoint& address, unsigned line, report& r)
{
    for (const auto& e : entries_) {
        if (!same_address(endpoint{e.m.host, e.m.port}, address)) continue;
        if (e.m.name != server_name)
            r.warn(line, "server " + server_name + " is the member '" + e.m.name + "' (same address " + to_string(address) +
                             " as at " + r.where(e.line) + "): patroxy polls it once and names it '" + e.m.name +
                             "' in its stats and runtime commands");
        return e.m.name;
    }
    std::string name = server_name;
    if (const auto* taken = find_by_name(name)) {
        unsigned n = 2;
        while (find_by_name(server_name + "-" + std::to_string(n)) != nullptr) ++n;
        name = server_name + "-" + std::to_string(n);
        r.warn(line, "server name '" + server_name + "' is the member at " + to_string(endpoint{taken->m.host, taken->m.port}) +
                         " (" + r.where(taken->line) + "); this server at " + to_string(address) + " is the member '" + name + "'");
    }
    member m;
    m.name = name;
    m.host = address.host;
    m.port = address.port;
    entries_.push_back({std::move(m), line, 0});
    return name;
}

void member_table::set_api(const std::string& name, const std::string& url, unsigned line, report& r)
{
    auto* e = find_by_name(name);
    if (e == nullptr) return;
    if (e->m.api.empty()) {
        e->m.api = url;
        e->api_line = line;
    } else if (!same_text_without_case(e->m.api, url)) { // "PG1:8008" and "pg1:8008" are one API
        r.error(line, "member '" + name + "' is checked at " + url + " here but at " + e->m.api + " at " +
                          r.where(e->api_line) + ": one member has one Patroni REST API");
    }
}

std::vector<std::string> member_table::polled() const
{
    std::vector<std::string> out;
    for (const auto& e : entries_)
        if (!e.m.api.empty()) out.push_back(e.m.name);
    return out;
}

std::vector<member> member_table::take()
{
    std::vector<member> out;
    for (auto& e : entries_) out.push_back(std::move(e.m));
    entries_.clear();
    return out;
}

} // namespace patroxy::config::haproxy
