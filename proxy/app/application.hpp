// The running proxy: binds the listeners, owns the workers and the control loop (signals,
// snapshots, the stats listener), reloads on SIGHUP and stops cleanly.
#pragma once

#include "config/config.hpp"

#include <string>

namespace patroxy::proxy {

/// Runs patroxy with a validated config (read from `config_path`, which SIGHUP reads again)
/// until SIGTERM/SIGINT. Returns the process exit code: 0 after a clean stop, 1 when a listener
/// cannot bind.
int run_proxy(const config::config& cfg, const std::string& config_path);

} // namespace patroxy::proxy
