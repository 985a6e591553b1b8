// haproxy.cfg sections into patroxy's config: defaults inherited, frontends joined to their
// backends, listeners, the stats page, the members, and the settings patroxy has once.
#pragma once

#include "config/config.hpp"
#include "config/haproxy/report.hpp"
#include "config/haproxy/sections.hpp"
#include "config/haproxy/tokenizer.hpp"

#include <optional>
#include <vector>

namespace patroxy::config::haproxy {

/// The config the sections describe; errors and warnings go to `r`. The result is meaningful
/// only when `r` has no errors.
[[nodiscard]] config translate(const std::vector<section>& sections, const env_lookup& env, report& r);

} // namespace patroxy::config::haproxy
