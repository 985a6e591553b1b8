// GET /metrics: the view as Prometheus text (exposition format 0.0.4), built with prometheus-cpp
// in a fresh registry per scrape. The view's counters are totals that never go backwards, so
// the counters set from them never do either.
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <string>

namespace patroxy::proxy::stats {

/// Every patroxy_* family (see README "Metrics"), serialized by prometheus::TextSerializer.
[[nodiscard]] std::string render_metrics(const stats_view& view);

} // namespace patroxy::proxy::stats
