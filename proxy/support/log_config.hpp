// The config's `log` object applied to the line logger (level, format); log.sessions is the
// sessions' own switch (session_env::log_sessions).
#pragma once

#include "config/config.hpp"
#include "proxy/support/log.hpp"

namespace patroxy::proxy {

[[nodiscard]] constexpr log_level to_log_level(config::log_level level) noexcept
{
    switch (level) {
    case config::log_level::debug: return log_level::debug;
    case config::log_level::info: return log_level::info;
    case config::log_level::warning: return log_level::warning;
    case config::log_level::error: return log_level::error;
    }
    return log_level::info;
}

/// Applies log.level (unless the command line pinned one) and log.format, at start and on reload.
inline void apply_log_config(const config::log_settings& settings) noexcept
{
    set_configured_log_level(to_log_level(settings.level));
    set_log_format(settings.format == config::log_format::json ? log_format::json : log_format::text);
}

} // namespace patroxy::proxy
