// The texts of the runtime API's `show info`, `show servers state` and `show sess`, in HAProxy
// 2.6's formats (management guide 9.3), from a stats view and the runtime facts. `show stat` is
// proxy/stats/render_csv, the same CSV as the stats listener's /stats.csv.
#pragma once

#include "proxy/admin/runtime_facts.hpp"
#include "proxy/stats/stats_view.hpp"

#include <optional>
#include <string>
#include <vector>

namespace patroxy::proxy::admin {

/// "Name: value" lines for the fields of HAProxy's `show info` that have a value in patroxy, with
/// HAProxy's names and in its order: Name, Version, Nbthread, Nbproc, Process_num, Pid, Uptime,
/// Uptime_sec, Ulimit-n, Maxconn, CurrConns, CumConns, ConnRate, SessRate, node, Stopping,
/// Listeners, TotalBytesOut, Start_time_sec.
[[nodiscard]] std::string render_info(const stats::stats_view& view, const process_info& process);

/// HAProxy's `show servers state` format "1": the version line, the "# be_id be_name ..." header
/// and one line per member of each listener (of listener `only`, an index into view.listeners,
/// when set). Columns patroxy has no counterpart for hold HAProxy's neutral values (0 or "-").
[[nodiscard]] std::string render_servers_state(const stats::stats_view& view, std::optional<std::size_t> only = {});

/// One line per session, HAProxy's `show sess` line as far as it applies:
/// "0x1f: proto=tcpv4 src=127.0.0.1:47900 fe=primary be=primary srv=node1 age=2m54s user=app db=app".
/// `user` and `db` are patroxy's (from the StartupMessage), left out before it is read.
[[nodiscard]] std::string render_sessions(const std::vector<session_row>& sessions);

/// HAProxy's human_time(), as `show sess` writes ages: at most two units, zero ones skipped and
/// none padded: "0s", "45s", "2m5s", "2m", "1h5s", "3d4h" (stats::format_duration, for the page,
/// pads the second unit: "2m05s"; scripts read the CLI, so it keeps HAProxy's exact text).
[[nodiscard]] std::string human_time(std::chrono::seconds d);

/// HAProxy's Uptime field: "0d 0h00m10s".
[[nodiscard]] std::string format_uptime(std::chrono::seconds uptime);

} // namespace patroxy::proxy::admin
