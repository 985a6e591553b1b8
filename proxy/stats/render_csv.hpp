// GET /stats.csv: HAProxy's "show stat" CSV (management guide 9.1, HAProxy 2.6), so that tools
// written for HAProxy's stats keep working. Each listener reads as one HAProxy `listen`
// section: a FRONTEND row (type 0), one row per server (type 2), a BACKEND row (type 1).
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <string>

namespace patroxy::proxy::stats {

/// HAProxy's columns pxname .. uweight in HAProxy's order (a column patroxy has no value for is
/// left empty, as HAProxy leaves the ones that do not apply to a row), then patroxy's own:
/// pg_role, pg_state, pg_timeline, pg_lag_bytes, admin, killed. Lines end with a comma, as
/// HAProxy's do.
[[nodiscard]] std::string render_csv(const stats_view& view);

} // namespace patroxy::proxy::stats
