// What /proc says about a process the tests started: resident memory, CPU time, descriptors. For
// the tests that bound patroxy's memory and CPU under stress (exhaustion, storms).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include <sys/types.h>

namespace patroxy::test {

/// Resident set size in kB (VmRSS), or nullopt when the process is gone.
[[nodiscard]] std::optional<std::size_t> rss_kb(pid_t pid);

/// User plus system CPU time used so far (utime + stime of /proc/PID/stat).
[[nodiscard]] std::optional<std::chrono::milliseconds> cpu_time(pid_t pid);

/// The highest open descriptor number, or nullopt when /proc/PID/fd cannot be read.
[[nodiscard]] std::optional<int> highest_fd(pid_t pid);

} // namespace patroxy::test
