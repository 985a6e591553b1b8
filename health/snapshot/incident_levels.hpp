// How loud each routing incident is. A planned switchover's normal steps (the DCS leader
// "stopping", no leader lock for a moment, the new leader still in recovery) are warnings: they
// happen in every switchover and need nobody. An error is for what needs a person: two members
// claiming primary, or writes with nowhere to go for longer than an election takes.
#pragma once

#include "health/cluster_snapshot.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace patroxy::health {

/// "warning" or "error", the level of the line logged when `kind` first appears.
[[nodiscard]] std::string_view incident_level(incident_kind kind) noexcept;

/// A line for the log: level ("info", "warning", "error") and text.
struct level_line {
    std::string level;
    std::string text;
};

/// Watches whether writes have a primary to go to, and says so once when they have had none for
/// longer than `alarm_after` (error), and once when a primary is routable again after that (info).
class primary_outage {
public:
    using clock = std::chrono::steady_clock;

    explicit primary_outage(clock::duration alarm_after) : alarm_after_(alarm_after) {}

    /// Feeds one snapshot's verdict at `now`; `why` lists its incidents for the error line.
    [[nodiscard]] std::optional<level_line> observe(bool has_primary, clock::time_point now, std::string_view why);
    /// A reload may change the threshold; an outage under way keeps its start.
    void set_alarm_after(clock::duration alarm_after) noexcept { alarm_after_ = alarm_after; }

private:
    clock::duration alarm_after_;
    std::optional<clock::time_point> since_; ///< no primary since then
    bool alarmed_ = false;                   ///< the error line for this outage went out
};

} // namespace patroxy::health
