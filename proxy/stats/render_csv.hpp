// GET /stats.csv: HAProxy's "show stat" CSV (management guide 9.1, HAProxy 2.6), so that tools
// written for HAProxy's stats keep working. Each listener reads as one HAProxy `listen`
// section: a FRONTEND row (type 0), one row per server (type 2), a BACKEND row (type 1).
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <cstddef>
#include <optional>
#include <string>

namespace patroxy::proxy::stats {

/// Which rows to write, as the runtime API's `show stat <proxy> <type> <sid> [up] [no-maint]`
/// selects them. The default writes every row (/stats.csv).
struct csv_filter {
    std::optional<std::size_t> listener; ///< only this one (index into view.listeners, iid - 1)
    unsigned types = 7;                  ///< HAProxy's <type> mask: 1 FRONTEND, 2 BACKEND, 4 servers
    std::optional<std::size_t> server;   ///< only the server with this sid (1-based)
    bool hide_down = false;  ///< "up": leave out servers in MAINT and those not routable here
    bool hide_maint = false; ///< "no-maint": leave out servers in MAINT
};

/// HAProxy's columns pxname .. uweight in HAProxy's order (a column patroxy has no value for is
/// left empty, as HAProxy leaves the ones that do not apply to a row), then patroxy's own:
/// pg_role, pg_state, pg_timeline, pg_lag_bytes, admin, killed. Lines end with a comma, as
/// HAProxy's do.
[[nodiscard]] std::string render_csv(const stats_view& view, const csv_filter& filter = {});

} // namespace patroxy::proxy::stats
