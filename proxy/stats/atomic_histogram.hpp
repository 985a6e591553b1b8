// A latency histogram that sessions on any worker record into without locks: fixed bucket bounds,
// one relaxed atomic per bucket. The stats listener reads it as a histogram_view. Recording is
// per session (a connect, a queue wait), never per message.
#pragma once

#include "proxy/stats/stats_view.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace patroxy::proxy::stats {

class atomic_histogram {
public:
    /// `bounds`: ascending upper bounds in seconds; +Inf is implied.
    explicit atomic_histogram(std::initializer_list<double> bounds);
    atomic_histogram(const atomic_histogram&) = delete;
    atomic_histogram& operator=(const atomic_histogram&) = delete;

    void observe(std::chrono::nanoseconds value) noexcept;

    [[nodiscard]] histogram_view view() const;

private:
    std::vector<double> bounds_;
    std::vector<std::atomic<std::uint64_t>> counts_; ///< bounds_.size() + 1
    std::atomic<std::uint64_t> sum_ns_{0};
};

/// Bucket bounds for a backend connect (loopback: well under a millisecond; a WAN: tens of ms).
inline constexpr std::initializer_list<double> connect_time_bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                                      0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                                      1,      2.5,     5};
/// Bucket bounds for time spent queued (a failover takes a fraction of a second to tens of seconds).
inline constexpr std::initializer_list<double> queue_wait_bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                    1,     2.5,  5,     10,   30,  60};
/// Bucket bounds for a GET /patroni check.
inline constexpr std::initializer_list<double> check_duration_bounds = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                        0.05,  0.1,    0.25,  0.5,  1,     2.5};

} // namespace patroxy::proxy::stats
