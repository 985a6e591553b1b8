// The haproxy.cfg drop-in: an operator's HAProxy configuration for a Patroni cluster read into
// patroxy's native, validated config, so `patroxy -f /etc/haproxy/haproxy.cfg` runs as it is.
#pragma once

#include "config/config.hpp"
#include "config/haproxy/tokenizer.hpp"

#include <string>
#include <string_view>

namespace patroxy::config::haproxy {

/// Whether `text` is HAProxy syntax rather than JSON, by content: its first line that is neither
/// blank nor a comment starts with a section keyword (global, defaults, listen, frontend,
/// backend, resolvers, userlist, peers, …). JSON starts with '{'.
[[nodiscard]] bool looks_like_haproxy(std::string_view text);

/// Reads haproxy.cfg text. Errors are config_error{path = "file:line", message} (all of them,
/// not the first); warnings, one per line read without effect, are "file:line: why". Double-
/// quoted ${NAME} and addresses' $NAME come from `env`.
[[nodiscard]] load_result parse_haproxy_config(std::string_view text, const std::string& file_name,
                                               const env_lookup& env = process_env);

} // namespace patroxy::config::haproxy
