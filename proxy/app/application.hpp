// The running proxy: binds the listeners, owns the workers and the control loop (signals,
// snapshots), and stops cleanly.
#pragma once

#include "config/config.hpp"

namespace patroxy::proxy {

/// Runs patroxy with a validated config until SIGTERM/SIGINT. Returns the process exit code:
/// 0 after a clean stop, 1 when a listener cannot bind or no snapshot can be built.
int run_proxy(const config::config& cfg);

} // namespace patroxy::proxy
