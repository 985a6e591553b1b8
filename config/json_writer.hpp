// config -> native JSON text, the inverse of parse.cpp: `patroxy --print-config` shows what a
// haproxy.cfg became, in the format an operator can move to.
#pragma once

#include "config/config.hpp"

#include <string>

namespace patroxy::config {

/// The native JSON text of `c`, in the format parse_config() reads: 2-space indent, keys in the
/// order the reader reads them, and keys whose value is the default left out so the result reads
/// like a hand-written file (cluster members, and each listener's name, bind and role or servers,
/// are always there). For every `c` that parse_config() can produce (any valid config),
/// parse_config(to_json_text(c)) gives back a config equal to `c`. Passwords are printed.
[[nodiscard]] std::string to_json_text(const config& c);

} // namespace patroxy::config
