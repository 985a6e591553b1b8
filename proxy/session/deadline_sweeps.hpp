// The deadlines of all of a worker's sessions, kept by two timers per worker instead of one (or
// several) per session. A timer per session would keep a pending wait and a slot in Asio's timer
// heap for every idle session, the very sessions an application's pool holds by the thousand;
// and a session that connects, asks one query and leaves would arm and cancel two of them (a
// timerfd_settime() and a completion each). A sweep costs a walk over its list now and then,
// and nothing while the list is empty.
//
//   idle sweep   every live session; the relay's idle deadlines and a final error's
//                (client_session::check_deadlines). Often enough for the idle timeouts.
//   setup sweep  the sessions in startup or connect; the startup deadline and each connect
//                step's (client_session::check_setup_deadline). Often enough for those
//                timeouts, which are seconds where the idle ones are minutes.
#pragma once

#include "config/config.hpp"

namespace patroxy::proxy {

class worker;

/// Makes sure `owner` sweeps its live sessions' idle deadlines, at an interval fine enough for
/// `timeouts`. Call on `owner`'s thread when a relay starts; the sweep stops by itself once the
/// worker has no live session.
void watch_idle_deadlines(worker& owner, const config::timeouts& timeouts);

/// The same for the setup sessions' deadlines. Call on `owner`'s thread when a session joins
/// owner.setup_sessions(); the sweep stops by itself once none is left.
void watch_setup_deadlines(worker& owner, const config::timeouts& timeouts);

} // namespace patroxy::proxy
