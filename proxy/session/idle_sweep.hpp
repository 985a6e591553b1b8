// The relay's idle deadlines for all of a worker's sessions, kept by one timer per worker.
// A timer per session would keep a pending wait (and a slot in Asio's timer heap) for every
// idle session, the very sessions an application's pool holds by the thousand; the sweep costs
// a walk over the live sessions a few times a second at most, and nothing while none are live.
#pragma once

#include "config/config.hpp"

namespace patroxy::proxy {

class worker;

/// Makes sure `owner` sweeps its sessions' deadlines (client_session::check_deadlines), at an
/// interval fine enough for `timeouts`. Call on `owner`'s thread when a relay starts; the
/// sweep stops by itself once the worker has no live session.
void watch_idle_deadlines(worker& owner, const config::timeouts& timeouts);

} // namespace patroxy::proxy
