// The state of one haproxy.cfg's translation into a config, shared by the steps that build the
// listeners (listeners.cpp), the stats page (stats_page.cpp) and the whole (translate.cpp).
#pragma once

#include "config/config.hpp"
#include "config/haproxy/global_section.hpp"
#include "config/haproxy/members.hpp"
#include "config/haproxy/one_value.hpp"
#include "config/haproxy/proxy.hpp"
#include "config/haproxy/report.hpp"
#include "config/haproxy/userlist.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace patroxy::config::haproxy {

/// The settings patroxy has once, with the rule that picks one of the values sections give:
/// check cadence and thresholds the smallest (patroxy polls each member once, so the most
/// watchful section decides), timeouts and retries the largest (no session is cut or refused
/// earlier than HAProxy would have).
struct shared_settings {
    static constexpr const char* polled_once = "patroxy polls each member once for all listeners";
    static constexpr const char* one_timeout = "patroxy has one such timeout for all listeners";

    one_value<duration> interval{"inter", polled_once};
    one_value<duration> fast_interval{"fastinter", polled_once};
    one_value<unsigned> fall{"fall", polled_once};
    one_value<unsigned> rise{"rise", polled_once};
    one_value<duration> check_timeout{"timeout check", polled_once};
    one_value<duration> connect{"timeout connect", one_timeout};
    one_value<duration> client{"timeout client", one_timeout};
    one_value<duration> server{"timeout server", one_timeout};
    one_value<unsigned> retries{"retries", "patroxy has one retry count for all listeners"};
    one_value<duration> resolve{"hold valid", "patroxy resolves every member's host name on one schedule"};
    one_value<std::string> api_ca{"ca-file", "patroxy checks every Patroni API against one CA file"};
    one_value<std::string> api_cert{"crt", "patroxy presents one client certificate to every Patroni API"};
};

/// The members a listener that routes by role lists, to compare with every member polled.
struct role_listing {
    std::string section;
    unsigned line = 0;
    std::vector<std::string> members;
};

struct translation {
    explicit translation(report& rep) : r(rep) {}

    report& r;
    config out;
    member_table members;
    shared_settings shared;
    std::map<std::string, resolvers_settings> resolvers;
    userlists users; ///< userlist sections by name
    std::vector<role_listing> role_listings;
    std::map<std::string, unsigned> listener_lines; ///< listener name -> its bind line
    unsigned stats_line = 0;                        ///< the stats page's bind line
};

/// "a, b, c"
[[nodiscard]] inline std::string comma_list(const std::vector<std::string>& names)
{
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

/// The listeners of frontend part `front` routing to backend part `back` (the same section for
/// a listen): one per bind address, named after the section, then "<section>-2", "-3", ….
void add_listeners(const proxy& front, const proxy& back, translation& t);

/// The stats page from `p`, a `mode http` section with stats on.
void add_stats_page(const proxy& p, translation& t);

} // namespace patroxy::config::haproxy
