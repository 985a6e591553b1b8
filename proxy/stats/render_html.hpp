// GET /: the stats page an operator moving off HAProxy's :8404 expects. One self-contained HTML
// page (inline CSS, no JavaScript, auto-refresh): a header line, a `patronictl list`-like
// cluster panel with the current incidents, the recent events, then one table per listener in
// HAProxy's layout with Patroni's columns added, and HAProxy's colour legend.
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <string>
#include <string_view>

namespace patroxy::proxy::stats {

/// The whole page. Every string from the view is escaped; bytes and durations in human units.
[[nodiscard]] std::string render_html(const stats_view& view);

/// The CSS class of a server row, naming its state in HAProxy's legend: "active_up",
/// "active_going_down", "active_going_up", "active_down", "backup_up", "backup_going_down",
/// "backup_going_up", "backup_down", "maint", "drain" or "no_check". A member whose checks say
/// UP but that is not eligible on the listener (wrong role, over max_lag) reads as DOWN there,
/// as it would on HAProxy, whose per-listener check (`GET /replica`) would fail.
[[nodiscard]] std::string_view server_row_class(const server_row& server) noexcept;

/// The CSS class of a cluster-panel row, from the member's check status alone.
[[nodiscard]] std::string_view member_row_class(const cluster_member& member) noexcept;

} // namespace patroxy::proxy::stats
