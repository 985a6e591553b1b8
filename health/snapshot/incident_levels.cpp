#include "health/snapshot/incident_levels.hpp"

namespace patroxy::health {
namespace {

std::string seconds_text(primary_outage::clock::duration d)
{
    return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

} // namespace

std::string_view incident_level(incident_kind kind) noexcept
{
    switch (kind) {
    // Split brain: writes are held back, and only a person can say which member is right.
    case incident_kind::several_primaries: return "error";
    // The rest are steps of a switchover or a failover (or of a DCS or API hiccup) that Patroni
    // resolves on its own; if it does not, primary_outage escalates.
    case incident_kind::no_dcs_view:
    case incident_kind::no_dcs_leader:
    case incident_kind::dcs_leader_unknown:
    case incident_kind::dcs_leader_down:
    case incident_kind::dcs_leader_not_primary:
    case incident_kind::primary_not_dcs_leader:
    case incident_kind::sql_check_disagrees:
    case incident_kind::no_address: return "warning";
    }
    return "warning";
}

std::optional<level_line> primary_outage::observe(bool has_primary, clock::time_point now, std::string_view why)
{
    if (has_primary) {
        if (!since_) return std::nullopt;
        const auto lasted = now - *since_;
        const bool was_alarmed = alarmed_;
        since_.reset();
        alarmed_ = false;
        if (!was_alarmed) return std::nullopt;
        return level_line{"info", "a primary is routable again after " + seconds_text(lasted) + " without one"};
    }
    if (!since_) since_ = now;
    if (alarmed_ || now - *since_ < alarm_after_) return std::nullopt;
    alarmed_ = true;
    std::string text = "no primary routable for " + seconds_text(now - *since_) + ", longer than " +
                       seconds_text(alarm_after_) + " (log.no_primary_alarm)";
    if (!why.empty()) text += ": " + std::string(why);
    return level_line{"error", std::move(text)};
}

} // namespace patroxy::health
