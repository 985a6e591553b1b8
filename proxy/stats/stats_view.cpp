#include "proxy/stats/stats_view.hpp"

namespace patroxy::proxy::stats {

std::optional<admin_state> parse_admin_state(std::string_view text) noexcept
{
    for (auto s : {admin_state::ready, admin_state::drain, admin_state::maint})
        if (text == to_string(s)) return s;
    return std::nullopt;
}

} // namespace patroxy::proxy::stats
