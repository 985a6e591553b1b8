// The global and resolvers sections: the process-wide limit, the runtime API socket (`stats
// socket`), and how often host names are resolved again (`hold valid`). Everything else there
// tunes or places the HAProxy process and is named in a warning.
#pragma once

#include "config/config.hpp"
#include "config/haproxy/report.hpp"
#include "config/haproxy/sections.hpp"
#include "config/haproxy/tokenizer.hpp"
#include "config/haproxy/values.hpp"

#include <map>
#include <optional>
#include <string>

namespace patroxy::config::haproxy {

struct global_settings {
    std::optional<located<std::uint32_t>> maxconn;
    std::optional<located<admin_socket_settings>> admin_socket; ///< the first Unix `stats socket`
    std::optional<located<duration>> stats_timeout;
};

/// Reads a global section into `g` (HAProxy merges several global sections, and so does this).
void read_global(const section& s, global_settings& g, const env_lookup& env, report& r);

/// A resolvers section: what patroxy takes from it is how long an answer holds.
struct resolvers_settings {
    /// `hold valid`, HAProxy's default 10s when the section does not say, located at the section
    /// line then.
    located<duration> hold_valid;
};

/// Reads a resolvers section into `out[s.name]`; a second section of the same name is an error.
void read_resolvers(const section& s, std::map<std::string, resolvers_settings>& out, report& r);

} // namespace patroxy::config::haproxy
