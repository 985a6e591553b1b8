// `disabled` members: which admin states a listener's config asks for, at start and across
// reloads, and applying them once a snapshot knows the member.
#include "proxy/routing/disabled_members.hpp"

#include "proxy/stats/stats_view.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace patroxy;
using proxy::apply_disabled;
using proxy::disabled_changes;

namespace {

config::listener with_disabled(std::map<std::string, bool> members)
{
    config::listener l;
    for (const auto& [name, disabled] : members) l.member_settings[name].disabled = disabled;
    return l;
}

} // namespace

TEST_CASE("a new listener starts its disabled members in maint", "[proxy][disabled]")
{
    const auto l = with_disabled({{"node1", false}, {"node2", true}});
    CHECK(disabled_changes(nullptr, l) == std::map<std::string, bool>{{"node2", true}});
    CHECK(disabled_changes(nullptr, config::listener{}).empty());
}

TEST_CASE("a reload changes a member's admin state only when its disabled setting changed", "[proxy][disabled]")
{
    const auto before = with_disabled({{"node1", true}, {"node2", false}});
    // Unchanged: an operator who enabled node1 through the stats page keeps it enabled.
    CHECK(disabled_changes(&before, before).empty());
    // node1 no longer disabled: ready; node3 newly disabled: maint; node2 dropped from the settings
    // (it was not disabled): nothing.
    const auto after = with_disabled({{"node1", false}, {"node3", true}});
    CHECK(disabled_changes(&before, after) == std::map<std::string, bool>{{"node1", false}, {"node3", true}});
    // A member whose disabled entry disappeared is enabled.
    CHECK(disabled_changes(&before, config::listener{}) == std::map<std::string, bool>{{"node1", false}});
}

TEST_CASE("pending states apply by snapshot index, and wait for members the snapshot does not know yet",
          "[proxy][disabled]")
{
    health::cluster_snapshot s;
    for (const char* name : {"node1", "node2"}) s.members.push_back({name, "127.0.0.1", 5432, {}});
    proxy::member_admin_states admin{};
    admin[0] = 1; // drain, set by an operator
    std::map<std::string, bool> pending{{"node2", true}, {"node3", true}};
    CHECK_FALSE(apply_disabled(pending, s, admin));
    CHECK(admin[0] == 1);
    CHECK(admin[1] == static_cast<std::uint8_t>(proxy::stats::admin_state::maint));
    CHECK(pending == std::map<std::string, bool>{{"node3", true}});

    s.members.push_back({"node3", "127.0.0.1", 5432, {}}); // discovered later
    pending["node1"] = false;
    CHECK(apply_disabled(pending, s, admin)); // node1 made ready: queued clients may look again
    CHECK(admin[0] == 0);
    CHECK(admin[2] == static_cast<std::uint8_t>(proxy::stats::admin_state::maint));
    CHECK(pending.empty());
}
