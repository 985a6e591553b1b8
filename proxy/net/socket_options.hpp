// The options of every relayed socket, set where they cost least: on each listening socket once
// (Linux copies a listener's TCP options into each connection it accepts) and on each server
// socket when it is opened.
#pragma once

#include <system_error>

namespace patroxy::proxy {

/// TCP_NODELAY (a relayed message goes out at once, not after the previous one's ACK) and
/// TCP_INQ (each read says what is still queued, so drained_reads.hpp knows a socket is empty
/// without asking it once more). `fd` is a TCP socket, listening or connected. A kernel
/// without TCP_INQ (before 4.18) costs an EAGAIN recv() per read, not correctness: that error
/// is ignored; a failed TCP_NODELAY is returned.
std::error_code set_relay_options(int fd) noexcept;

} // namespace patroxy::proxy
