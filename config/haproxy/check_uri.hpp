// The listener role a Patroni health check selects: the method and URI an `option httpchk` or
// `http-check send` line sends, read with Patroni 3.0.2's own rules (do_GET() and
// parse_request() in patroni/api.py), so that patroxy routes to the members HAProxy would see UP.
#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patroxy::config::haproxy {

struct check_role {
    listener_role role = listener_role::primary;
    bool standby_leader = false; ///< /leader: the leader of a standby cluster passes too
    std::optional<std::uint64_t> max_lag;
    std::map<std::string, std::string> tags; ///< ?tag_<name>=<value> filters
    std::vector<std::string> notes;          ///< query parameters without effect, for warnings
};

struct check_role_result {
    std::optional<check_role> role;
    std::string error; ///< why patroxy cannot follow this check; set iff role is not
};

/// The role `method` `uri` selects. Patroni matches words inside the path, not whole paths, so
/// /primary, /master and /read-write (and "/" for /primary) give primary; /leader primary with
/// standby_leader; /standby-leader and /standby_leader standby-leader; /replica replica;
/// /read-only read-only; /health any; /sync, /synchronous, /async and /asynchronous sync and
/// async. `lag` applies where Patroni applies it (replica, read-only, sync, async) and
/// `tag_<name>` wherever Patroni does not ignore tags. Errors: a method Patroni does not answer,
/// an endpoint that is not a role (GET /patroni, /cluster, …), /read-only-sync (no patroxy role),
/// a path every member answers 503 to, a negative lag.
[[nodiscard]] check_role_result role_for_check(std::string_view method, std::string_view uri);

} // namespace patroxy::config::haproxy
