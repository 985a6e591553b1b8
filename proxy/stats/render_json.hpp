// GET /stats.json: everything the stats page shows, for programs. Field names are the
// stats_view member names; durations are integer seconds (`*_s`) or milliseconds (`*_ms`),
// unknown optionals are null, moments are RFC 3339 UTC.
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <string>

namespace patroxy::proxy::stats {

/// The view as one JSON object (compact, UTF-8).
[[nodiscard]] std::string render_json(const stats_view& view);

} // namespace patroxy::proxy::stats
