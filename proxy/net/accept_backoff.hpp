// What an accept loop does while accepts fail: out of file descriptors (EMFILE, ENFILE) or
// socket memory (ENOBUFS, ENOMEM). The waiting connection stays in the kernel's backlog and the
// listener stays readable, so trying again at once would spin on the same error; instead the loop
// pauses, longer each time up to a cap, and tries again. The pause is logged once when it starts
// and once when an accept works again, and counted, instead of a line per failed try.
#pragma once

#include "proxy/net/io_types.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

namespace patroxy::proxy {

/// The back-off of one accept loop (one listener on one worker). Used on that worker's thread only.
class accept_backoff {
public:
    /// The first retry after a failure; each next one waits twice as long, up to `longest_wait`.
    static constexpr std::chrono::milliseconds first_wait{10};
    /// Long enough that a paused listener costs nothing (two wakeups a second), short enough that
    /// accepts resume within half a second of descriptors being free again.
    static constexpr std::chrono::milliseconds longest_wait{500};

    /// `who` prefixes the log lines ("listener=primary worker=0"); `pauses` counts the pauses.
    accept_backoff(std::string who, std::atomic<std::uint64_t>& pauses) : who_(std::move(who)), pauses_(pauses) {}

    /// After a failed accept: starts a pause (logged and counted) unless one is under way, then
    /// waits before the next try.
    task<void> wait(std::error_code failure);

    /// After an accept that worked: ends the pause, if any, with a log line saying how long it was.
    void succeeded();

    [[nodiscard]] bool paused() const noexcept { return failures_ > 0; }

private:
    std::string who_;
    std::atomic<std::uint64_t>& pauses_;
    unsigned failures_ = 0; ///< failed tries in the current pause; 0 = not paused
    std::chrono::steady_clock::time_point since_{};
};

/// The wait after `failures` failed tries in a row (1 = the first): first_wait doubled each time,
/// at most longest_wait.
[[nodiscard]] std::chrono::milliseconds accept_backoff_wait(unsigned failures) noexcept;

} // namespace patroxy::proxy
